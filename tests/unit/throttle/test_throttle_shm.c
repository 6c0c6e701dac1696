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

#include "base/config.h"
#include "throttle/throttle.h"
#include "lib/siphash13.h"
#include "throttle/throttle_shm.h"

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
	cfg.rate_api_key = rate_set_of(50, 3600);
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
	assert_int_equal(d.remaining, cfg.rate_login.w[0].limit);
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
	other.rate_api_key = rate_set_of(6, 60);
	assert_null(throttle_shm_open(&other, err, sizeof(err)));
	assert_non_null(strstr(err, "its api_key entries hold 64 times; this api_key rate needs 8"));
	/* A rate that fits the layout (N up to 64, any W) but is not the
	 * segment's: refused too, or two processes would count by two rates. */
	other.rate_api_key = rate_set_of(60, 60);
	assert_null(throttle_shm_open(&other, err, sizeof(err)));
	assert_non_null(strstr(err, "its api_key windows count 50 per 3600s and this configuration says 60 per 60s"));
	/* A reload makes it the segment's rate: every process decides by it. */
	assert_int_equal(throttle_fits(t, SCOPE_API_KEY, &(struct rate_set){ 1, { { 64, 1 } } }), 0);
	assert_int_equal(throttle_fits(t, SCOPE_API_KEY, &(struct rate_set){ 1, { { 65, 1 } } }), -1);
	assert_int_equal(throttle_set_rate(t, SCOPE_API_KEY, &other.rate_api_key), 0);
	struct throttle *same = throttle_shm_open(&other, err, sizeof(err));
	assert_non_null(same);
	struct throttle_decision d;
	assert_int_equal(throttle_decide(same, SCOPE_API_KEY, &other.rate_api_key, 77, throttle_now_ms(), 1, &d), 0);
	assert_int_equal(d.limit, 60);
	assert_int_equal(d.window_s, 60);
	/* Rates other than the scope's own are a tier's: decided as given,
	 * within the layout. */
	assert_int_equal(
	    throttle_decide(same, SCOPE_API_KEY, &(struct rate_set){ 1, { { 64, 30 } } }, 78, throttle_now_ms(), 1, &d), 0);
	assert_int_equal(d.limit, 64);
	assert_int_equal(d.window_s, 30);
	assert_int_equal(
	    throttle_decide(same, SCOPE_API_KEY, &(struct rate_set){ 1, { { 65, 30 } } }, 78, throttle_now_ms(), 1, &d), -1);
	assert_int_equal(throttle_set_rate(t, SCOPE_API_KEY, &cfg.rate_api_key), 0);
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

static struct throttle *open_small(struct config *small, unsigned capacity, struct rate_set rate, const char *tag)
{
	*small = cfg;
	snprintf(small->shm_name, sizeof(small->shm_name), "/kg-unit-%s-%d", tag, (int)getpid());
	small->capacity = capacity;
	small->rate_api_key = rate;
	shm_unlink(small->shm_name);
	return open_or_die(small);
}

/* A writer killed in the middle of a backward shift (a slot of a cluster
 * emptied, the next move not yet made) leaves keys behind the empty slot;
 * the next locker places the stripe again, so that their windows are
 * found, not handed out afresh. */
static void test_dead_shifter_leaves_no_key_unreachable(void **state)
{
	struct config small;
	struct throttle_decision d;
	uint64_t key = 0;
	int pfd[2];
	(void)state;

	struct throttle *t = open_small(&small, 16, rate_set_of(1, 60), "shift"); /* one stripe of 16 */
	uint64_t now = throttle_now_ms();
	for (uint64_t k = 1; k <= 13; k++) {
		assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, k, now, 1, &d), 0);
		assert_true(d.admitted);
	}
	assert_int_equal(pipe(pfd), 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct throttle *k = open_or_die(&small);
		uint64_t moved = throttle_shm_break_cluster_for_test(k, SCOPE_API_KEY);
		assert_int_equal(write(pfd[1], &moved, sizeof(moved)), (ssize_t)sizeof(moved));
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &key, sizeof(key)), (ssize_t)sizeof(key));
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	assert_true(key != 0); /* 13 keys in 16 slots: some live past their homes */
	assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, key, now + 1, 1, &d), 0);
	assert_false(d.admitted); /* its one admission is still counted */
	assert_false(d.full);
	close(pfd[0]);
	close(pfd[1]);
	throttle_close(t);
	shm_unlink(small.shm_name);
}

/* A table full of live windows refuses the newcomer (full, with the time
 * until a slot frees) and forgets none of them; expired ones make room. */
