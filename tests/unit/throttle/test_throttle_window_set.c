/* Unit tests: several windows over one key, all or nothing, with an
 * injected clock, against a model that keeps every admitted time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "throttle/throttle_window_set.h"

struct set {
	struct window_set ws;
	struct window_entry *e;
};

static struct set *set_new(const char *rates)
{
	struct set *s = malloc(sizeof(*s));
	struct rate_set r;
	char err[128];
	assert_int_equal(parse_rate_set(rates, &r, err, sizeof(err)), 0);
	window_set_init(&s->ws, &r);
	s->e = calloc(1, s->ws.entry_size);
	window_set_reset(&s->ws, s->e, 42);
	return s;
}

static void set_free(struct set *s)
{
	free(s->e);
	free(s);
}

static int hit(struct set *s, uint64_t t, struct window_result *r)
{
	return window_set_decide(&s->ws, s->e, t, 1, 1, r);
}

/* 2/second and 3/minute: the minute refuses the fourth even though the
 * second has room, and spends nothing in the second when it does. */
static void test_all_or_nothing(void **state)
{
	struct window_result r[RATE_WINDOWS_MAX];
	uint64_t t0 = 1000000;
	(void)state;

	struct set *s = set_new("2/second, 3/minute");
	assert_int_equal(s->ws.n, 2);
	assert_int_equal(s->ws.off[1], s->ws.w[0].entry_size);
	assert_true(hit(s, t0, r));
	assert_true(hit(s, t0 + 1, r));
	assert_int_equal(r[0].remaining, 0);
	assert_int_equal(r[1].remaining, 1);
	assert_false(hit(s, t0 + 2, r)); /* the second refuses */
	assert_false(r[0].admitted);
	assert_true(r[1].admitted);
	assert_int_equal(r[1].remaining, 1); /* not spent in the minute */
	assert_true(hit(s, t0 + 1000, r));
	assert_false(hit(s, t0 + 2001, r)); /* now the minute refuses */
	assert_true(r[0].admitted);
	assert_false(r[1].admitted);
	assert_int_equal(r[0].remaining, 2); /* nor in the second */
	assert_int_equal(r[1].reset_ms, 60000 - 2001);
	assert_true(hit(s, t0 + 60000, r));
	set_free(s);
}

static void test_refund_every_window(void **state)
{
	struct window_result r[RATE_WINDOWS_MAX];
	uint64_t t0 = 5000;
	(void)state;

	struct set *s = set_new("1/s, 2/h");
	assert_true(hit(s, t0, r));
	window_set_refund(&s->ws, s->e, r[0].spent_ms);
	assert_true(hit(s, t0 + 1, r));
	assert_true(hit(s, t0 + 1002, r));
	assert_false(hit(s, t0 + 2003, r));
	assert_true(window_set_expires_in(&s->ws, s->e, t0 + 2003) > 3500000);
	set_free(s);
}

/* Random traffic against a model: every admitted time kept; a request is
 * admitted iff each window has fewer than N in (t - W, t]. */
static void test_random_against_model(void **state)
{
	static const uint32_t n[3] = { 3, 7, 20 };
	static const uint64_t w[3] = { 1000, 10000, 60000 };
	struct window_result r[RATE_WINDOWS_MAX];
	uint64_t *times = calloc(100000, sizeof(*times)), t = 1;
	size_t ntimes = 0;
	(void)state;

	struct set *s = set_new("3/s, 7/10s, 20/m");
	srand(7);
	for (int i = 0; i < 100000; i++) {
		t += (uint64_t)(rand() % 400);
		int want = 1;
		for (int k = 0; k < 3; k++) {
			uint32_t c = 0;
			for (size_t j = ntimes; j-- > 0 && times[j] + w[k] > t;)
				c++;
			want &= c < n[k];
		}
		int spend = rand() % 8 != 0;
		assert_int_equal(window_set_decide(&s->ws, s->e, t, 1, spend, r), want);
		if (want && spend)
			times[ntimes++] = t;
	}
	free(times);
	set_free(s);
}

static void test_reload_within_layout(void **state)
{
	struct window_set next;
	struct rate_set r;
	char err[128];
	(void)state;

	struct set *s = set_new("5/minute, 100/day");
	assert_int_equal(parse_rate_set("8/minute, 50/day", &r, err, sizeof(err)), 0);
	assert_int_equal(window_set_with(&s->ws, &r, &next), 0);
	assert_int_equal(next.w[0].limit, 8);
	assert_int_equal(next.entry_size, s->ws.entry_size);
	assert_int_equal(parse_rate_set("5/minute", &r, err, sizeof(err)), 0);
	assert_int_equal(window_set_with(&s->ws, &r, &next), -1); /* another number of windows */
	set_free(s);
}

static void test_repair_each_window(void **state)
{
	struct window_result r[RATE_WINDOWS_MAX];
	(void)state;

	struct set *s = set_new("5/minute, 100/day");
	assert_true(hit(s, 10, r));
	struct window_entry *second = (struct window_entry *)(void *)((char *)s->e + s->ws.off[1]);
	second->head = 1u << 30; /* a writer died mid-update */
	assert_int_equal(window_set_repair(&s->ws, s->e), 1);
	assert_int_equal(window_set_repair(&s->ws, s->e), 0);
	assert_int_equal(s->e->key, 42);
	set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_refund_every_window),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_reload_within_layout),
		cmocka_unit_test(test_repair_each_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
