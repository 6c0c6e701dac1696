#ifndef KEYGATE_METRICS_H
#define KEYGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Process-wide counters for GET /metrics: a leaf that counts, knowing
 * nothing of routes or throttle scopes beyond their indexes; the admin
 * listener renders them (server/metrics_render.c).
 * THREAD SAFETY: each thread counts in a shard of its own (relaxed
 * atomics, so a reader may read them); shards join a lock-free list on
 * first use; metrics_snapshot sums them. Figures are per process.
 */

#define METRICS_ROUTES_MAX 32 /* route indexes; router.c asserts its table fits */
#define METRICS_SCOPES_MAX 16 /* throttle scope indexes; throttle.h asserts they fit */
#define METRICS_ROUTE_UNMATCHED (-1)
#define METRICS_NSTATUS 15 /* the statuses below, then "other" */
#define METRICS_NBOUNDS 15

/* The statuses counted one by one, and the latency buckets' upper bounds (s). */
extern const unsigned metrics_statuses[METRICS_NSTATUS - 1];
extern const double metrics_bounds[METRICS_NBOUNDS];

/* A finished request: its route (index into router_routes, or
 * METRICS_ROUTE_UNMATCHED), status and duration. */
void metrics_request(int route, unsigned status, uint64_t usec);
/* A throttle decision in scope (an enum throttle_scope). */
void metrics_throttle(int scope, int admitted);
void metrics_connection(int delta);
/* A failed storage call; unavailable: the database did not answer. */
void metrics_store_error(int unavailable);
/* The throttle's store (Redis) failed or did not answer. */
void metrics_throttle_error(void);
/* An X-Forwarded-For from a peer that is not a trusted proxy, ignored. */
void metrics_forwarded_ignored(void);
/* An API key looked up and not found. */
void metrics_apikey_unknown(void);

/* Every counter summed over the threads' shards. Each field is the
 * counter of the same name; the request counters are indexed by route (the
 * last row: unmatched) and by status (the last column: other). */
struct metrics_snapshot {
	unsigned long requests[METRICS_ROUTES_MAX + 1][METRICS_NSTATUS];
	unsigned long latency_buckets[METRICS_NBOUNDS + 1]; /* the last is +Inf */
	unsigned long latency_sum_usec;
	unsigned long decisions[METRICS_SCOPES_MAX][2]; /* admitted, refused */
	unsigned long connections; /* a signed count kept modulo 2^64 */
	unsigned long store_errors[2]; /* error, unavailable */
	unsigned long throttle_errors;
	unsigned long forwarded_ignored;
	unsigned long apikey_unknown;
};
void metrics_snapshot(struct metrics_snapshot *out);

#endif
