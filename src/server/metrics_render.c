/* metrics_render.c: the counters as Prometheus text, named by the route
 * table and the throttle's scopes. */
#include "server/metrics_render.h"

#include "api/router.h"
#include "base/metrics.h"
#include "base/config.h"
#include "throttle/throttle.h"

static void render_request_row(FILE *out, const struct metrics_snapshot *m, size_t r)
{
	char method[16] = "";
	const char *route = "unmatched";

	if (r < METRICS_ROUTES_MAX) {
		router_allow_string(router_routes[r].method, method, sizeof(method));
		route = router_routes[r].path;
	}
	for (size_t s = 0; s < METRICS_NSTATUS; s++) {
		char status[8] = "other";
		if (m->requests[r][s] == 0)
			continue;
		if (s < METRICS_NSTATUS - 1)
			snprintf(status, sizeof(status), "%u", metrics_statuses[s]);
		fprintf(out, "keygate_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %lu\n", method, route,
		    status, m->requests[r][s]);
	}
}

static void render_requests(FILE *out, const struct metrics_snapshot *m)
{
	fprintf(out, "# HELP keygate_http_requests_total HTTP requests answered, by route and status.\n"
		     "# TYPE keygate_http_requests_total counter\n");
	for (size_t r = 0; r < router_nroutes; r++)
		render_request_row(out, m, r);
	render_request_row(out, m, METRICS_ROUTES_MAX);
}

static void render_latency(FILE *out, const struct metrics_snapshot *m)
{
	unsigned long cumulative = 0;
	fprintf(out, "# HELP keygate_http_request_duration_seconds Time from request headers to response queued.\n"
		     "# TYPE keygate_http_request_duration_seconds histogram\n");
	for (size_t b = 0; b <= METRICS_NBOUNDS; b++) {
		cumulative += m->latency_buckets[b];
		if (b < METRICS_NBOUNDS)
			fprintf(out, "keygate_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n", metrics_bounds[b],
			    cumulative);
		else
			fprintf(out, "keygate_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cumulative);
	}
	fprintf(out, "keygate_http_request_duration_seconds_sum %.6f\n", (double)m->latency_sum_usec / 1e6);
	fprintf(out, "keygate_http_request_duration_seconds_count %lu\n", cumulative);
}

/* The scopes in use: the built-in ones and the configured [policy]s,
 * each by the name its quota headers use. */
static int scope_shown(const struct config *cfg, int s)
{
	return s < SCOPE_POLICY || throttle_rate(cfg, (enum throttle_scope)s)->n > 0;
}

static void render_decisions(FILE *out, const struct metrics_snapshot *m, const struct config *cfg)
{
	fprintf(out, "# HELP keygate_throttle_decisions_total Throttle decisions by this process, by scope.\n"
		     "# TYPE keygate_throttle_decisions_total counter\n");
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++)
		if (scope_shown(cfg, s))
			fprintf(out,
			    "keygate_throttle_decisions_total{scope=\"%s\",decision=\"admitted\"} %lu\n"
			    "keygate_throttle_decisions_total{scope=\"%s\",decision=\"refused\"} %lu\n",
			    throttle_scope_label(cfg, (enum throttle_scope)s), m->decisions[s][0],
			    throttle_scope_label(cfg, (enum throttle_scope)s), m->decisions[s][1]);
}

static void render_table(FILE *out, const struct throttle *t, const struct config *cfg)
{
	static const struct {
		const char *name, *type, *help;
	} g[] = {
		{ "keygate_throttle_capacity", "gauge", "Entries in the scope's table (all processes)." },
		{ "keygate_throttle_entries_used", "gauge", "Entries that hold a key (all processes)." },
		{ "keygate_throttle_full_total", "counter",
		    "Requests answered 503: no room for a newcomer (live windows are never dropped)." },
		{ "keygate_throttle_recoveries_total", "counter",
		    "Stripes repaired after a process died holding them." },
	};
	struct throttle_stats st;

	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", g[i].name, g[i].help, g[i].name, g[i].type);
		for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
			if (!scope_shown(cfg, s) || throttle_stats(t, (enum throttle_scope)s, &st) == -1)
				continue;
			uint64_t v[] = { st.capacity, st.used, st.full, st.recoveries };
			fprintf(out, "%s{scope=\"%s\"} %llu\n", g[i].name, throttle_scope_label(cfg, (enum throttle_scope)s),
			    (unsigned long long)v[i]);
		}
	}
}

static void render_errors(FILE *out, const struct metrics_snapshot *m)
{
	fprintf(out,
	    "# HELP keygate_forwarded_for_ignored_total X-Forwarded-For headers ignored: the peer is not a trusted "
	    "proxy.\n# TYPE keygate_forwarded_for_ignored_total counter\nkeygate_forwarded_for_ignored_total %lu\n"
	    "# HELP keygate_apikey_unknown_total API keys looked up and not found.\n"
	    "# TYPE keygate_apikey_unknown_total counter\nkeygate_apikey_unknown_total %lu\n",
	    m->forwarded_ignored, m->apikey_unknown);
	fprintf(out,
	    "# HELP keygate_store_errors_total Storage failures, by kind.\n"
	    "# TYPE keygate_store_errors_total counter\n"
	    "keygate_store_errors_total{kind=\"unavailable\"} %lu\nkeygate_store_errors_total{kind=\"error\"} %lu\n",
	    m->store_errors[1], m->store_errors[0]);
	fprintf(out,
	    "# HELP keygate_throttle_errors_total Calls to the throttle store (Redis) that failed; throttled requests then get "
	    "[throttle] on_error.\n# TYPE keygate_throttle_errors_total counter\nkeygate_throttle_errors_total %lu\n",
	    m->throttle_errors);
}

void metrics_render(FILE *out, const struct throttle *t, const struct config *cfg)
{
	struct metrics_snapshot m;

	metrics_snapshot(&m);
	render_requests(out, &m);
	render_latency(out, &m);
	fprintf(out,
	    "# HELP keygate_http_open_connections Open client connections.\n"
	    "# TYPE keygate_http_open_connections gauge\nkeygate_http_open_connections %ld\n",
	    (long)m.connections);
	render_decisions(out, &m, cfg);
	if (t != NULL)
		render_table(out, t, cfg);
	render_errors(out, &m);
}
