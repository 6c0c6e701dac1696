/* mw_throttle.c: throttle decisions, quota headers and 429 replies. */
#include "mw_throttle.h"

#include <string.h>

#include "app.h"
#include "client_ip.h"
#include "http_reply.h"
#include "log.h"
#include "metrics.h"
#include "router.h"

#define PROBLEM_TYPE "https://iana.org/assignments/http-problem-types#quota-exceeded"

static uint64_t ceil_s(uint64_t ms)
{
	return (ms + 999) / 1000;
}

static void quota_headers(struct request *req, enum throttle_scope scope, const struct throttle_decision *d)
{
	const char *name = throttle_scope_name(scope);
	unsigned long long t = (unsigned long long)ceil_s(d->reset_ms);

	http_request_add_header(req, "RateLimit-Policy", "\"%s\";q=%u;w=%u", name, d->limit, d->window_s);
	http_request_add_header(req, "RateLimit", "\"%s\";r=%u;t=%llu", name, d->remaining, t);
	if (req->cfg->legacy_headers) {
		http_request_add_header(req, "RateLimit-Limit", "%u", d->limit);
		http_request_add_header(req, "RateLimit-Remaining", "%u", d->remaining);
		http_request_add_header(req, "RateLimit-Reset", "%llu", t);
		http_request_add_header(req, "X-RateLimit-Limit", "%u", d->limit);
		http_request_add_header(req, "X-RateLimit-Remaining", "%u", d->remaining);
		http_request_add_header(req, "X-RateLimit-Reset", "%llu", t);
	}
}

/* The problem body for (scope, seconds), rendered by jansson; each thread
 * keeps the last one per scope, as a refused client hears the same wait
 * many times. */
static const char *problem_body(enum throttle_scope scope, unsigned long long s, size_t *len)
{
	static _Thread_local struct {
		unsigned long long s;
		size_t len;
		char text[320];
	} last[SCOPE_COUNT];
	char detail[96];

	if (last[scope].len > 0 && last[scope].s == s) {
		*len = last[scope].len;
		return last[scope].text;
	}
	snprintf(detail, sizeof(detail), "Request was throttled. Expected available in %llu seconds.", s);
	json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:[s]}", "type", PROBLEM_TYPE, "title", "Too Many Requests",
	    "status", 429, "detail", detail, "violated-policies", throttle_scope_name(scope));
	size_t n = body != NULL ? json_dumpb(body, last[scope].text, sizeof(last[scope].text), JSON_COMPACT) : 0;
	json_decref(body);
	last[scope].len = n < sizeof(last[scope].text) ? n : 0;
	last[scope].s = s;
	*len = last[scope].len;
	return last[scope].len > 0 ? last[scope].text : NULL;
}

static void refuse(struct request *req, enum throttle_scope scope, const struct throttle_decision *d)
{
	unsigned long long s = (unsigned long long)ceil_s(d->reset_ms);
	const char *accept = http_request_header(req, MHD_HTTP_HEADER_ACCEPT);
	size_t len;

	if (s == 0)
		s = 1;
	http_request_add_header(req, "Retry-After", "%llu", s);
	int problem = accept != NULL && strstr(accept, "application/problem+json") != NULL;
	const char *body = problem_body(scope, s, &len);
	if (body == NULL) {
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return;
	}
	http_reply_text(req, 429, body, len,
	    problem ? "application/problem+json; charset=utf-8" : "application/json; charset=utf-8");
}

enum stage_rc mw_throttle_check(struct request *req, enum throttle_scope scope, uint64_t key, int spend)
{
	struct throttle_decision d;

	const struct rate *rate = throttle_rate(req->cfg, scope);
	if (throttle_decide(req->app->throttle, scope, rate, key, throttle_now_ms(), spend, &d) == -1) {
		log_warnx("throttle: the %s store cannot answer", throttle_scope_name(scope));
		if (req->cfg->fail_open)
			return STAGE_NEXT;
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, NULL);
		return STAGE_DONE;
	}
	if (spend)
		metrics_throttle(scope, d.admitted);
	/* A look (spend = 0) that admits changes nothing and says nothing. */
	if (spend || !d.admitted)
		quota_headers(req, scope, &d);
	if (d.admitted)
		return STAGE_NEXT;
	refuse(req, scope, &d);
	return STAGE_DONE;
}

int mw_throttle_client_key(struct request *req, uint64_t *key)
{
	unsigned char addr[16];

	if (client_ip_get(req, addr) == -1)
		return -1;
	*key = throttle_key_addr(req->app->throttle, addr);
	return 0;
}

enum stage_rc mw_throttle(struct request *req)
{
	enum throttle_scope scope = req->route->scope;
	uint64_t key;

	if (scope == SCOPE_NONE)
		return STAGE_NEXT;
	if (scope == SCOPE_API_KEY) {
		key = (uint64_t)req->user_id; /* the user's window, whatever key they use */
	} else if (mw_throttle_client_key(req, &key) == -1) {
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return STAGE_DONE;
	}
	return mw_throttle_check(req, scope, key, 1);
}
