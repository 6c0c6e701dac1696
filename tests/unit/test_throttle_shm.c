/* Unit tests: the shared-memory throttle across threads and processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "throttle.h"
#include "throttle_shm.h"

static struct config cfg;

static int setup(void **state)
{
	char err[256];
	(void)state;
	if (sodium_init() < 0)
		return -1;
	config_defaults(&cfg);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "/kg-unit-%d", (int)getpid());
	cfg.capacity = 4096;
	cfg.rate_api_key = (struct rate){ 50, 3600 };
	shm_unlink(cfg.shm_name);
	return config_finish(&cfg, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	shm_unlink(cfg.shm_name);
	return 0;
}

static struct throttle *open_or_die(const struct config *c)
{
	char err[512];
	struct throttle *t = throttle_shm_open(c, err, sizeof(err));
	if (t == NULL)
		fail_msg("open: %s", err);
	return t;
}

static void test_shared_between_opens(void **state)
{
	struct throttle_decision d;
	(void)state;

	struct throttle *a = open_or_die(&cfg), *b = open_or_die(&cfg);
	uint64_t now = throttle_now_ms();
	assert_int_equal(throttle_decide(a, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 7, now, 1, &d), 0);
	assert_true(d.admitted);
	assert_int_equal(d.remaining, 49);
	assert_int_equal(d.limit, 50);
	assert_int_equal(d.window_s, 3600);
	assert_int_equal(throttle_decide(b, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 7, now, 0, &d), 0);
	assert_int_equal(d.remaining, 49);
	/* Scopes are separate tables. */
	assert_int_equal(throttle_decide(b, SCOPE_LOGIN, throttle_rate(&cfg, SCOPE_LOGIN), 7, now, 0, &d), 0);
	assert_int_equal(d.remaining, cfg.rate_login.limit);
	throttle_close(a);
	throttle_close(b);
	/* A restart finds the window where it was. */
	b = open_or_die(&cfg);
	assert_int_equal(throttle_decide(b, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 7, now + 1, 0, &d), 0);
	assert_int_equal(d.remaining, 49);
	throttle_close(b);
}

static void test_other_layout_refused(void **state)
{
	struct config other = cfg;
	char err[512];
	(void)state;

	struct throttle *t = open_or_die(&cfg);
	other.rate_api_key = (struct rate){ 6, 60 };
	assert_null(throttle_shm_open(&other, err, sizeof(err)));
	assert_non_null(strstr(err, "its api_key entries hold 64 times; this api_key rate needs 8"));
	/* A rate that fits the layout (N up to 64, any W) attaches. */
	other.rate_api_key = (struct rate){ 60, 60 };
	struct throttle *same = throttle_shm_open(&other, err, sizeof(err));
	assert_non_null(same);
	assert_int_equal(throttle_fits(same, SCOPE_API_KEY, &(struct rate){ 64, 1 }), 0);
	assert_int_equal(throttle_fits(same, SCOPE_API_KEY, &(struct rate){ 65, 1 }), -1);
	throttle_close(same);
	other = cfg;
	other.capacity = 8192;
	assert_null(throttle_shm_open(&other, err, sizeof(err)));
	assert_non_null(strstr(err, "capacity"));
	throttle_close(t);

	/* Not ours at all: refused, never misread. */
	struct config junk = cfg;
	snprintf(junk.shm_name, sizeof(junk.shm_name), "/kg-unit-junk-%d", (int)getpid());
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm%s", junk.shm_name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 1000; i++)
		fputs("garbage!", f);
	fclose(f);
	assert_null(throttle_shm_open(&junk, err, sizeof(err)));
	assert_non_null(strstr(err, "not a keygate throttle segment"));
	unlink(path);
}

struct hammer {
	struct throttle *t;
	uint64_t key;
	int tries;
	atomic_int *admitted;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct throttle_decision d;
	for (int i = 0; i < h->tries; i++) {
		if (throttle_decide(h->t, SCOPE_API_KEY, &cfg.rate_api_key, h->key, throttle_now_ms(), 1, &d) == 0 &&
		    d.admitted)
			atomic_fetch_add(h->admitted, 1);
	}
	return NULL;
}

/* 64 threads at one key: exactly N admitted. */
static int run_threads(struct throttle *t, uint64_t key, int nthreads)
{
	pthread_t th[64];
	atomic_int admitted = 0;
	struct hammer h = { t, key, 20, &admitted };

	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, hammer_main, &h);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return atomic_load(&admitted);
}

