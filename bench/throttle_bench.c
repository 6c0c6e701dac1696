/*
 * Throttle micro-benchmark: nanoseconds per decision of the shared-memory
 * throttle with the default rate (5/minute), on one key (every thread the
 * same key) and on distinct keys (each thread cycling over 64 keys of its
 * own), with 1 and 2 threads; and the shared memory per tracked key.
 * Prints one JSON object.
 * Usage: throttle_bench SHM_NAME [REDIS_ADDRESS]
 *        throttle_bench --redis-decisions REDIS_ADDRESS N [IN_FLIGHT]
 * The second makes N decisions on one key at 1000000/s, as GET /books/ in
 * the backends bench does, for bench.py to count what Redis executes for
 * them: in place, one at a time, or with IN_FLIGHT of them queued at once
 * for the pipelining thread, as an HTTP server under load queues them. It
 * prints how many were admitted.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/config.h"
#include "throttle/throttle.h"
#include "throttle/throttle_shm.h"
#include "throttle/throttle_window.h"

#define DECISIONS 2000000u
#define KEYS_PER_THREAD 64u /* each thread its own keys: no key is shared */
#define REPEAT 9

static struct config cfg;
static struct throttle *thr;

struct run {
	int distinct;
	uint64_t base; /* keys of this thread start here */
	double ns; /* per decision, this thread */
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct throttle_decision d;
	uint64_t now = throttle_now_ms();
	double t0 = now_ns();
	for (uint32_t i = 0; i < DECISIONS; i++) {
		uint64_t key = r->distinct ? r->base + (i % KEYS_PER_THREAD) + 1 : 42;
		throttle_decide(thr, SCOPE_API_KEY, &cfg.rate_api_key, key, now + i / 1000, 1, &d);
	}
	r->ns = (now_ns() - t0) / DECISIONS;
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One run: the mean ns per decision of the threads, and the decisions per
 * second of all of them together. */
static void run_once(int nthreads, int distinct, double *ns, double *per_s)
{
	pthread_t th[2];
	struct run runs[2] = { { distinct, 0, 0 }, { distinct, 1000000, 0 } };
	double t0 = now_ns();

	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, &runs[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	*ns = (runs[0].ns + (nthreads > 1 ? runs[1].ns : runs[0].ns)) / 2;
	*per_s = (double)DECISIONS * nthreads / (now_ns() - t0) * 1e9;
}

static double median(double *v)
{
	qsort(v, REPEAT, sizeof(v[0]), cmp);
	return v[REPEAT / 2];
}

/*
 * 1 and 2 threads, alternated REPEAT times: medians of each, and the
 * median of the 2-thread/1-thread ratio of each pair of neighbouring runs
 * (measured one after the other, the ratio moved 1.4-2.1 with the
 * machine's load between the two phases).
 */
struct figures {
	double ns1, ns2, per_s1, per_s2, ratio;
};

static void measure(int distinct, struct figures *f)
{
	double ns1[REPEAT], ns2[REPEAT], r1[REPEAT], r2[REPEAT], ratio[REPEAT];

	for (int k = 0; k < REPEAT; k++) {
		run_once(1, distinct, &ns1[k], &r1[k]);
		run_once(2, distinct, &ns2[k], &r2[k]);
		ratio[k] = r2[k] / r1[k];
	}
	f->ns1 = median(ns1);
	f->ns2 = median(ns2);
	f->per_s1 = median(r1);
	f->per_s2 = median(r2);
	f->ratio = median(ratio);
}

/* Bytes per tracked api_key entry with the default 5/minute. */
static unsigned default_entry_size(void)
{
	struct window_shape ws;
	window_shape_init(&ws, &(struct rate){ 5, 60 });
	return ws.entry_size;
}

/* With a Redis address: the same decisions on the Redis backend, one
 * thread, fewer of them (each is a network round trip). */
static void redis_figures(const char *address, double *ns, double *per_s)
{
	struct config rc = cfg;
	struct throttle_decision d;
	char err[512];

	rc.backend_redis = 1;
	snprintf(rc.redis_address, sizeof(rc.redis_address), "%s", address);
	struct throttle *t = throttle_open(&rc, err, sizeof(err));
	*ns = *per_s = 0;
	if (t == NULL)
		return;
	const unsigned n = 20000;
	double t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		throttle_decide(t, SCOPE_API_KEY, &rc.rate_api_key, 1 + i % KEYS_PER_THREAD, 0, 1, &d);
	double el = now_ns() - t0;
	*ns = el / n;
	*per_s = n / el * 1e9;
	throttle_close(t);
}

/* Distinct keys, one thread, on a scope of two windows (5/minute,
 * 100/day): what a second window costs a decision. */
static double two_windows_ns(const char *name)
{
	struct config two = cfg;
	struct figures f;
	char err[512], seg[sizeof(two.shm_name)];

	snprintf(seg, sizeof(seg), "%.56s-two", name);
	snprintf(two.shm_name, sizeof(two.shm_name), "%s", seg);
	two.rate_api_key = (struct rate_set){ 2, { { 5, 60 }, { 100, 86400 } } };
	shm_unlink(seg);
	struct throttle *one = thr;
	thr = throttle_open(&two, err, sizeof(err));
	if (thr == NULL) {
		thr = one;
		return 0;
	}
	struct config keep = cfg;
	cfg = two; /* what the workers decide by */
	measure(1, &f);
	cfg = keep;
	throttle_close(thr);
	thr = one;
	shm_unlink(seg);
	return f.ns1;
}

/* Jobs kept queued for the pipelining thread: each done queues the next
 * until all are out. */
struct in_flight {
	pthread_mutex_t lock;
	pthread_cond_t all_done;
	struct throttle *t;
	unsigned left, done, admitted;
};

static struct in_flight flight = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0 };

static void job_done(struct throttle_job *job)
{
	pthread_mutex_lock(&flight.lock);
	flight.done++;
	flight.admitted += job->rc == 0 && job->d.admitted;
	int again = flight.left > 0;
	flight.left -= again;
	if (!again) /* none left to queue: the waiter counts what is done */
		pthread_cond_signal(&flight.all_done);
	pthread_mutex_unlock(&flight.lock);
	if (again)
		throttle_decide_async(flight.t, job);
}

static unsigned decide_in_flight(struct throttle *t, const struct rate_set *rate, unsigned n, unsigned width)
{
	struct throttle_job *jobs = width <= n ? calloc(width, sizeof(*jobs)) : NULL;
	if (jobs == NULL)
		return 0;
	flight.t = t;
	flight.left = n - width;
	for (unsigned i = 0; i < width; i++) {
		jobs[i] = (struct throttle_job){ .scope = SCOPE_API_KEY, .rate = *rate, .key = 1, .spend = 1,
			.done = job_done };
		throttle_decide_async(t, &jobs[i]);
	}
	pthread_mutex_lock(&flight.lock);
	while (flight.done < n)
		pthread_cond_wait(&flight.all_done, &flight.lock);
	pthread_mutex_unlock(&flight.lock);
	throttle_async_stop(t);
	free(jobs);
	return flight.admitted;
}

/* n decisions, each admitted unless Redis failed; the count of admitted
 * ones on stdout. */
static int redis_decisions(const char *address, unsigned n, unsigned width)
{
	struct config rc;
	struct throttle_decision d;
	char err[512];
	unsigned admitted = 0;

	config_defaults(&rc);
	rc.backend_redis = 1;
	snprintf(rc.redis_address, sizeof(rc.redis_address), "%s", address);
	rc.rate_api_key = rate_set_of(1000000, 1);
	if (config_finish(&rc, err, sizeof(err)) == -1)
		return 2;
	struct throttle *t = throttle_open(&rc, err, sizeof(err));
	if (t == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (width > 1 && throttle_async(t))
		admitted = decide_in_flight(t, &rc.rate_api_key, n, width);
	else
		for (unsigned i = 0; i < n; i++)
			if (throttle_decide(t, SCOPE_API_KEY, &rc.rate_api_key, 1, 0, 1, &d) == 0 && d.admitted)
				admitted++;
	throttle_close(t);
	printf("%u\n", admitted);
	return 0;
}

int main(int argc, char **argv)
{
	char err[512];
	struct figures one, distinct;
	double redis_ns = 0, redis_per_s = 0;

	if (argc < 2 || sodium_init() < 0)
		return 2;
	if (strcmp(argv[1], "--redis-decisions") == 0)
		return argc >= 4 ? redis_decisions(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
				       argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1)
				 : 2;
	config_defaults(&cfg);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", argv[1]);
	cfg.capacity = 65536;
	cfg.rate_api_key = rate_set_of(5, 60); /* the default: exact ring of 8 */
	cfg.rate_login = cfg.rate_signup = cfg.rate_invalid_key = rate_set_of(1, 1);
	if (config_finish(&cfg, err, sizeof(err)) == -1)
		return 2;
	shm_unlink(cfg.shm_name);
	thr = throttle_open(&cfg, err, sizeof(err));
	if (thr == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	measure(0, &one);
	measure(1, &distinct);
	double two_ns = two_windows_ns(argv[1]);
	if (argc > 2)
		redis_figures(argv[2], &redis_ns, &redis_per_s);
	printf("{\"redis_1t_ns\":%.0f,\"redis_1t_per_s\":%.0f,", redis_ns, redis_per_s);
	printf("\"one_key_1t_ns\":%.1f,\"distinct_1t_ns\":%.1f,\"one_key_2t_ns\":%.1f,\"distinct_2t_ns\":%.1f,"
	       "\"distinct_1t_per_s\":%.0f,\"distinct_2t_per_s\":%.0f,\"distinct_2t_over_1t\":%.2f,"
	       "\"one_key_2t_over_1t\":%.2f,\"keys_per_thread\":%u,\"bytes_per_key_api_key\":%u,"
	       "\"bytes_per_key_default_config\":%u,\"two_windows_distinct_1t_ns\":%.1f}\n",
	    one.ns1, distinct.ns1, one.ns2, distinct.ns2, distinct.per_s1, distinct.per_s2, distinct.ratio, one.ratio,
	    KEYS_PER_THREAD,
	    throttle_shm_entry_size(thr, SCOPE_API_KEY), default_entry_size(), two_ns);
	throttle_close(thr);
	shm_unlink(cfg.shm_name);
	return 0;
}
