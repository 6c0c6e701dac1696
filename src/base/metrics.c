/* metrics.c: counters and their Prometheus text rendering. */
#include "base/metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "api/router.h"

#define NROUTES_MAX 32
static const unsigned statuses[] = { 200, 201, 204, 400, 401, 404, 405, 413, 415, 429, 500, 503 };
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1) /* + other */
/* Latency buckets, seconds. */
static const double bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5 };
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Counters live in per-thread shards: a thread counts in its own (no cache
 * line shared between cores on the request path), the renderer sums them.
 * Shards are made on a thread's first count and kept to the end. */
struct shard {
	atomic_ulong requests[NROUTES_MAX + 1][NSTATUS];
	atomic_ulong latency_buckets[NBOUNDS + 1]; /* the last is +Inf */
	atomic_ulong latency_sum_usec;
	atomic_ulong decisions[SCOPE_COUNT][2];
	atomic_long connections;
	atomic_ulong store_errors[2];
	atomic_ulong forwarded_ignored;
	atomic_ulong apikey_unknown;
	struct shard *next;
};

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

static void add(atomic_ulong *c, unsigned long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long sum_of(size_t offset)
{
	unsigned long n = 0;
	for (struct shard *s = atomic_load_explicit(&shards, memory_order_acquire); s != NULL; s = s->next)
		n += atomic_load_explicit((atomic_ulong *)(void *)((char *)s + offset), memory_order_relaxed);
	return n;
}

#define SUM(field) sum_of(offsetof(struct shard, field))

_Static_assert(sizeof(atomic_ulong) == 8, "64-bit counters");

static size_t status_index(unsigned status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_request(int route, unsigned status, uint64_t usec)
{
	struct shard *s = my_shard();
	size_t r = route >= 0 && route < NROUTES_MAX ? (size_t)route : NROUTES_MAX;
	add(&s->requests[r][status_index(status)], 1);
	size_t b = 0;
	while (b < NBOUNDS && (double)usec / 1e6 > bounds[b])
		b++;
	add(&s->latency_buckets[b], 1);
	add(&s->latency_sum_usec, usec);
}

void metrics_throttle(enum throttle_scope scope, int admitted)
{
	if (scope > SCOPE_NONE && scope < SCOPE_COUNT)
		add(&my_shard()->decisions[scope][admitted ? 0 : 1], 1);
}

/* A connection may close on another thread than it opened on (at stop):
 * the sum over shards is what counts. */
void metrics_connection(int delta)
{
	atomic_fetch_add_explicit(&my_shard()->connections, delta, memory_order_relaxed);
}

void metrics_store_error(int unavailable)
{
	add(&my_shard()->store_errors[unavailable ? 1 : 0], 1);
}

void metrics_forwarded_ignored(void)
{
	add(&my_shard()->forwarded_ignored, 1);
}

void metrics_apikey_unknown(void)
{
	add(&my_shard()->apikey_unknown, 1);
}

static void render_requests(FILE *out)
{
	fprintf(out, "# HELP keygate_http_requests_total HTTP requests answered, by route and status.\n"
		     "# TYPE keygate_http_requests_total counter\n");
	for (size_t r = 0; r <= NROUTES_MAX; r++) {
		if (r < NROUTES_MAX && r >= router_nroutes)
			continue;
		for (size_t s = 0; s < NSTATUS; s++) {
			unsigned long n = SUM(requests[r][s]);
			if (n == 0)
				continue;
			char status[8];
			snprintf(status, sizeof(status), "%u", s < NSTATUS - 1 ? statuses[s] : 0);
			if (r < NROUTES_MAX) {
				char method[16];
				router_allow_string(router_routes[r].method, method, sizeof(method));
				fprintf(out,
				    "keygate_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %lu\n",
				    method, router_routes[r].path, s < NSTATUS - 1 ? status : "other", n);
			} else {
				fprintf(out,
				    "keygate_http_requests_total{method=\"\",route=\"unmatched\",status=\"%s\"} %lu\n",
				    s < NSTATUS - 1 ? status : "other", n);
			}
		}
	}
}

static void render_latency(FILE *out)
{
	unsigned long cumulative = 0;
	fprintf(out, "# HELP keygate_http_request_duration_seconds Time from request headers to response queued.\n"
		     "# TYPE keygate_http_request_duration_seconds histogram\n");
	for (size_t b = 0; b <= NBOUNDS; b++) {
		cumulative += SUM(latency_buckets[b]);
		if (b < NBOUNDS)
			fprintf(out, "keygate_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n", bounds[b],
			    cumulative);
		else
			fprintf(out, "keygate_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cumulative);
	}
	fprintf(out, "keygate_http_request_duration_seconds_sum %.6f\n", (double)SUM(latency_sum_usec) / 1e6);
	fprintf(out, "keygate_http_request_duration_seconds_count %lu\n", cumulative);
}

static void render_throttle(FILE *out, const struct throttle *t)
{
	struct throttle_stats st;

	fprintf(out, "# HELP keygate_throttle_decisions_total Throttle decisions by this process, by scope.\n"
		     "# TYPE keygate_throttle_decisions_total counter\n");
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++)
		fprintf(out,
		    "keygate_throttle_decisions_total{scope=\"%s\",decision=\"admitted\"} %lu\n"
		    "keygate_throttle_decisions_total{scope=\"%s\",decision=\"refused\"} %lu\n",
		    throttle_scope_name((enum throttle_scope)s), SUM(decisions[s][0]),
		    throttle_scope_name((enum throttle_scope)s), SUM(decisions[s][1]));
	if (t == NULL)
		return;
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "keygate_throttle_capacity", "gauge", "Entries in the scope's table (all processes)." },
		{ "keygate_throttle_entries_used", "gauge", "Entries that hold a key (all processes)." },
		{ "keygate_throttle_full_total", "counter",
		    "Requests answered 503: no room for a newcomer (live windows are never dropped)." },
		{ "keygate_throttle_recoveries_total", "counter",
		    "Stripes repaired after a process died holding them." },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name, m[i].type);
		for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
			if (throttle_stats(t, (enum throttle_scope)s, &st) == -1)
				continue;
			uint64_t v[] = { st.capacity, st.used, st.full, st.recoveries };
			fprintf(out, "%s{scope=\"%s\"} %llu\n", m[i].name, throttle_scope_name((enum throttle_scope)s),
			    (unsigned long long)v[i]);
		}
	}
}