static void test_threads_exact(void **state)
{
	(void)state;
	struct throttle *t = open_or_die(&cfg);
	assert_int_equal(run_threads(t, 1001, 64), 50);
	throttle_close(t);
}

static void test_processes_exact(void **state)
{
	(void)state;
	int *shared = mmap(NULL, sizeof(int) * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			struct throttle *t = open_or_die(&cfg);
			shared[k] = run_threads(t, 2002, 32);
			throttle_close(t);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int st;
		waitpid(kids[k], &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(shared[0] + shared[1], 50);
	munmap(shared, sizeof(int) * 2);
}

static void test_dead_lock_holder_recovered(void **state)
{
	struct throttle_decision d;
	int pfd[2];
	char c;
	(void)state;

	struct throttle *t = open_or_die(&cfg);
	for (int i = 0; i < 3; i++)
		throttle_decide(t, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 3003, throttle_now_ms(), 1, &d);
	uint64_t before = throttle_shm_recoveries(t);
	assert_int_equal(pipe(pfd), 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct throttle *k = open_or_die(&cfg);
		throttle_shm_hold_lock_for_test(k, SCOPE_API_KEY, 3003);
		assert_int_equal(write(pfd[1], "x", 1), 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &c, 1), 1);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	/* The next locker gets the lock back at once and the window holds. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(
	    throttle_decide(t, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 3003, throttle_now_ms(), 1, &d), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(d.admitted);
	assert_int_equal(d.remaining, 46);
	assert_int_equal(throttle_shm_recoveries(t), before + 1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	assert_int_equal(
	    throttle_decide(t, SCOPE_API_KEY, throttle_rate(&cfg, SCOPE_API_KEY), 3003, throttle_now_ms(), 1, &d), 0);
	assert_int_equal(d.remaining, 45);
	close(pfd[0]);
	close(pfd[1]);
	throttle_close(t);
}

static void test_eviction_policy(void **state)
{
	struct config small = cfg;
	struct throttle_decision d;
	(void)state;

	snprintf(small.shm_name, sizeof(small.shm_name), "/kg-unit-small-%d", (int)getpid());
	small.capacity = 16; /* one stripe of 16 slots */
	small.rate_api_key = (struct rate){ 1, 60 };
	shm_unlink(small.shm_name);
	struct throttle *t = open_or_die(&small);
	uint64_t now = 5000000;
	/* 16 keys, each refused once: all are refusing, none may go. */
	for (uint64_t k = 1; k <= 16; k++) {
		assert_int_equal(
		    throttle_decide(t, SCOPE_API_KEY, throttle_rate(&small, SCOPE_API_KEY), k, now, 1, &d), 0);
		assert_true(d.admitted);
		throttle_decide(t, SCOPE_API_KEY, throttle_rate(&small, SCOPE_API_KEY), k, now, 1, &d);
		assert_false(d.admitted);
	}
	/* No room without evicting a refused key: the newcomer waits. */
	assert_int_equal(
	    throttle_decide(t, SCOPE_API_KEY, throttle_rate(&small, SCOPE_API_KEY), 99, now + 1, 1, &d), 0);
	assert_false(d.admitted);
	for (uint64_t k = 1; k <= 16; k++) {
		throttle_decide(t, SCOPE_API_KEY, throttle_rate(&small, SCOPE_API_KEY), k, now + 2, 0, &d);
		assert_false(d.admitted); /* every refused key still refused */
	}
	/* Once windows expire, their slots are reused first. */
	assert_int_equal(
	    throttle_decide(t, SCOPE_API_KEY, throttle_rate(&small, SCOPE_API_KEY), 99, now + 60000, 1, &d), 0);
	assert_true(d.admitted);
	throttle_close(t);
	shm_unlink(small.shm_name);
}

static void test_addr_keys(void **state)
{
	unsigned char a[16] = { 0 }, b[16] = { 0 };
	(void)state;
	struct throttle *t = open_or_die(&cfg), *u = open_or_die(&cfg);
	a[15] = 1;
	b[15] = 2;
	assert_int_equal(throttle_key_addr(t, a), throttle_key_addr(u, a));
	assert_true(throttle_key_addr(t, a) != throttle_key_addr(t, b));
	assert_true(throttle_key_addr(t, a) != 0);
	throttle_close(t);
	throttle_close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_between_opens),
		cmocka_unit_test(test_other_layout_refused),
		cmocka_unit_test(test_threads_exact),
		cmocka_unit_test(test_processes_exact),
		cmocka_unit_test(test_dead_lock_holder_recovered),
		cmocka_unit_test(test_eviction_policy),
		cmocka_unit_test(test_addr_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
