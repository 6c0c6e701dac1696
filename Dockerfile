# keygate in a container: build and unit-test in one stage, run from a
# slim stage that holds only the runtime libraries, the binary and the
# example config.
#   docker build -t keygate .
#   docker run -p 8000:8000 -v keygate-data:/var/lib/keygate keygate
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libmicrohttpd-dev libsqlite3-dev libjansson-dev uuid-dev libjwt-dev \
      libsodium-dev libinih-dev libhiredis-dev libpq-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The unit tests run here; the black-box suite needs the tools of `make test`.
RUN make all unit \
 && for t in build/tests/test_*; do case "$t" in *.d) ;; *) "$t" || exit 1 ;; esac; done

FROM debian:bookworm-slim
# The runtime libraries (tests/http/test_docker.py checks this list against
# what the binary links): about 12 MiB installed. apt's caches go in the
# same layer: the downloaded .debs and pkgcache.bin/srcpkgcache.bin are
# some 80 MB that a base without the official image's docker-clean apt
# setting would otherwise keep in the layer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libsqlite3-0 libjansson4 libuuid1 libjwt0 libsodium23 libinih1 libhiredis0.14 libpq5 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/keygate --no-create-home \
      --shell /usr/sbin/nologin keygate \
 && install -d -o keygate -g keygate -m 0700 /var/lib/keygate
COPY --from=build /src/build/keygate /usr/local/bin/keygate
COPY --from=build /src/config.example.ini /etc/keygate/keygate.ini.example
# Configured by environment only (KEYGATE_<SECTION>_<KEY>); listens on all
# addresses inside the container. The JWT secret: a Docker secret through
# KEYGATE_AUTH_JWT_SECRET_FILE=/run/secrets/..., or generated into the
# volume on first start.
ENV KEYGATE_SERVER_LISTEN=0.0.0.0:8000 \
    KEYGATE_SERVER_ADMIN_LISTEN=0.0.0.0:9100 \
    KEYGATE_SERVER_DATA_DIR=/var/lib/keygate
USER keygate
VOLUME /var/lib/keygate
EXPOSE 8000 9100
# slim has no curl: keygate asks itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/keygate", "healthcheck"]
# keygate handles SIGTERM itself (it runs as PID 1: no default action).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/keygate"]
CMD ["serve"]
