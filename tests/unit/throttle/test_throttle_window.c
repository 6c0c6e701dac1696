/* Unit tests: the sliding window with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "throttle/throttle_window.h"

struct win {
	struct window_shape ws;
	struct window_entry *e;
};

static struct win *win_new(uint32_t n, uint32_t w_s)
{
	struct win *w = malloc(sizeof(*w));
	struct rate r = { n, w_s };
	window_shape_init(&w->ws, &r);
	w->e = calloc(1, w->ws.entry_size);
	window_reset(&w->ws, w->e, 42);
	return w;
}

static void win_free(struct win *w)
{
	free(w->e);
	free(w);
}

static int hit(struct win *w, uint64_t t, struct window_result *r)
{
	window_decide(&w->ws, w->e, t, 1, r);
	return r->admitted;
}

static void test_exact_boundary(void **state)
{
	struct window_result r;
	struct win *w = win_new(5, 60);
	(void)state;

	assert_false(w->ws.bucketed);
	assert_int_equal(w->ws.slots, 8); /* N rounded up to a power of two */
	assert_int_equal(w->ws.entry_size, 40 + 8 * 4);
	uint64_t t0 = 1000000;
	for (int i = 0; i < 5; i++) {
		assert_true(hit(w, t0 + (uint64_t)i * 1000, &r));
		assert_int_equal(r.remaining, 4 - i);
	}
	/* The 6th in the window is refused; the oldest frees at t0 + 60 s. */
	assert_false(hit(w, t0 + 10000, &r));
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.reset_ms, 50000);
	/* One millisecond before W: still refused. At exactly W: admitted,
	 * since the window is (t - W, t]. */
	assert_false(hit(w, t0 + 59999, &r));
	assert_int_equal(r.reset_ms, 1);
	assert_true(hit(w, t0 + 60000, &r));
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.reset_ms, 1000); /* the next (t0 + 1 s) frees 1 s later */
	assert_false(hit(w, t0 + 60999, &r));
	assert_true(hit(w, t0 + 61000, &r));
	win_free(w);
}

static void test_refused_not_counted(void **state)
{
	struct window_result r;
	struct win *w = win_new(2, 10);
	(void)state;

	assert_true(hit(w, 0 + 5000, &r));
	assert_true(hit(w, 5500, &r));
	for (int i = 0; i < 100; i++)
		assert_false(hit(w, 6000 + (uint64_t)i, &r));
	/* Refusals did not push the window: the first frees at 15000. */
	assert_false(hit(w, 14999, &r));
	assert_true(hit(w, 15000, &r));
	assert_false(hit(w, 15001, &r));
	assert_true(hit(w, 15500, &r));
	win_free(w);
}

static void test_retry_after_is_enough(void **state)
{
	struct window_result r;
	struct win *w = win_new(3, 60);
	(void)state;

	uint64_t t = 123456;
	hit(w, t, &r);
	hit(w, t + 700, &r);
	hit(w, t + 1400, &r);
	assert_false(hit(w, t + 2000, &r));
	/* Retry-After (whole seconds, rounded up) later is admitted. */
	uint64_t after_s = (r.reset_ms + 999) / 1000;
	assert_int_equal(after_s, 58);
	assert_false(hit(w, t + 2000 + after_s * 1000 - 1000, &r));
	assert_true(hit(w, t + 2000 + after_s * 1000, &r));
	win_free(w);
}

static void test_peek_spends_nothing(void **state)
{
	struct window_result r;
	struct win *w = win_new(1, 60);
	(void)state;

	window_decide(&w->ws, w->e, 1000, 0, &r);
	assert_true(r.admitted);
	assert_int_equal(r.remaining, 1);
	assert_true(hit(w, 1000, &r));
	window_decide(&w->ws, w->e, 2000, 0, &r);
	assert_false(r.admitted);
	assert_int_equal(w->e->blocked_until, 0); /* a look does not block */
	win_free(w);
}

static void test_clock_never_goes_back(void **state)
{
	struct window_result r;
	struct win *w = win_new(2, 10);
	(void)state;

	assert_true(hit(w, 50000, &r));
	assert_true(hit(w, 49000, &r)); /* another process read the clock earlier */
	assert_false(hit(w, 51000, &r));
	assert_true(hit(w, 60000, &r));
	win_free(w);
}

