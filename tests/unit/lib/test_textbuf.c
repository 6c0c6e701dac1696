/* Unit tests: textbuf, the format-free appender of the per-request lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/textbuf.h"

static void test_numbers_match_printf(void **state)
{
	static const uint64_t values[] = { 0, 7, 10, 99, 100, 4096, 999999, 18446744073709551615ull };
	char got[64], want[64];
	struct textbuf t;
	(void)state;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		for (int width = 0; width <= 4; width++) {
			textbuf_init(&t, got, sizeof(got));
			textbuf_u64(&t, values[i], width);
			snprintf(want, sizeof(want), "%0*llu", width, (unsigned long long)values[i]);
			assert_string_equal(got, want);
			assert_int_equal(t.len, strlen(want));
			assert_false(t.truncated);
		}
	}
}

static void test_appends(void **state)
{
	char buf[64];
	struct textbuf t;
	(void)state;

	textbuf_init(&t, buf, sizeof(buf));
	textbuf_char(&t, '"');
	textbuf_str(&t, "api_key");
	textbuf_mem(&t, "\";r=", 4);
	textbuf_u64(&t, 42, 1);
	assert_string_equal(buf, "\"api_key\";r=42");
	assert_int_equal(t.len, 14);
	assert_false(t.truncated);
}

/* Past the end: cut, NUL-terminated, remembered; never written beyond cap. */
static void test_truncation(void **state)
{
	char buf[8 + 4];
	struct textbuf t;
	(void)state;

	memset(buf, 'X', sizeof(buf));
	textbuf_init(&t, buf, 8);
	textbuf_str(&t, "abcde");
	assert_false(t.truncated);
	textbuf_u64(&t, 12345, 1);
	assert_true(t.truncated);
	assert_int_equal(t.len, 7);
	assert_string_equal(buf, "abcde12");
	textbuf_char(&t, 'z');
	assert_int_equal(t.len, 7);
	assert_memory_equal(buf + 8, "XXXX", 4);

	textbuf_init(&t, NULL, 0);
	textbuf_str(&t, "x");
	assert_true(t.truncated);
	assert_int_equal(t.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_match_printf),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