void metrics_render(FILE *out, const struct throttle *t)
{
	render_requests(out);
	render_latency(out);
	fprintf(out,
	    "# HELP keygate_http_open_connections Open client connections.\n"
	    "# TYPE keygate_http_open_connections gauge\nkeygate_http_open_connections %ld\n",
	    (long)SUM(connections));
	render_throttle(out, t);
	fprintf(out,
	    "# HELP keygate_forwarded_for_ignored_total X-Forwarded-For headers ignored: the peer is not a trusted "
	    "proxy.\n# TYPE keygate_forwarded_for_ignored_total counter\nkeygate_forwarded_for_ignored_total %lu\n"
	    "# HELP keygate_apikey_unknown_total API keys looked up and not found.\n"
	    "# TYPE keygate_apikey_unknown_total counter\nkeygate_apikey_unknown_total %lu\n",
	    SUM(forwarded_ignored), SUM(apikey_unknown));
	fprintf(out,
	    "# HELP keygate_store_errors_total Storage failures, by kind.\n"
	    "# TYPE keygate_store_errors_total counter\n"
	    "keygate_store_errors_total{kind=\"unavailable\"} %lu\nkeygate_store_errors_total{kind=\"error\"} %lu\n",
	    SUM(store_errors[1]), SUM(store_errors[0]));
}