static void test_long_idle_and_wrap(void **state)
{
	struct window_result r;
	struct win *w = win_new(3, 60);
	(void)state;

	hit(w, 1000, &r);
	hit(w, 2000, &r);
	hit(w, 3000, &r);
	/* 2^32 ms later the 32-bit times would alias: the entry knows better. */
	uint64_t later = 3000 + (1ull << 32);
	for (int i = 0; i < 3; i++)
		assert_true(hit(w, later + (uint64_t)i, &r));
	assert_false(hit(w, later + 3, &r));
	assert_false(window_expired(&w->ws, w->e, later + 59999)); /* refusing: blocked until the slot frees */
	assert_true(window_expired(&w->ws, w->e, later + 2 + 60000));
	win_free(w);
}

static void test_bucketed_never_over_admits(void **state)
{
	struct window_result r;
	struct win *w = win_new(2000, 60);
	(void)state;

	assert_true(w->ws.bucketed);
	assert_int_equal(w->ws.bucket_ms, 938); /* ceil(60000 / 64) */
	/* Hammer with a request every 7 ms for 5 minutes; check every
	 * window against a log of what was admitted. */
	uint64_t *log = malloc(sizeof(uint64_t) * 100000);
	size_t n = 0, refused = 0;
	for (uint64_t t = 10000000; t < 10000000 + 300000; t += 7) {
		if (hit(w, t, &r)) {
			log[n++] = t;
		} else {
			refused++;
			/* The retry-after is long enough. */
			assert_true(r.reset_ms > 0);
		}
	}
	size_t lo = 0;
	for (size_t hi = 0; hi < n; hi++) {
		while (log[hi] - log[lo] >= 60000)
			lo++;
		assert_true(hi - lo + 1 <= 2000);
	}
	/* It may refuse early, by at most one bucket: in steady state it
	 * still admits at least N per W + w. */
	assert_true(n >= 2000 * 300000 / (60000 + 938) - 2000);
	assert_true(refused > 0);
	free(log);
	win_free(w);
}

static void test_exact_random_against_model(void **state)
{
	struct window_result r;
	struct win *w = win_new(7, 2);
	uint64_t log[10000];
	size_t n = 0;
	(void)state;

	srand(7);
	uint64_t t = 5000;
	for (int i = 0; i < 5000; i++) {
		t += (uint64_t)(rand() % 700);
		size_t in_window = 0;
		for (size_t j = 0; j < n; j++)
			if (t - log[j] < 2000)
				in_window++;
		int want = in_window < 7;
		assert_int_equal(hit(w, t, &r), want);
		if (want)
			log[n++] = t;
		assert_int_equal(r.remaining, 7 - in_window - (size_t)want);
	}
	win_free(w);
}

static void test_rate_change_on_same_layout(void **state)
{
	struct window_result r;
	struct win *w = win_new(5, 60);
	struct window_shape ws5 = w->ws, ws;
	(void)state;

	for (int i = 0; i < 5; i++)
		assert_true(hit(w, 1000 + (uint64_t)i * 1000, &r));
	assert_false(hit(w, 6000, &r));
	/* Raise N to 8: the same entries, three more admissions. */
	assert_int_equal(window_shape_with(&ws5, &(struct rate){ 8, 60 }, &ws), 0);
	w->ws = ws;
	for (int i = 0; i < 3; i++)
		assert_true(hit(w, 7000, &r));
	assert_false(hit(w, 7000, &r));
	/* Lower N to 2: refused until 7 of the 8 times have expired; the wait
	 * says so (the 7th oldest, at 7000, frees at 67000). */
	assert_int_equal(window_shape_with(&ws5, &(struct rate){ 2, 60 }, &ws), 0);
	w->ws = ws;
	assert_false(hit(w, 8000, &r));
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.reset_ms, 59000);
	assert_false(hit(w, 65999, &r));
	assert_true(hit(w, 67000, &r));
	/* Beyond the slots, or into buckets: another layout. */
	assert_int_equal(window_shape_with(&ws5, &(struct rate){ 9, 60 }, &ws), -1);
	assert_int_equal(window_shape_with(&ws5, &(struct rate){ 5000, 60 }, &ws), -1);
	assert_int_equal(window_shape_with(&ws5, &(struct rate){ 5, 3600 }, &ws), 0);
	win_free(w);
}

