/* Unit tests: [policy NAME] sections, their patterns and what they cover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/gate_policy.h"

static void test_patterns(void **state)
{
	struct gate_policy p;
	char err[160];
	(void)state;

	assert_int_equal(gate_policy_init(&p, "search", err, sizeof(err)), 0);
	assert_int_equal(p.cost, 1);
	assert_int_equal(gate_policy_set(&p, "match", "get /search, GET /v1/search*,  * /any/*", err, sizeof(err)), 0);
	assert_int_equal(p.nmatch, 3);
	assert_true(gate_policy_covers(&p, "GET", "/search"));
	assert_true(gate_policy_covers(&p, "get", "/search?q=1")); /* the query is not the path */
	assert_false(gate_policy_covers(&p, "GET", "/searchx"));
	assert_false(gate_policy_covers(&p, "POST", "/search"));
	assert_false(gate_policy_covers(&p, NULL, "/search")); /* no method told */
	assert_true(gate_policy_covers(&p, "GET", "/v1/search"));
	assert_true(gate_policy_covers(&p, "GET", "/v1/searches/7"));
	assert_true(gate_policy_covers(&p, NULL, "/any/thing"));
	assert_true(gate_policy_covers(&p, "PATCH", "/any/"));
	assert_false(gate_policy_covers(&p, "PATCH", "/any"));
	assert_int_equal(gate_policy_set(&p, "match", "/plain", err, sizeof(err)), 0);
	assert_true(gate_policy_covers(&p, "DELETE", "/plain"));
}

static void test_bad_values(void **state)
{
	struct gate_policy p;
	char err[160];
	(void)state;

	assert_int_equal(gate_policy_init(&p, "Search", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_init(&p, "", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_init(&p, "a23456789012345678901234567890123", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_init(&p, "ok_name-2", err, sizeof(err)), 0);
	assert_int_equal(gate_policy_set(&p, "match", "GET search", err, sizeof(err)), -1); /* no leading / */
	assert_int_equal(gate_policy_set(&p, "match", "GET /a b", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_set(&p, "match", "/a,", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_set(&p, "match", "/1,/2,/3,/4,/5,/6,/7,/8,/9", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "at most 8"));
	assert_int_equal(gate_policy_set(&p, "cost", "0", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_set(&p, "cost", "1001", err, sizeof(err)), -1);
	assert_int_equal(gate_policy_set(&p, "cost", "5", err, sizeof(err)), 0);
	assert_int_equal(p.cost, 5);
	assert_int_equal(gate_policy_set(&p, "rate", "5/minute, 100/day", err, sizeof(err)), 0);
	assert_int_equal(p.rate.n, 2);
	assert_int_equal(gate_policy_set(&p, "weight", "5", err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_bad_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