static void test_full_table_refuses_newcomers(void **state)
{
	struct config small;
	struct throttle_decision d;
	(void)state;

	struct throttle *t = open_small(&small, 16, rate_set_of(1, 60), "small"); /* one stripe of 16 */
	uint64_t now = 5000000;
	for (uint64_t k = 1; k <= 16; k++) {
		assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, k, now + k, 1, &d), 0);
		assert_true(d.admitted);
	}
	assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, 99, now + 100, 1, &d), 0);
	assert_false(d.admitted);
	assert_true(d.full);
	assert_int_equal(d.reset_ms, 60000 + 1 - 100); /* key 1's window ends first */
	for (uint64_t k = 1; k <= 16; k++) {
		throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, k, now + 200, 1, &d);
		assert_false(d.admitted); /* every window still there */
		assert_false(d.full);
	}
	struct throttle_stats st;
	assert_int_equal(throttle_stats(t, SCOPE_API_KEY, &st), 0);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.used, 16);
	/* Key 1's window ends at now + 60001: then the newcomer has its slot,
	 * and nobody else's window was touched. */
	assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, 99, now + 60001, 1, &d), 0);
	assert_true(d.admitted);
	for (uint64_t k = 2; k <= 16; k++) {
		throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, k, now + 60001, 0, &d);
		assert_false(d.admitted);
	}
	throttle_close(t);
	shm_unlink(small.shm_name);
}

/* The documented bound: a default table (capacity 65,536) filled to 75%
 * with random keys refuses no newcomer. */
static void test_default_table_at_75_percent(void **state)
{
	struct config def;
	struct throttle_decision d;
	char err[256];
	(void)state;

	config_defaults(&def);
	snprintf(def.shm_name, sizeof(def.shm_name), "/kg-unit-fill-%d", (int)getpid());
	assert_int_equal(config_finish(&def, err, sizeof(err)), 0);
	shm_unlink(def.shm_name);
	struct throttle *t = open_or_die(&def);
	uint64_t n = (uint64_t)def.capacity * 3 / 4, refused = 0, now = 9000000;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t key;
		randombytes_buf(&key, sizeof(key));
		assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &def.rate_api_key, key | 1, now, 1, &d), 0);
		refused += !d.admitted;
	}
	struct throttle_stats st;
	assert_int_equal(throttle_stats(t, SCOPE_API_KEY, &st), 0);
	printf("    %llu random keys in a table of %llu: %llu refused\n", (unsigned long long)n,
	    (unsigned long long)st.capacity, (unsigned long long)refused);
	assert_int_equal(refused, 0);
	assert_int_equal(st.used, n);
	throttle_close(t);
	shm_unlink(def.shm_name);
}

/* splitmix64's finalizer: the unkeyed placement of layout 3. */
static uint64_t old_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* An account farm picks user ids that an unkeyed placement puts in one
 * stripe (here: layout 3's, 4,096 stripes of 16): keyed, they spread,
 * nobody is refused for room, and nobody gets more than N. */
static void test_aimed_ids_spread(void **state)
{
	struct config def;
	struct throttle_decision d;
	uint64_t ids[600];
	int n = 0;
	char err[256];
	(void)state;

	config_defaults(&def);
	snprintf(def.shm_name, sizeof(def.shm_name), "/kg-unit-aim-%d", (int)getpid());
	assert_int_equal(config_finish(&def, err, sizeof(err)), 0);
	shm_unlink(def.shm_name);
	for (uint64_t id = 1; n < 600; id++)
		if (old_mix(id) % 4096 == 7)
			ids[n++] = id;
	struct throttle *t = open_or_die(&def);
	uint32_t first = throttle_shm_home_stripe_for_test(t, SCOPE_API_KEY, ids[0]);
	int same = 0;
	for (int i = 0; i < n; i++)
		same += throttle_shm_home_stripe_for_test(t, SCOPE_API_KEY, ids[i]) == first;
	assert_true(same < 30); /* 600 over 128 stripes: about 5 each */
	uint64_t now = 7000000;
	int admitted[600] = { 0 };
	for (int round = 0; round < 8; round++)
		for (int i = 0; i < n; i++) {
			assert_int_equal(throttle_decide(t, SCOPE_API_KEY, &def.rate_api_key, ids[i], now++, 1, &d), 0);
			assert_false(d.full);
			admitted[i] += d.admitted;
		}
	for (int i = 0; i < n; i++)
		assert_int_equal(admitted[i], 5);
	throttle_close(t);
	shm_unlink(def.shm_name);
}

/* Random keys coming and going in one small stripe (backward-shift
 * deletion at work), against a model: a key is admitted iff fewer than N
 * of its admissions are in the window, and a newcomer is refused for room
 * iff every slot holds a live window. */
struct model_key {
	uint64_t times[4];
	int n;
	uint64_t blocked_until;
};

static int model_live(const struct model_key *m, uint64_t now, uint64_t w)
{
	int live = 0;
	for (int i = 0; i < m->n; i++)
		live += m->times[i] + w > now;
	return live;
}

static void test_churn_against_model(void **state)
{
	struct config small;
	struct throttle_decision d;
	struct model_key keys[200];
	const uint64_t w = 1000;
	(void)state;

	memset(keys, 0, sizeof(keys));
	struct throttle *t = open_small(&small, 64, rate_set_of(3, 1), "churn");
	uint64_t now = 1000000;
	int fulls = 0;
	srand(13);
	for (int step = 0; step < 200000; step++) {
		now += (uint64_t)(rand() % 7);
		int k = rand() % 200;
		int occupied = 0;
		for (int j = 0; j < 200; j++)
			if (j != k && (model_live(&keys[j], now, w) > 0 || keys[j].blocked_until > now))
				occupied++;
		struct model_key *m = &keys[k];
		int has = model_live(m, now, w) > 0 || m->blocked_until > now;
		assert_int_equal(
		    throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, (uint64_t)k + 1, now, 1, &d), 0);
		if (!has && occupied == 64) {
			assert_true(d.full);
			fulls++;
			continue;
		}
		if (d.full) {
			struct throttle_stats st;
			throttle_stats(t, SCOPE_API_KEY, &st);
			fail_msg("step %d: key %d refused for room with %d others live, used %llu", step, k, occupied,
			    (unsigned long long)st.used);
		}
		int live = model_live(m, now, w);
		assert_int_equal(d.admitted, live < 3);
		if (d.admitted) {
			/* keep the times in the window, newest last */
			int j = 0;
			for (int i = 0; i < m->n; i++)
				if (m->times[i] + w > now)
					m->times[j++] = m->times[i];
			m->times[j++] = now;
			m->n = j;
		} else {
			m->blocked_until = now + d.reset_ms;
		}
	}
	assert_true(fulls > 1000); /* the hard case was met, often */
	throttle_close(t);
	shm_unlink(small.shm_name);
}

