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
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Isrc -I$(BUILD) $(WARN) \
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

# src/ is in folders by layer, lowest first; a folder's code includes only
# its own folder and the ones listed before it, and calls nothing above
# it; no two files depend on each other round a circle. make layers and
# make check fail otherwise: scripts/check-layers.py on the #include lines,
# scripts/check-calls.py on the built objects (nm: who defines a symbol,
# who uses it).
LAYERS := lib base store throttle http auth api server
LIB_SRC      := $(addprefix src/lib/,textbuf.c parse.c gate_policy.c addr.c fifo_lock.c log_escape.c validate.c \
	ratelimit_fields.c apikey.c token.c)
BASE_SRC     := $(addprefix src/base/,log.c log_access.c config.c secret.c password.c metrics.c)
STORE_SRC    := $(addprefix src/store/,store.c store_open.c store_sqlite.c store_sqlite_users.c store_sqlite_books.c store_sqlite_conn.c \
	store_epoch.c store_pg.c store_pg_listen.c migrate.c)
THROTTLE_SRC := $(addprefix src/throttle/,throttle.c throttle_open.c throttle_window.c throttle_window_set.c throttle_shm.c throttle_shm_table.c throttle_shm_segment.c \
	throttle_redis.c throttle_redis_pipe.c throttle_redis_conn.c)
HTTP_SRC     := $(addprefix src/http/,http_method.c http_request.c http_reply.c offload.c http_accept.c http_linger.c client_ip.c)
AUTH_SRC     := $(addprefix src/auth/,keycache.c namecache.c user_info.c mw_jwt.c mw_apikey.c mw_throttle.c)
API_SRC      := $(addprefix src/api/,router.c pipeline.c verify_policy.c handler_common.c book_json.c list_cache.c \
	handler_books.c handler_verify.c handler_health.c handler_signup.c handler_auth.c handler_apikey.c)
SERVER_SRC   := $(addprefix src/server/,http_server.c reload.c sdnotify.c admin.c healthcheck.c metrics_render.c http_admin.c)
CORE_SRC := $(LIB_SRC) $(BASE_SRC) $(STORE_SRC) $(THROTTLE_SRC) $(HTTP_SRC) $(AUTH_SRC) $(API_SRC) $(SERVER_SRC)
MAIN_SRC := src/server/main.c
GEN_SRC  := $(BUILD)/migrations_data.c $(BUILD)/migrations_pg_data.c
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
MIGRATIONS_PG := $(sort $(wildcard migrations/postgresql/*.sql))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)
BIN      := $(BUILD)/keygate

# Unit tests mirror src/: tests/unit/<layer>/test_<module>.c.
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BIN := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRC))))
# Fuzz targets: fuzzed by clang's libFuzzer (make fuzz); their kept inputs
# are replayed by every test run through a plain driver.
FUZZ_TARGETS := body router rate config token apikey
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz_%)
FUZZ_SECONDS ?= 30

.PHONY: layers lengths all run run-args fresh-check docker-check test check unit http install uninstall clean deps deps-test format fuzz soak bench
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

vpath test_%.c $(addprefix tests/unit/,$(LAYERS))
$(BUILD)/tests/test_%: test_%.c $(CORE_OBJ)
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
		clang -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
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
	@command -v valgrind >/dev/null || { echo "deps: installing valgrind (Redis's cost of a decision)"; \
		apt-get install -y -qq valgrind >/dev/null; }
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

layers: $(CORE_OBJ) $(MAIN_OBJ)
	@python3 scripts/check-layers.py "$(LAYERS)"
	@python3 scripts/check-calls.py "$(LAYERS)" $(BUILD)
# No function in src/ longer than FUNCTION_LINES_MAX lines.
FUNCTION_LINES_MAX := 60
lengths:
	@python3 scripts/check-function-length.py $(FUNCTION_LINES_MAX)
unit: $(UNIT_BIN) $(FUZZ_REPLAY)
test: deps-test
	@$(MAKE) --no-print-directory all unit
	@sh tests/run.sh $(BUILD)

# The layering (the includes, and the calls once built) and the function
# lengths; then everything again under AddressSanitizer +
# UndefinedBehaviorSanitizer, then the concurrency tests and the Redis ones
# (decisions pipelined off the HTTP threads) under ThreadSanitizer.
check: deps-test
	@python3 scripts/check-layers.py "$(LAYERS)"
	@python3 scripts/check-function-length.py $(FUNCTION_LINES_MAX)
	@$(MAKE) --no-print-directory all
	@python3 scripts/check-calls.py "$(LAYERS)" $(BUILD)
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined all unit
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		sh tests/run.sh build/asan
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread all unit
	@TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		TEST_ONLY=concurrency UNIT_ONLY="test_throttle_shm test_fifo_lock test_pipeline" KG_TEST_CONFIGS=sqlite-shm sh tests/run.sh build/tsan
	@TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		TEST_ONLY=test_redis KG_TEST_CONFIGS=sqlite-shm sh tests/run.sh build/tsan

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
	clang-format -i src/*/*.[ch] tests/unit/*/*.c

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