static void test_repair(void **state)
{
	struct win *w = win_new(5, 60);
	(void)state;
	w->e->count = 99;
	assert_int_equal(window_repair(&w->ws, w->e), 1);
	assert_int_equal(w->e->count, 0);
	assert_int_equal(w->e->key, 42);
	assert_int_equal(window_repair(&w->ws, w->e), 0);
	win_free(w);
}

/* A refund gives back exactly the admission it names: the window is as
 * if it had never been made, in the ring and in buckets alike. */
static void test_refund_exact(void **state)
{
	struct window_result r;
	(void)state;

	struct win *w = win_new(3, 60);
	uint64_t t0 = 5000000;
	assert_true(hit(w, t0, &r));
	assert_true(hit(w, t0 + 1000, &r));
	uint64_t mid = r.spent_ms;
	assert_int_equal(mid, t0 + 1000);
	assert_true(hit(w, t0 + 2000, &r));
	assert_false(hit(w, t0 + 3000, &r));
	window_refund(&w->ws, w->e, mid);
	assert_true(hit(w, t0 + 3000, &r)); /* the given-back slot */
	assert_false(hit(w, t0 + 3001, &r));
	/* The oldest still frees at t0 + 60 s, the next at t0 + 62 s: the
	 * refund took t0 + 1 s out, not another time. */
	assert_true(hit(w, t0 + 60000, &r));
	assert_false(hit(w, t0 + 61000, &r));
	assert_int_equal(r.reset_ms, 1000);
	/* An admission that left the window already: nothing to give back. */
	window_refund(&w->ws, w->e, t0);
	assert_false(hit(w, t0 + 61001, &r));
	win_free(w);

	struct win *b = win_new(2000, 3600); /* bucketed */
	assert_true(b->ws.bucketed);
	for (int i = 0; i < 2000; i++)
		assert_true(hit(b, t0 + (uint64_t)i, &r));
	uint64_t spent = r.spent_ms;
	assert_false(hit(b, t0 + 3000, &r));
	window_refund(&b->ws, b->e, spent);
	assert_true(hit(b, t0 + 3000, &r));
	assert_false(hit(b, t0 + 3001, &r));
	win_free(b);
}

/* A cost of c is admitted only if c are left, spent at once, and a
 * refused cost says when enough will be free. Ring and buckets alike,
 * against a model of every admitted unit. */
static void test_cost_against_model(void **state)
{
	static const uint32_t shapes[2][2] = { { 20, 60 }, { 3000, 600 } }; /* ring, bucketed */
	(void)state;

	for (int k = 0; k < 2; k++) {
		struct win *w = win_new(shapes[k][0], shapes[k][1]);
		uint64_t W = (uint64_t)shapes[k][1] * 1000, t = 1, *units = calloc(200000, sizeof(*units));
		size_t nunits = 0;
		struct window_result r;
		srand(11 + k);
		for (int i = 0; i < 20000; i++) {
			t += (uint64_t)(rand() % (k == 0 ? 2000 : 100));
			uint32_t cost = 1 + (uint32_t)(rand() % (k == 0 ? 6 : 300));
			uint64_t live = 0;
			for (size_t j = nunits; j-- > 0 && units[j] + W > t;)
				live++;
			window_decide_cost(&w->ws, w->e, t, cost, 1, &r);
			if (k == 0)
				assert_int_equal(r.admitted, live + cost <= shapes[k][0]); /* exact */
			else if (r.admitted)
				assert_true(live + cost <= shapes[k][0]); /* never over */
			if (r.admitted)
				for (uint32_t c = 0; c < cost; c++)
					units[nunits++] = t;
			else if (k == 0) { /* after reset_ms, cost units are free */
				uint64_t later = t + r.reset_ms, left = 0;
				for (size_t j = nunits; j-- > 0 && units[j] + W > later;)
					left++;
				assert_true(left + cost <= shapes[k][0]);
			}
		}
		free(units);
		win_free(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_boundary),
		cmocka_unit_test(test_refused_not_counted),
		cmocka_unit_test(test_retry_after_is_enough),
		cmocka_unit_test(test_peek_spends_nothing),
		cmocka_unit_test(test_clock_never_goes_back),
		cmocka_unit_test(test_long_idle_and_wrap),
		cmocka_unit_test(test_bucketed_never_over_admits),
		cmocka_unit_test(test_exact_random_against_model),
		cmocka_unit_test(test_rate_change_on_same_layout),
		cmocka_unit_test(test_repair),
		cmocka_unit_test(test_refund_exact),
		cmocka_unit_test(test_cost_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
