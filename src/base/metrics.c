/* metrics.c: the process's counters, sharded per thread. */
#include "base/metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const unsigned metrics_statuses[METRICS_NSTATUS - 1] = { 200, 201, 204, 400, 401, 404, 405, 413, 414, 415, 429, 431,
	500, 503 };
const double metrics_bounds[METRICS_NBOUNDS] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5 };

/* A shard holds the snapshot's fields as relaxed atomics, in the same
 * layout, so that summing is one loop over its words. A thread counts in
 * its own shard (no cache line shared between cores on the request path);
 * shards are made on a thread's first count and kept to the end. */
#define NWORDS (sizeof(struct metrics_snapshot) / sizeof(unsigned long))
struct shard {
	atomic_ulong word[NWORDS];
	struct shard *next;
};
_Static_assert(sizeof(atomic_ulong) == sizeof(unsigned long), "a shard word is an unsigned long");
_Static_assert(sizeof(struct metrics_snapshot) % sizeof(unsigned long) == 0, "a snapshot is all words");

#define WORD(field) (offsetof(struct metrics_snapshot, field) / sizeof(unsigned long))

static struct shard *_Atomic shards;
static _Thread_local struct shard *mine;

static struct shard *my_shard(void)
{
	if (mine == NULL) {
		/* Out of memory: count in a shared fallback shard instead. */
		static struct shard fallback;
		struct shard *s = calloc(1, sizeof(*s));
		if (s == NULL)
			return &fallback;
		s->next = atomic_load_explicit(&shards, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(
		    &shards, &s->next, s, memory_order_release, memory_order_relaxed))
			;
		mine = s;
	}
	return mine;
}

static void add(size_t word, unsigned long n)
{
	atomic_fetch_add_explicit(&my_shard()->word[word], n, memory_order_relaxed);
}

static size_t status_index(unsigned status)
{
	for (size_t i = 0; i < METRICS_NSTATUS - 1; i++)
		if (metrics_statuses[i] == status)
			return i;
	return METRICS_NSTATUS - 1;
}

void metrics_request(int route, unsigned status, uint64_t usec)
{
	size_t r = route >= 0 && route < METRICS_ROUTES_MAX ? (size_t)route : METRICS_ROUTES_MAX;
	add(WORD(requests[r][status_index(status)]), 1);
	size_t b = 0;
	while (b < METRICS_NBOUNDS && (double)usec / 1e6 > metrics_bounds[b])
		b++;
	add(WORD(latency_buckets[b]), 1);
	add(WORD(latency_sum_usec), usec);
}

void metrics_throttle(int scope, int admitted)
{
	if (scope >= 0 && scope < METRICS_SCOPES_MAX)
		add(WORD(decisions[scope][admitted ? 0 : 1]), 1);
}

/* A connection may close on another thread than it opened on (at stop):
 * the sum over shards, modulo 2^64, is what counts. */
void metrics_connection(int delta)
{
	add(WORD(connections), (unsigned long)(long)delta);
}

void metrics_store_error(int unavailable)
{
	add(WORD(store_errors[unavailable ? 1 : 0]), 1);
}

void metrics_throttle_error(void)
{
	add(WORD(throttle_errors), 1);
}

void metrics_forwarded_ignored(void)
{
	add(WORD(forwarded_ignored), 1);
}

void metrics_apikey_unknown(void)
{
	add(WORD(apikey_unknown), 1);
}

void metrics_snapshot(struct metrics_snapshot *out)
{
	unsigned long sum[NWORDS];

	memset(sum, 0, sizeof(sum));
	for (struct shard *s = atomic_load_explicit(&shards, memory_order_acquire); s != NULL; s = s->next)
		for (size_t w = 0; w < NWORDS; w++)
			sum[w] += atomic_load_explicit(&s->word[w], memory_order_relaxed);
	memcpy(out, sum, sizeof(*out));
}
