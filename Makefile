# keygate — GNU Makefile. Knobs: SANITIZE=address,undefined|thread, DEBUG=1,
# PREFIX, DESTDIR, BUILD (output directory).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BUILD   ?= build
CC      ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

LIBS_PC := libmicrohttpd sqlite3 jansson uuid libjwt libsodium inih hiredis libpq

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wsign-compare \
	-Wformat=2 -Wvla -Wundef
HARDEN := -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Iinclude -I$(BUILD) $(WARN) \
	-DKEYGATE_VERSION='"$(VERSION)"' -MMD -MP

ifdef DEBUG
OPT := -O0 -g3
else
OPT := -O2 -g
endif
ifdef SANITIZE
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE)
HARDEN := -fstack-protector-strong -fPIE
ifneq (,$(findstring undefined,$(SANITIZE)))
OPT += -fno-sanitize-recover=undefined
endif
endif

CFLAGS  ?=
CFLAGS  += $(CFLAGS_BASE) $(OPT) $(HARDEN) $(shell $(PKG_CONFIG) --cflags $(LIBS_PC) 2>/dev/null) $(EXTRA_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now $(if $(SANITIZE),-fsanitize=$(SANITIZE))
LDLIBS  += $(shell $(PKG_CONFIG) --libs $(LIBS_PC) 2>/dev/null) -lpthread

# The request path, in order, is readable off this list.
CORE_SRC := src/log.c src/log_escape.c src/log_access.c src/textbuf.c src/fifo_lock.c src/parse.c src/addr.c src/config.c src/secret.c \
	src/apikey.c src/keycache.c src/token.c src/password.c src/validate.c \
	src/store.c src/store_sqlite.c src/store_sqlite_users.c src/store_sqlite_books.c src/store_epoch.c src/store_pg.c src/store_pg_listen.c \
	src/migrate.c src/throttle.c src/throttle_window.c src/throttle_shm.c src/throttle_shm_segment.c src/throttle_redis.c src/client_ip.c \
	src/http_request.c src/http_reply.c src/http_accept.c src/http_linger.c src/http_server.c \
	src/router.c src/pipeline.c src/mw_jwt.c src/mw_apikey.c src/ratelimit_fields.c src/mw_throttle.c \
	src/handler_common.c src/book_json.c src/list_cache.c src/handler_books.c \
	src/handler_health.c src/handler_signup.c src/handler_auth.c \
	src/handler_apikey.c src/reload.c src/sdnotify.c src/admin.c src/healthcheck.c src/metrics.c src/http_admin.c
MAIN_SRC := src/main.c
GEN_SRC  := $(BUILD)/migrations_data.c $(BUILD)/migrations_pg_data.c
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
MIGRATIONS_PG := $(sort $(wildcard migrations/postgresql/*.sql))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)
BIN      := $(BUILD)/keygate

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fuzz targets: fuzzed by clang's libFuzzer (make fuzz); their kept inputs
# are replayed by every test run through a plain driver.
FUZZ_TARGETS := body router rate config token apikey
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz_%)
FUZZ_SECONDS ?= 30

.PHONY: all run run-args fresh-check docker-check test check unit http install uninstall clean deps deps-test format fuzz soak bench
all: $(BIN)

# V=1 shows the full command lines.
Q := $(if $(V),,@)

$(BIN): $(CORE_OBJ) $(MAIN_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/migrations_%.o: $(BUILD)/migrations_%.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/migrations_data.c: $(MIGRATIONS) scripts/embed_migrations.sh
	@mkdir -p $(BUILD)
	$(Q)sh scripts/embed_migrations.sh "" $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/migrations_pg_data.c: $(MIGRATIONS_PG) scripts/embed_migrations.sh
	@mkdir -p $(BUILD)
	$(Q)sh scripts/embed_migrations.sh pg_ $(MIGRATIONS_PG) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/driver.c $(CORE_OBJ) $(LDLIBS)

# libFuzzer with ASan and UBSan, each target for FUZZ_SECONDS; new inputs
# go to build/fuzz/corpus-*, crashes to build/fuzz/crash-* (keep them in
# tests/fuzz/regress/ once fixed).
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz: deps-test
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang SANITIZE=address,undefined \
		EXTRA_CFLAGS="$(FUZZ_CFLAGS)" all
	@for t in $(FUZZ_TARGETS); do \
		clang -std=c11 -D_GNU_SOURCE -Iinclude -g -O1 -fsanitize=fuzzer,address,undefined \
			-o build/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c $(addprefix build/fuzz/,$(CORE_SRC:.c=.o)) \
			build/fuzz/migrations_data.o build/fuzz/migrations_pg_data.o $(LDLIBS) || exit 1; \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "== fuzz_$$t: $(FUZZ_SECONDS)s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/crash-$$t- build/fuzz/corpus-$$t tests/fuzz/corpus/$$t \
			tests/fuzz/regress/$$t 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY)" ; \
		ls build/fuzz/crash-$$t-* >/dev/null 2>&1 && { echo "fuzz_$$t: crash kept in build/fuzz"; exit 1; }; \
	done; echo "fuzz: no crash"

# Benchmarks against a bare libmicrohttpd baseline, in one run (BENCH_SECONDS per scenario).
BENCH_SECONDS ?= 5
BENCH_BIN := $(BUILD)/bench/baseline $(BUILD)/bench/throttle_bench $(BUILD)/bench/populate
$(BUILD)/bench/baseline: bench/baseline.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)
$(BUILD)/bench/%: bench/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)
bench: deps-test all $(BENCH_BIN)
	@command -v wrk >/dev/null || { echo "deps: installing wrk"; apt-get install -y -qq wrk >/dev/null; }
	python3 bench/bench.py $(BUILD) $(BENCH_SECONDS)

# A bounded soak of mixed traffic on loopback (SOAK_SECONDS, default 180).
SOAK_SECONDS ?= 180
soak: deps-test all
	@command -v wrk >/dev/null || { echo "deps: installing wrk"; apt-get install -y -qq wrk >/dev/null; }
	python3 bench/soak.py $(BIN) $(SOAK_SECONDS)

deps:
	@sh scripts/deps.sh
# The OpenAPI validator is the one test tool from outside Debian (npm). If
# npm ci fails (no registry, a TLS-intercepting network), only its check
# fails, saying why (tests/http/test_openapi.py); every other test runs.
# Again whenever package-lock.json is newer than what npm ci last installed.
deps-test:
	@sh scripts/deps.sh test
	@[ tests/openapi/node_modules/.package-lock.json -nt tests/openapi/package-lock.json ] || { \
		echo "deps: npm ci in tests/openapi (the OpenAPI validator)"; \
		mkdir -p $(BUILD); \
		if npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error >$(BUILD)/npm-ci.log 2>&1; then \
			rm -f $(BUILD)/npm-ci.log; \
		else \
			rm -rf tests/openapi/node_modules; grep -m 4 -i error $(BUILD)/npm-ci.log; \
			echo "deps: npm ci failed (log in $(BUILD)/npm-ci.log): the OpenAPI check will fail, the other tests run"; \
		fi; }

# make run: the embedded SQLite file and the generated secrets live in
# ./data, and the throttle segment is its own (/keygate-run), never the
# installed service's /keygate-throttle: a segment made by root is 0600
# and would lock the service (User=keygate) out. bootstrap.sh reads
# RUN_ARGS through `make run-args`.
RUN_ARGS := -c config.example.ini --data-dir ./data -o throttle.shm_name=/keygate-run
run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) $(RUN_ARGS)
run-args:
	@echo $(RUN_ARGS)

# The README's Quick start on a new Debian 12 minbase root (mmdebstrap,
# several minutes; see the script), and the Docker image on an engine of
# its own without a bridge network.
fresh-check:
	@sh scripts/fresh-check.sh
docker-check:
	@sh scripts/docker-check.sh

unit: $(UNIT_BIN) $(FUZZ_REPLAY)
test: deps-test
	@$(MAKE) --no-print-directory all unit
	@sh tests/run.sh $(BUILD)

# Everything again under AddressSanitizer + UndefinedBehaviorSanitizer, then
# the concurrency tests under ThreadSanitizer.
check: deps-test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined all unit
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		sh tests/run.sh build/asan
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread all unit
	@TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		TEST_ONLY=concurrency UNIT_ONLY="test_throttle_shm test_fifo_lock" KG_TEST_CONFIGS=sqlite-shm sh tests/run.sh build/tsan

# The units name the installed paths.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/keygate $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/keygate
	install -m 0644 config.example.ini $(DESTDIR)$(SYSCONFDIR)/keygate/keygate.ini.example
	install -m 0644 docs/man/man8/keygate.8 $(DESTDIR)$(MANDIR)/man8/keygate.8
	sed -e 's|/usr/local/bin/keygate|$(BINDIR)/keygate|' -e 's|/etc/keygate/|$(SYSCONFDIR)/keygate/|g' \
		deploy/systemd/keygate.service > $(DESTDIR)$(UNITDIR)/keygate.service
	install -m 0644 deploy/systemd/keygate.socket $(DESTDIR)$(UNITDIR)/keygate.socket
	install -m 0644 deploy/systemd/keygate.sysusers $(DESTDIR)$(SYSUSERSDIR)/keygate.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/keygate $(DESTDIR)$(MANDIR)/man8/keygate.8
	rm -f $(DESTDIR)$(SYSCONFDIR)/keygate/keygate.ini.example
	rm -f $(DESTDIR)$(UNITDIR)/keygate.service $(DESTDIR)$(UNITDIR)/keygate.socket
	rm -f $(DESTDIR)$(SYSUSERSDIR)/keygate.conf
	-rmdir $(DESTDIR)$(SYSCONFDIR)/keygate 2>/dev/null

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
