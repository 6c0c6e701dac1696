/*
 * Throttle micro-benchmark: nanoseconds per decision of the shared-memory
 * throttle with the default rate (5/minute), on one key (every thread the
 * same key) and on distinct keys (each thread cycling over 64 keys of its
 * own), with 1 and 2 threads; and the shared memory per tracked key.
 * Prints one JSON object.
 * Usage: throttle_bench SHM_NAME
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "config.h"
#include "throttle.h"
#include "throttle_shm.h"
#include "throttle_window.h"

#define DECISIONS 2000000u
#define KEYS_PER_THREAD 64u /* each thread its own keys: no key is shared */
#define REPEAT 5

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

/* Median over REPEAT runs of the mean ns per decision of each thread, and
 * the decisions per second of all threads together. */
static void measure(int nthreads, int distinct, double *ns, double *per_s)
{
	double v[REPEAT], rate[REPEAT];
	for (int k = 0; k < REPEAT; k++) {
		pthread_t th[2];
		struct run runs[2] = { { distinct, 0, 0 }, { distinct, 1000000, 0 } };
		double t0 = now_ns();
		for (int i = 0; i < nthreads; i++)
			pthread_create(&th[i], NULL, worker, &runs[i]);
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		double wall = now_ns() - t0;
		v[k] = (runs[0].ns + (nthreads > 1 ? runs[1].ns : runs[0].ns)) / 2;
		rate[k] = (double)DECISIONS * nthreads / wall * 1e9;
	}
	qsort(v, REPEAT, sizeof(v[0]), cmp);
	qsort(rate, REPEAT, sizeof(rate[0]), cmp);
	*ns = v[REPEAT / 2];
	*per_s = rate[REPEAT / 2];
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

int main(int argc, char **argv)
{
	char err[512];
	double ns[4], rate[4], redis_ns = 0, redis_per_s = 0;

	if (argc < 2 || sodium_init() < 0)
		return 2;
	config_defaults(&cfg);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", argv[1]);
	cfg.capacity = 65536;
	cfg.rate_api_key = (struct rate){ 5, 60 }; /* the default: exact ring of 8 */
	cfg.rate_login = cfg.rate_signup = cfg.rate_invalid_key = (struct rate){ 1, 1 };
	if (config_finish(&cfg, err, sizeof(err)) == -1)
		return 2;
	shm_unlink(cfg.shm_name);
	thr = throttle_open(&cfg, err, sizeof(err));
	if (thr == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	measure(1, 0, &ns[0], &rate[0]);
	measure(1, 1, &ns[1], &rate[1]);
	measure(2, 0, &ns[2], &rate[2]);
	measure(2, 1, &ns[3], &rate[3]);
	if (argc > 2)
		redis_figures(argv[2], &redis_ns, &redis_per_s);
	printf("{\"redis_1t_ns\":%.0f,\"redis_1t_per_s\":%.0f,", redis_ns, redis_per_s);
	printf("\"one_key_1t_ns\":%.1f,\"distinct_1t_ns\":%.1f,\"one_key_2t_ns\":%.1f,\"distinct_2t_ns\":%.1f,"
	       "\"distinct_1t_per_s\":%.0f,\"distinct_2t_per_s\":%.0f,\"distinct_2t_over_1t\":%.2f,"
	       "\"one_key_2t_over_1t\":%.2f,\"keys_per_thread\":%u,\"bytes_per_key_api_key\":%u,"
	       "\"bytes_per_key_default_config\":%u}\n",
	    ns[0], ns[1], ns[2], ns[3], rate[1], rate[3], rate[3] / rate[1], rate[2] / rate[0], KEYS_PER_THREAD,
	    throttle_shm_entry_size(thr, SCOPE_API_KEY), default_entry_size());
	throttle_close(thr);
	shm_unlink(cfg.shm_name);
	return 0;
}
