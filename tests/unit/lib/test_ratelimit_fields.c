/* Unit tests: ratelimit_fields, the quota header fields in each form,
 * against the examples of the drafts themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/ratelimit_fields.h"

static struct ratelimit_field out[RATELIMIT_FIELDS_MAX];

static size_t render(enum ratelimit_form form, const struct ratelimit_window *w, size_t n, uint64_t cost)
{
	struct ratelimit_state s = { w, n, cost, NULL, 0, 1700000000, 0 };
	return ratelimit_fields_render(form, &s, out);
}

static const char *value_of(size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(out[i].name, name) == 0)
			return out[i].value;
	return NULL;
}

/* A List as the drafts print it ("a,b") or as RFC 9651 serializes it
 * ("a, b"): the same value. */
static void assert_list_equal(const char *got, const char *want)
{
	char a[256], b[256];
	size_t i = 0, j = 0;
	for (; *got != '\0' && i + 1 < sizeof(a); got++)
		if (!(*got == ' ' && i > 0 && a[i - 1] == ','))
			a[i++] = *got;
	for (; *want != '\0' && j + 1 < sizeof(b); want++)
		if (!(*want == ' ' && j > 0 && b[j - 1] == ','))
			b[j++] = *want;
	a[i] = b[j] = '\0';
	assert_string_equal(a, b);
}

static void test_draft11_examples(void **state)
{
	(void)state;
	/* draft-11 section 3: RateLimit-Policy: "default";q=100;w=10 */
	struct ratelimit_window one = { "default", 100, 10, 50, 30 };
	size_t n = render(RATELIMIT_DRAFT11, &one, 1, 1);
	assert_int_equal(n, 2);
	assert_string_equal(value_of(n, "RateLimit-Policy"), "\"default\";q=100;w=10");
	/* section 4: RateLimit: "default";r=50;t=30 */
	assert_string_equal(value_of(n, "RateLimit"), "\"default\";r=50;t=30");
	/* section 3: two policies, RateLimit-Policy: "permin";q=50;w=60,"perhr";q=1000;w=3600 */
	struct ratelimit_window two[] = { { "permin", 50, 60, 10, 5 }, { "perhr", 1000, 3600, 900, 1200 } };
	n = render(RATELIMIT_DRAFT11, two, 2, 1);
	assert_list_equal(value_of(n, "RateLimit-Policy"), "\"permin\";q=50;w=60,\"perhr\";q=1000;w=3600");
	assert_list_equal(value_of(n, "RateLimit"), "\"permin\";r=10;t=5,\"perhr\";r=900;t=1200");
	/* Appendix, throttled: RateLimit-Policy: "basic";q=100;w=60 / RateLimit: "basic";r=60;t=58 */
	struct ratelimit_window basic = { "basic", 100, 60, 60, 58 };
	n = render(RATELIMIT_DRAFT11, &basic, 1, 1);
	assert_string_equal(value_of(n, "RateLimit-Policy"), "\"basic\";q=100;w=60");
	assert_string_equal(value_of(n, "RateLimit"), "\"basic\";r=60;t=58");
	assert_null(value_of(n, "RateLimit-Partition"));
	assert_null(value_of(n, "X-RateLimit-Limit"));
}

static void test_draft12_renames_and_partition(void **state)
{
	(void)state;
	/* draft-11's "default";r=50;t=30 with r renamed a (available), t
	 * renamed w (the effective window) and the cost c of this request. */
	struct ratelimit_window one = { "default", 100, 10, 50, 30 };
	/* draft-11's partition key example, pk=:dHJpYWwxMjEzMjM=: ("trial121323"),
	 * now in RateLimit-Partition. */
	static const uint8_t pk[] = "trial121323";
	struct ratelimit_state s = { &one, 1, 1, pk, sizeof(pk) - 1, 0, 0 };
	size_t n = ratelimit_fields_render(RATELIMIT_DRAFT12, &s, out);
	assert_int_equal(n, 3);
	assert_string_equal(value_of(n, "RateLimit-Policy"), "\"default\";q=100;w=10");
	assert_string_equal(value_of(n, "RateLimit"), "\"default\";a=50;w=30;c=1");
	assert_string_equal(value_of(n, "RateLimit-Partition"), "\"default\";pk=:dHJpYWwxMjEzMjM=:");
	/* A look that spends nothing costs 0; no partition, no field. */
	n = render(RATELIMIT_DRAFT12, &one, 1, 0);
	assert_int_equal(n, 2);
	assert_string_equal(value_of(n, "RateLimit"), "\"default\";a=50;w=30;c=0");
}

