/* Unit tests: the list of method names and the parser agree, bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http_method.h"

static void test_names_and_bits(void **state)
{
	unsigned seen = 0;
	(void)state;

	assert_int_equal(http_nmethods, 7);
	for (unsigned i = 0; i < http_nmethods; i++) {
		enum http_method bit = http_methods[i].bit;
		assert_int_equal(http_method_from(http_methods[i].name), bit);
		assert_true((bit & (bit - 1)) == 0); /* one bit each */
		assert_false(seen & bit);
		seen |= bit;
	}
	assert_int_equal(seen | HTTP_OTHER, HTTP_ANY);
	assert_int_equal(http_method_from("get"), HTTP_OTHER);
	assert_int_equal(http_method_from("TRACE"), HTTP_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
