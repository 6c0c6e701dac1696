#ifndef KEYGATE_METRICS_H
#define KEYGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "throttle/throttle.h"

/*
 * Process-wide counters for GET /metrics (Prometheus text format).
 * THREAD SAFETY: each thread counts in a shard of its own (relaxed
 * atomics, so the renderer may read them); shards join a lock-free list on
 * first use; the admin listener's thread renders the sums. Figures are per process; the
 * throttle's come from the shared segment (all processes).
 */
#define METRICS_ROUTE_UNMATCHED (-1)

/* A finished request: its route (index into router_routes, or
 * METRICS_ROUTE_UNMATCHED), status and duration. */
void metrics_request(int route, unsigned status, uint64_t usec);
void metrics_throttle(enum throttle_scope scope, int admitted);
void metrics_connection(int delta);
void metrics_store_error(int unavailable);
/* An X-Forwarded-For from a peer that is not a trusted proxy, ignored. */
void metrics_forwarded_ignored(void);
/* An API key looked up and not found. */
void metrics_apikey_unknown(void);

struct throttle;
/* Render everything; the throttle's table figures from t (may be NULL). */
void metrics_render(FILE *out, const struct throttle *t);

#endif
