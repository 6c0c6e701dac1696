/* Unit tests: the config file, environment and command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

static char path[64];

static void write_file(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/kg-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_defaults(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;

	config_defaults(&cfg);
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:8000");
	assert_int_equal(cfg.access_ttl_ms, 300000);
	assert_int_equal(cfg.refresh_ttl_ms, 86400000);
	assert_int_equal(cfg.rate_api_key.w[0].limit, 5);
	assert_int_equal(cfg.rate_api_key.w[0].window_s, 60);
	assert_int_equal(cfg.body_max, 65536);
	assert_true(cfg.threads >= 1);
}

static void test_file_values(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;

	write_file("; comment\n[server]\nlisten = 127.0.0.1:9001\nthreads = 3\n\n[auth]\naccess_ttl = 10m\n"
		   "[throttle]\napi_key = 100/15m\n");
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(cfg.listen, "127.0.0.1:9001");
	assert_int_equal(cfg.threads, 3);
	assert_int_equal(cfg.access_ttl_ms, 600000);
	assert_int_equal(cfg.rate_api_key.w[0].limit, 100);
	assert_int_equal(cfg.rate_api_key.w[0].window_s, 900);
}

static void expect_file_error(const char *text, const char *want)
{
	struct config cfg;
	char err[256];

	write_file(text);
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -1);
	char where[96];
	snprintf(where, sizeof(where), "%s:", path);
	assert_non_null(strstr(err, where));
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	unlink(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_file_error("[server]\nlisten = 127.0.0.1:8000\nbogus = 1\n", ":3: [server] bogus: unknown key");
	expect_file_error("[server]\nthreads = many\n", ":2: [server] threads: not a whole number");
	expect_file_error("[server]\n\nlisten = localhost\n", ":3: [server] listen: not a numeric address");
	expect_file_error("[throttle]\napi_key = 5/fortnight\n", ":2: [throttle] api_key: unknown period");
	expect_file_error("[nosuch]\nkey = 1\n", ":2: [nosuch] key: unknown key");
	expect_file_error("[auth]\naccess_ttl = 5y\n", ":2: [auth] access_ttl: not a duration");
	expect_file_error("[server]\njust text\n", ":2: syntax error");
}

static void test_secret_not_echoed(void **state)
{
	struct config cfg;
	char err[256];
	char long_secret[600];
	(void)state;

	memset(long_secret, 'S', sizeof(long_secret) - 1);
	long_secret[sizeof(long_secret) - 1] = '\0';
	char *envp[] = { NULL, NULL };
	size_t n = strlen("KEYGATE_AUTH_JWT_SECRET=") + sizeof(long_secret);
	envp[0] = malloc(n);
	snprintf(envp[0], n, "KEYGATE_AUTH_JWT_SECRET=%s", long_secret);
	config_defaults(&cfg);
	assert_int_equal(config_load_env(&cfg, envp, err, sizeof(err)), -1);
	assert_null(strstr(err, "SSSS"));
	free(envp[0]);
}

static void test_precedence(void **state)
{
	struct config cfg;
	char err[256];
	char *envp[] = { "PATH=/bin", "KEYGATE_SERVER_LISTEN=127.0.0.1:9002", "KEYGATE_THROTTLE_API_KEY=7/s",
		"KEYGATE_CONFIG=/nonexistent", NULL };
	(void)state;

	write_file("[server]\nlisten = 127.0.0.1:9001\nthreads = 3\n");
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(config_load_env(&cfg, envp, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:9002"); /* env beats file */
	assert_int_equal(cfg.threads, 3); /* file beats default */
	assert_int_equal(cfg.rate_api_key.w[0].limit, 7);
	assert_int_equal(config_set(&cfg, "server.listen", "[::1]:9003", err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, "[::1]:9003"); /* command line beats env */

	char *bad_env[] = { "KEYGATE_SERVER_LISTEN_PORT=1", NULL };
	assert_int_equal(config_load_env(&cfg, bad_env, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown setting"));
	char *bad_val[] = { "KEYGATE_SERVER_THREADS=-1", NULL };
	assert_int_equal(config_load_env(&cfg, bad_val, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KEYGATE_SERVER_THREADS"));
	assert_int_equal(config_set(&cfg, "server.nope", "1", err, sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "nodot", "1", err, sizeof(err)), -1);
}

static void test_finish_checks(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;

	config_defaults(&cfg);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "no-slash");
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shm_name"));
	config_defaults(&cfg);
	cfg.refresh_ttl_ms = 1000;
	assert_int_equal(config_finish(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refresh_ttl"));

	char out[64];
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/srv/kg");
	assert_int_equal(config_path(&cfg, "db.sqlite", out, sizeof(out)), 0);
	assert_string_equal(out, "/srv/kg/db.sqlite");
	assert_int_equal(config_path(&cfg, "/abs/x", out, sizeof(out)), 0);
	assert_string_equal(out, "/abs/x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_values),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_secret_not_echoed),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_finish_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
