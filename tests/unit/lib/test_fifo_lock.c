/* Unit tests: fifo_lock, the store's queue of writers (arrival order,
 * bounded waits, mutual exclusion). Also run under TSan by make check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "lib/fifo_lock.h"

static struct fifo_lock lock;
static int order[8];
static int norder;

struct waiter {
	pthread_t thread;
	int id;
	int timeout_ms;
	int rc;
};

static void *take_and_record(void *arg)
{
	struct waiter *w = arg;
	w->rc = fifo_lock_acquire(&lock, w->timeout_ms);
	if (w->rc == 0) {
		order[norder++] = w->id; /* under the lock */
		fifo_lock_release(&lock);
	}
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start w and return once it waits in the queue (n waiters in all). */
static void start_queued(struct waiter *w, int n)
{
	pthread_create(&w->thread, NULL, take_and_record, w);
	for (int i = 0; i < 5000 && fifo_lock_waiters(&lock) < n; i++)
		sleep_ms(1);
	assert_int_equal(fifo_lock_waiters(&lock), n);
}

static int setup(void **state)
{
	(void)state;
	fifo_lock_init(&lock);
	norder = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fifo_lock_destroy(&lock);
	return 0;
}

static void test_uncontended(void **state)
{
	(void)state;
	assert_int_equal(fifo_lock_acquire(&lock, 10), 0);
	fifo_lock_release(&lock);
	assert_int_equal(fifo_lock_acquire(&lock, 10), 0);
	fifo_lock_release(&lock);
	assert_int_equal(fifo_lock_waiters(&lock), 0);
}

/* Granted in arrival order; the releasing thread, asking again at once,
 * comes after those already waiting (a mutex would let it in first). */
static void test_arrival_order_and_no_barging(void **state)
{
	struct waiter w[4];
	(void)state;

	assert_int_equal(fifo_lock_acquire(&lock, 1000), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){ .id = i + 1, .timeout_ms = 5000 };
		start_queued(&w[i], i + 1);
	}
	fifo_lock_release(&lock);
	assert_int_equal(fifo_lock_acquire(&lock, 5000), 0);
	order[norder++] = 9;
	fifo_lock_release(&lock);
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(norder, 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(order[i], i + 1);
	assert_int_equal(order[4], 9);
}

/* A wait that times out leaves; the ones before and after it are served. */
static void test_timeout_leaves_the_queue_intact(void **state)
{
	struct waiter a = { .id = 1, .timeout_ms = 5000 }, b = { .id = 2, .timeout_ms = 30 },
		      c = { .id = 3, .timeout_ms = 5000 };
	(void)state;

	assert_int_equal(fifo_lock_acquire(&lock, 1000), 0);
	start_queued(&a, 1);
	start_queued(&b, 2);
	start_queued(&c, 3);
	pthread_join(b.thread, NULL);
	assert_int_equal(b.rc, -1);
	assert_int_equal(fifo_lock_waiters(&lock), 2);
	fifo_lock_release(&lock);
	pthread_join(a.thread, NULL);
	pthread_join(c.thread, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(fifo_lock_waiters(&lock), 0);
}

#define ROUNDS 20000
static long counter; /* plain: only the lock protects it */

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (fifo_lock_acquire(&lock, 10000) != 0)
			return NULL;
		counter++;
		fifo_lock_release(&lock);
	}
	return NULL;
}

static void test_mutual_exclusion(void **state)
{
	pthread_t t[4];
	(void)state;

	counter = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter, 4L * ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uncontended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arrival_order_and_no_barging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_leaves_the_queue_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutual_exclusion, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