/* A decision, or a forget (keygate quota reset), that meets SIGBUS (the
 * segment truncated under it) fails and gives its stripe lock back:
 * nobody waits on it for ever. */
static void sigbus_case(int forget)
{
	struct config small;
	struct throttle_decision d;
	char path[128];

	/* Under ThreadSanitizer the jump out of the handler leaves SIGBUS
	 * blocked in this thread (its interception of signals loses keygate's
	 * SA_NODEFER), and a second case here would die of it. */
	sigset_t bus;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	struct throttle *t = open_small(&small, 1024, rate_set_of(5, 60), "bus");
	snprintf(path, sizeof(path), "/dev/shm%s", small.shm_name);
	size_t size = throttle_shm_size(t);
	/* Keep the header and the api_key locks (the first scope's, right
	 * after the header, in the first page), cut its table: a key of its
	 * second stripe lives well past the first page. */
	uint64_t key = 1;
	while (throttle_shm_home_stripe_for_test(t, SCOPE_API_KEY, key) != 1)
		key++;
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 4096), 0);
	if (forget)
		assert_int_equal(throttle_forget(t, SCOPE_API_KEY, key), -1);
	else
		assert_int_equal(
		    throttle_decide(t, SCOPE_API_KEY, &small.rate_api_key, key, throttle_now_ms(), 1, &d), -1);
	assert_int_equal(throttle_healthy(t), -1);
	assert_int_equal(ftruncate(fileno(f), (off_t)size), 0);
	fclose(f);
	assert_true(throttle_shm_lock_free_for_test(t, SCOPE_API_KEY, key));
	throttle_close(t);
	shm_unlink(small.shm_name);
}

static void test_sigbus_releases_lock(void **state)
{
	(void)state;
	sigbus_case(0);
}

static void test_sigbus_forget_releases_lock(void **state)
{
	(void)state;
	sigbus_case(1);
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

/* The placement hash is SipHash-1-3: key 00..0f, message 00..07 (as one
 * little-endian word), checked against a reference that gives the
 * published SipHash-2-4 vector for the same input. */
static void test_siphash13_vector(void **state)
{
	(void)state;
	assert_int_equal(
	    siphash13_u64(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull, 0x0706050403020100ull), 0x369095118d299a8eull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_between_opens),
		cmocka_unit_test(test_other_layout_refused),
		cmocka_unit_test(test_threads_exact),
		cmocka_unit_test(test_processes_exact),
		cmocka_unit_test(test_dead_shifter_leaves_no_key_unreachable),
		cmocka_unit_test(test_dead_lock_holder_recovered),
		cmocka_unit_test(test_full_table_refuses_newcomers),
		cmocka_unit_test(test_default_table_at_75_percent),
		cmocka_unit_test(test_aimed_ids_spread),
		cmocka_unit_test(test_churn_against_model),
		cmocka_unit_test(test_sigbus_releases_lock),
		cmocka_unit_test(test_sigbus_forget_releases_lock),
		cmocka_unit_test(test_addr_keys),
		cmocka_unit_test(test_siphash13_vector),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
