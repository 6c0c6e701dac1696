#!/bin/sh
# make docker-check: the Docker image, built and run on an engine of its
# own that has no bridge network (dockerd --bridge=none --iptables=false
# --ip-masq=false, its own --data-root and socket under DOCKER_CHECK_DIR):
# containers use --network host, so nothing leaves loopback but the
# build's apt-get. No registry is needed: debian:bookworm-slim is made
# locally (mmdebstrap minbase, slimmed as the official image is, then
# docker import). Checks: build, serve, the README's walkthrough against
# the container, HEALTHCHECK healthy, restart keeps users and keys on the
# volume, the CLI on the volume, uid 10001, SIGTERM exits 0; reports the
# image size.
# Then the README's Quick start in a debian:12 image made the same way: the first
# command until /healthz answers and SIGINT; the second with
# DOCKER_CHECK_TESTS=1.
# Knobs: DOCKER_CHECK_DIR (default a new /tmp/kg-docker.*), DOCKER_CHECK_KEEP=1.
set -eu

die() { echo "docker-check: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (dockerd, mmdebstrap)"
for t in dockerd docker mmdebstrap python3 curl git; do
	command -v $t >/dev/null || die "needs $t (apt-get install docker.io mmdebstrap python3 curl git)"
done
top=$(git rev-parse --show-toplevel)
head=$(git -C "$top" rev-parse HEAD)
dir=${DOCKER_CHECK_DIR:-$(mktemp -d /tmp/kg-docker.XXXXXX)}
mkdir -p "$dir"
export DOCKER_HOST="unix://$dir/docker.sock" DOCKER_BUILDKIT=0 LC_ALL=C
name=kg-check-$$
img=keygate:check-$$
vol=kg-check-data-$$
now() { date +%s; }

stop_engine() {
	[ -f "$dir/docker.pid" ] || return 0
	docker rm -f $name kg-qs-$$-run kg-qs-$$-test >/dev/null 2>&1 || true
	pid=$(cat "$dir/docker.pid")
	kill "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
	# Whatever the engine left mounted under its root (never the host's).
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" || true
	done
}
cleanup() {
	rc=$?
	[ $rc = 0 ] || { echo "docker-check: engine log (last 20 lines):"; tail -n 20 "$dir/dockerd.log" 2>/dev/null; }
	stop_engine
	if [ "${DOCKER_CHECK_KEEP:-}" = 1 ]; then echo "docker-check: kept $dir"; else rm -rf --one-file-system "$dir"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(now)
echo "== dockerd --bridge=none --iptables=false --ip-masq=false (root $dir)"
dockerd --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
	--data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
	-H "$DOCKER_HOST" >"$dir/dockerd.log" 2>&1 &
i=0
until docker version >/dev/null 2>&1; do
	[ $i -lt 120 ] || die "dockerd did not answer; see $dir/dockerd.log"
	sleep 0.5
	i=$((i + 1))
done
networks=$(docker network ls --format '{{.Name}}' | sort | tr '\n' ' ')
echo "== engine up; networks: $networks(no bridge)"
case " $networks" in *" bridge "*) die "the engine has a bridge network" ;; esac

echo "== debian:bookworm-slim and debian:12 from mmdebstrap minbase (as the official images)"
# The official image's apt setting: no package caches kept in a layer.
rmcache='rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true'
DOCKER_CLEAN="DPkg::Post-Invoke { \"$rmcache\"; };
APT::Update::Post-Invoke { \"$rmcache\"; };
Dir::Cache::pkgcache \"\";
Dir::Cache::srcpkgcache \"\";
Acquire::Languages \"none\";"
export DOCKER_CLEAN
mmdebstrap --variant=minbase --quiet --format=tar \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
	--customize-hook='printf "%s\n" "$DOCKER_CLEAN" >"$1/etc/apt/apt.conf.d/docker-clean"' \
	--customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
	bookworm "$dir/base.tar" http://deb.debian.org/debian
docker import --change 'CMD ["bash"]' "$dir/base.tar" debian:bookworm-slim >/dev/null
rm -f "$dir/base.tar"
# debian:12 for the Quick start: the same without slim's path excludes (the
# tests render the man page: groff's files are among them).
mmdebstrap --variant=minbase --quiet --format=tar \
	--customize-hook='printf "%s\n" "$DOCKER_CLEAN" >"$1/etc/apt/apt.conf.d/docker-clean"' \
	--customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
	bookworm "$dir/base.tar" http://deb.debian.org/debian
docker import --change 'CMD ["bash"]' "$dir/base.tar" debian:12 >/dev/null
rm -f "$dir/base.tar"
t1=$(now)
base=$(docker image inspect -f '{{.Size}}' debian:bookworm-slim)
echo "== base image made in $((t1 - t0)) s: $((base / 1000000)) MB"

echo "== docker build (commit $head, the committed tree)"
git -C "$top" archive --format=tar HEAD | docker build --network host -q -t "$img" - >"$dir/build.id" ||
	die "docker build failed"
t2=$(now)
size=$(docker image inspect -f '{{.Size}}' "$img")
echo "== built in $((t2 - t1)) s: $((size / 1000000)) MB, $(((size - base) / 1000000)) MB over the base"
pkgs() { docker run --rm --network none --entrypoint dpkg-query "$1" -W -f '${Installed-Size}\t${Package}\n' | sort -k2; }
pkgs debian:bookworm-slim >"$dir/base.pkgs"
pkgs "$img" >"$dir/img.pkgs"
echo "   the runtime stage's packages over the base, largest first (KiB installed):"
join -1 2 -2 2 -v 1 "$dir/img.pkgs" "$dir/base.pkgs" | awk '{ print $2 "\t" $1 }' | sort -rn |
	awk '{ t += $1; if (NR <= 12) printf "   %7d %s\n", $1, $2 } END { printf "   %7d KiB in all, %d packages\n", t, NR }'

# Ports: free ones on loopback (the network is the host's).
in_use() {
	awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
port=18800
while in_use $port || in_use $((port + 1)); do port=$((port + 2)); done
admin=$((port + 1))

run_server() {
	docker run -d --name $name --network host -v $vol:/var/lib/keygate \
		-e KEYGATE_SERVER_LISTEN=127.0.0.1:$port -e KEYGATE_SERVER_ADMIN_LISTEN=127.0.0.1:$admin \
		"$img" >/dev/null
}
wait_http() {
	i=0
	until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
		[ $i -lt 100 ] || { docker logs $name 2>&1 | tail -n 20; die "no /healthz on $port"; }
		[ "$(docker inspect -f '{{.State.Running}}' $name)" = true ] || { docker logs $name 2>&1 | tail -n 20; die "the container exited"; }
		sleep 0.2
		i=$((i + 1))
	done
}
echo "== docker run --network host -v $vol:/var/lib/keygate (listen 127.0.0.1:$port, metrics $admin)"
run_server
wait_http
echo "== serving; README walkthrough against the container:"
python3 "$top/tests/http/test_readme.py" $port || die "the walkthrough failed against the container"

echo "== HEALTHCHECK (keygate healthcheck every 10 s):"
i=0
while :; do
	h=$(docker inspect -f '{{.State.Health.Status}}' $name)
	[ "$h" = healthy ] && break
	[ "$h" != unhealthy ] && [ $i -lt 60 ] || die "health is $h"
	sleep 1
	i=$((i + 1))
done
echo "   healthy after $i s of waiting"

# From the host's /proc: the container's main process itself (the image
# need not hold an id command).
pid=$(docker inspect -f '{{.State.Pid}}' $name)
uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)
echo "== runs as uid $uid (USER $(docker image inspect -f '{{.Config.User}}' "$img"); PID 1 of the container: $(cat /proc/$pid/comm))"
[ "$uid" = 10001 ] || die "runs as uid $uid, want 10001"

echo "== docker restart (SIGTERM, then a new start on the same volume)"
docker restart -t 30 $name >/dev/null
wait_http
tokens=$(curl -s -X POST http://127.0.0.1:$port/users/login/ -H 'Content-Type: application/json' \
	-d '{"username":"alice","password":"correct-horse-9"}')
access=$(echo "$tokens" | sed -n 's/.*"access":"\([^"]*\)".*/\1/p')
login=$([ -n "$access" ] && echo ok || echo "refused: $tokens")
key=$(curl -s http://127.0.0.1:$port/users/api_key/get/ -H "Authorization: Bearer $access" |
	sed 's/.*"key":"\([^"]*\)".*/\1/')
books=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/books/ -H "Authorization: $key")
echo "   after restart: login $login, the kept key on GET /books/: $books (the throttle window is new: /dev/shm is the container's)"
[ "$login" = ok ] && [ "$books" = 200 ] || die "users or keys lost across the restart"

echo "== the CLI on the volume (a second container, no network):"
docker run --rm --network none -v $vol:/var/lib/keygate "$img" user list | tee "$dir/users"
grep -q ' alice ' "$dir/users" || die "the CLI does not see alice"

echo "== docker stop (SIGTERM)"
t3=$(now)
docker stop -t 30 $name >/dev/null
t4=$(now)
code=$(docker inspect -f '{{.State.ExitCode}}' $name)
echo "   exit code $code after $((t4 - t3)) s; last log lines:"
docker logs $name 2>&1 | tail -n 3 | cut -c1-150
[ "$code" = 0 ] || die "SIGTERM: exit $code, want 0"

# The README's Quick start in the debian:12 image as well (nothing
# installed: no make, no compiler, no curl), the committed tree fed in as
# a tarball, the host's own CAs handed over (npm's TLS, on an intercepting
# network). The first command until /healthz
# answers, then SIGINT to it (PID 1: keygate, exec'd by bootstrap.sh);
# with DOCKER_CHECK_TESTS=1 the second too (CAP_SYS_ADMIN, no seccomp
# filter: tests mount tmpfs; not --privileged, which wants every capability).
qs=kg-qs-$$
quickstart() { # step, extra docker run options...
	step=$1
	shift
	git -C "$top" archive --format=tar HEAD | docker run -i --name $qs-$step --network host "$@" \
		-e KEYGATE_SERVER_LISTEN=127.0.0.1:$qport -e KEYGATE_SERVER_ADMIN_LISTEN=127.0.0.1:$qadmin \
		-v /usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro \
		debian:12 sh -c "mkdir /root/keygate && cd /root/keygate && tar -x && exec sh bootstrap.sh $step"
}
qport=$((port + 2))
while in_use $qport || in_use $((qport + 1)); do qport=$((qport + 2)); done
qadmin=$((qport + 1))
echo "== Quick start in a debian:12 container: sh bootstrap.sh run (listen 127.0.0.1:$qport)"
t5=$(now)
quickstart run >"$dir/qs-run.log" 2>&1 &
qpid=$!
i=0
until curl -sf "http://127.0.0.1:$qport/healthz" >/dev/null; do
	[ $i -lt 1200 ] || { tail -n 20 "$dir/qs-run.log"; die "no /healthz from the Quick start"; }
	sleep 0.5
	i=$((i + 1))
done
t6=$(now)
grep -m 1 '^deps: installing' "$dir/qs-run.log" | cut -c1-150
echo "   $(grep -c '^Setting up' "$dir/qs-run.log") packages set up, built, /healthz answered after $((t6 - t5)) s; SIGINT"
docker kill -s INT $qs-run >/dev/null
code=$(docker wait $qs-run)
wait $qpid || true # (not a bare wait: dockerd is a child too)
tail -n 2 "$dir/qs-run.log" | cut -c1-150
docker rm $qs-run >/dev/null
[ "$code" = 0 ] || die "sh bootstrap.sh run exited $code after SIGINT (want 0)"
echo "   exit 0"
if [ "${DOCKER_CHECK_TESTS:-}" = 1 ]; then
	echo "== Quick start in a debian:12 container: sh bootstrap.sh test"
	t6=$(now)
	quickstart test --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined --shm-size=2g >"$dir/qs-test.log" 2>&1 || true
	t7=$(now)
	last=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$dir/qs-test.log" | tail -n 1)
	grep -E "^(FAILED|ERROR) " "$dir/qs-test.log" | head -n 10
	[ -n "$last" ] || tail -n 20 "$dir/qs-test.log"
	echo "   $last, $((t7 - t6)) s"
	docker rm $qs-test >/dev/null
	echo "$last" | grep -q ' 0 failed$' || die "the tests did not all pass in the container"
fi

gz=$(docker save "$img" | gzip -1 | wc -c)
echo "== docker-check passed in $(($(now) - t0)) s: image $((size / 1000000)) MB" \
	"($(((size - base) / 1000000)) MB over a $((base / 1000000)) MB base; $((gz / 1000000)) MB as a gzip'd docker save)"
