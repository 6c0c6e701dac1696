/* Unit tests: value syntaxes (durations, sizes, booleans, rates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/parse.h"

static void test_duration(void **state)
{
	char err[128];
	uint64_t v;
	(void)state;

	assert_int_equal(parse_duration_ms("5m", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(parse_duration_ms("1d", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(parse_duration_ms("250ms", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration_ms("30", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(parse_duration_ms("5 m", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_duration_ms("-5m", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_duration_ms("5w", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a duration"));
	assert_int_equal(parse_duration_ms("", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_duration_ms("99999999999999999999s", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_duration_ms("2h", 0, 3600000, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "between"));
}

static void test_size_and_uint(void **state)
{
	char err[128];
	uint64_t v;
	int b;
	(void)state;

	assert_int_equal(parse_size("64KiB", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("1M", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(parse_size("12", 0, UINT64_MAX, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 12);
	assert_int_equal(parse_size("1T", 0, UINT64_MAX, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_uint("42", 1, 100, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_uint("0", 1, 100, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_uint("4x", 1, 100, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_uint("+4", 1, 100, &v, err, sizeof(err)), -1);
	assert_int_equal(parse_bool("Yes", &b, err, sizeof(err)), 0);
	assert_int_equal(b, 1);
	assert_int_equal(parse_bool("off", &b, err, sizeof(err)), 0);
	assert_int_equal(b, 0);
	assert_int_equal(parse_bool("maybe", &b, err, sizeof(err)), -1);
}

static void test_rate_good(void **state)
{
	static const struct {
		const char *s;
		uint32_t n, w;
	} good[] = {
		{ "5/minute", 5, 60 },
		{ "100/hour", 100, 3600 },
		{ "10/s", 10, 1 },
		{ "100/15m", 100, 900 },
		{ "1000/2h", 1000, 7200 },
		{ "3/day", 3, 86400 },
		{ "7/sec", 7, 1 },
		{ "1/d", 1, 86400 },
		{ "2/30seconds", 2, 30 },
	};
	char err[128];
	struct rate r;
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(parse_rate(good[i].s, &r, err, sizeof(err)), 0);
		assert_int_equal(r.limit, good[i].n);
		assert_int_equal(r.window_s, good[i].w);
	}
}

static void test_rate_bad(void **state)
{
	static const struct {
		const char *s;
		const char *why;
	} bad[] = {
		{ "", "not a rate" },
		{ "5", "not a rate" },
		{ "/minute", "count" },
		{ "x/minute", "count" },
		{ "0/minute", "between 1" },
		{ "-1/minute", "count" },
		{ "5/", "unknown period" },
		{ "5/week", "unknown period" },
		{ "5/0m", "multiple" },
		{ "5/minute ", "unknown period" },
		{ " 5/minute", "count" },
		{ "5//m", "unknown period" },
		{ "99999999999/m", "between 1" },
		{ "5/400d", "at most" },
		{ "5/15", "unknown period" },
	};
	char err[128];
	struct rate r;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse_rate(bad[i].s, &r, err, sizeof(err)), -1);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("rate '%s': message '%s' lacks '%s'", bad[i].s, err, bad[i].why);
	}
}

static void test_rate_set(void **state)
{
	struct rate_set r;
	char err[128], text[RATE_SET_TEXT_MAX];
	(void)state;

	assert_int_equal(parse_rate_set("5/minute", &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(parse_rate_set(" 5/minute ,100/day,\t1000/15m", &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.w[1].limit, 100);
	assert_int_equal(r.w[1].window_s, 86400);
	assert_int_equal(r.w[2].window_s, 900);
	assert_string_equal(rate_set_format(&r, text, sizeof(text)), "5/60s, 100/86400s, 1000/900s");
	assert_int_equal(parse_rate_set(text, &r, err, sizeof(err)), 0); /* reads its own output */
	assert_int_equal(r.n, 3);
	assert_int_equal(parse_rate_set("5/minute, 10/60s", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "same window"));
	assert_int_equal(parse_rate_set("1/s, 2/m, 3/h, 4/d, 5/2d", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 4"));
	assert_int_equal(parse_rate_set("5/minute,", &r, err, sizeof(err)), -1);
	assert_int_equal(parse_rate_set("", &r, err, sizeof(err)), -1);
	assert_int_equal(parse_rate_set("5/minute, 5/fortnight", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fortnight"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_size_and_uint),
		cmocka_unit_test(test_rate_good),
		cmocka_unit_test(test_rate_bad),
		cmocka_unit_test(test_rate_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