static void test_draft7_examples(void **state)
{
	(void)state;
	/* draft-07 section 4: RateLimit-Policy: 100;w=10 with
	 * RateLimit: limit=100, remaining=50, reset=5 */
	struct ratelimit_window one = { "api_key", 100, 10, 50, 5 };
	size_t n = render(RATELIMIT_DRAFT7, &one, 1, 1);
	assert_int_equal(n, 2);
	assert_string_equal(value_of(n, "RateLimit-Policy"), "100;w=10");
	assert_string_equal(value_of(n, "RateLimit"), "limit=100, remaining=50, reset=5");
	/* Appendix, parameterized: RateLimit: limit=100, remaining=99, reset=50 / RateLimit-Policy: 100;w=60 */
	struct ratelimit_window param = { "api_key", 100, 60, 99, 50 };
	n = render(RATELIMIT_DRAFT7, &param, 1, 1);
	assert_string_equal(value_of(n, "RateLimit"), "limit=100, remaining=99, reset=50");
	assert_string_equal(value_of(n, "RateLimit-Policy"), "100;w=60");
	/* Appendix, custom fields: 5000 a day and 1000 an hour, 4900 used in
	 * 14 hours: the closest limit is the daily one,
	 * RateLimit: limit=5000, remaining=100, reset=36000 */
	struct ratelimit_window two[] = { { "hour", 1000, 3600, 1000, 0 }, { "day", 5000, 86400, 100, 36000 } };
	n = render(RATELIMIT_DRAFT7, two, 2, 1);
	assert_string_equal(value_of(n, "RateLimit"), "limit=5000, remaining=100, reset=36000");
	assert_string_equal(value_of(n, "RateLimit-Policy"), "1000;w=3600, 5000;w=86400");
}

static void test_legacy_trio_resets_at_a_unix_time(void **state)
{
	(void)state;
	struct ratelimit_window one = { "api_key", 5, 60, 4, 60 };
	size_t n = render(RATELIMIT_LEGACY, &one, 1, 1);
	assert_int_equal(n, 3);
	assert_string_equal(value_of(n, "X-RateLimit-Limit"), "5");
	assert_string_equal(value_of(n, "X-RateLimit-Remaining"), "4");
	assert_string_equal(value_of(n, "X-RateLimit-Reset"), "1700000060");
	assert_null(value_of(n, "RateLimit"));
	assert_null(value_of(n, "RateLimit-Policy"));
}

static void test_legacy_extra_beside_a_draft(void **state)
{
	(void)state;
	struct ratelimit_window one = { "api_key", 5, 60, 4, 60 };
	static const uint8_t pk[8] = { 0, 0, 0, 0, 0, 0, 0, 42 };
	struct ratelimit_state s = { &one, 1, 1, pk, sizeof(pk), 1700000000, 1 };
	size_t n = ratelimit_fields_render(RATELIMIT_DRAFT12, &s, out);
	assert_int_equal(n, 9);
	assert_string_equal(value_of(n, "RateLimit-Reset"), "60"); /* seconds, as draft-06 had it */
	assert_string_equal(value_of(n, "X-RateLimit-Reset"), "1700000060");
	assert_string_equal(value_of(n, "RateLimit-Partition"), "\"api_key\";pk=:AAAAAAAAACo=:");
}

static void test_form_names(void **state)
{
	enum ratelimit_form f;
	(void)state;
	for (int i = 0; i < RATELIMIT_FORMS; i++) {
		assert_int_equal(ratelimit_fields_form_parse(ratelimit_fields_form_name((enum ratelimit_form)i), &f), 0);
		assert_int_equal(f, i);
	}
	assert_int_equal(ratelimit_fields_form_parse("draft-8", &f), -1);
	assert_int_equal(ratelimit_fields_form_parse("", &f), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draft11_examples),
		cmocka_unit_test(test_draft12_renames_and_partition),
		cmocka_unit_test(test_draft7_examples),
		cmocka_unit_test(test_legacy_trio_resets_at_a_unix_time),
		cmocka_unit_test(test_legacy_extra_beside_a_draft),
		cmocka_unit_test(test_form_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
