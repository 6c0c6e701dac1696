/* Unit tests: log_escape, client bytes made safe for a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/log_escape.h"

static const char *esc(const char *in, size_t max_in, int flags)
{
	static char out[256];
	size_t n = log_escape(out, sizeof(out), in, max_in, flags);
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	assert_string_equal(esc("GET", 64, LOG_ESCAPE_SPACE), "GET");
	assert_string_equal(esc("/books/12/", 64, LOG_ESCAPE_SPACE), "/books/12/");
	/* Valid UTF-8, 2, 3 and 4 bytes long, stays as it is. */
	assert_string_equal(esc("/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80", 64, 0), "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80");
}

static void test_controls_and_separators(void **state)
{
	(void)state;
	assert_string_equal(esc("GE\r\nT", 64, LOG_ESCAPE_SPACE), "GE\\x0d\\x0aT");
	assert_string_equal(esc("\x1b[31mred", 64, 0), "\\x1b[31mred");
	assert_string_equal(esc("a b\x7f", 64, LOG_ESCAPE_SPACE), "a\\x20b\\x7f");
	assert_string_equal(esc("a b", 64, 0), "a b");
	/* A backslash is escaped too: "\x41" in a line always means 0x41... */
	assert_string_equal(esc("\\x41", 64, 0), "\\x5cx41");
}

static void test_not_utf8(void **state)
{
	(void)state;
	assert_string_equal(esc("\xff\xfe", 64, 0), "\\xff\\xfe");
	assert_string_equal(esc("\xc0\xaf", 64, 0), "\\xc0\\xaf"); /* overlong "/" */
	assert_string_equal(esc("\xe0\x80\xaf", 64, 0), "\\xe0\\x80\\xaf"); /* overlong, 3 bytes */
	assert_string_equal(esc("\xed\xa0\x80", 64, 0), "\\xed\\xa0\\x80"); /* a surrogate */
	assert_string_equal(esc("\xf4\x90\x80\x80", 64, 0), "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	assert_string_equal(esc("\xc3", 64, 0), "\\xc3"); /* cut short */
	assert_string_equal(esc("\xe2\x82x", 64, 0), "\\xe2\\x82x");
}

static void test_bounds(void **state)
{
	char out[8];
	(void)state;
	assert_string_equal(esc("abcdefgh", 4, 0), "abcd...");
	/* The output is cut at an escape boundary, never inside one. */
	size_t n = log_escape(out, sizeof(out), "ab\x01\x02", 64, 0);
	assert_string_equal(out, "ab\\x01");
	assert_int_equal(n, 6);
	n = log_escape(out, 1, "abc", 64, 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_controls_and_separators),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
