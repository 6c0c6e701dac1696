/* mw_throttle.c: throttle decisions, quota headers and 429 replies. */
#include "auth/mw_throttle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/app.h"
#include "auth/user_info.h"
#include "http/client_ip.h"
#include "http/http_reply.h"
#include "http/offload.h"
#include "base/log.h"
#include "base/metrics.h"
#include "lib/ratelimit_fields.h"
#include "store/store.h"

#define PROBLEM_TYPE "https://iana.org/assignments/http-problem-types#quota-exceeded"
#define CAPACITY_TYPE "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity"

static uint64_t ceil_s(uint64_t ms)
{
	return (ms + 999) / 1000;
}

/* The quota fields of one decision, one item per window, in the
 * configured form (ratelimit_fields.h renders them). The partition is the
 * throttle key, opaque: the user's or the address's window. */
static void quota_headers(
    struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend, const struct throttle_decision *d)
{
	struct ratelimit_field fields[RATELIMIT_FIELDS_MAX];
	struct ratelimit_window w[RATE_WINDOWS_MAX];
	uint8_t partition[8];

	for (uint32_t i = 0; i < d->nwindows; i++)
		w[i] = (struct ratelimit_window){ throttle_scope_label(req->cfg, scope), d->w[i].limit, d->w[i].window_s,
			d->w[i].remaining, ceil_s(d->w[i].reset_ms) };
	for (int i = 0; i < 8; i++)
		partition[i] = (uint8_t)(key >> (56 - 8 * i));
	struct ratelimit_state s = { w, d->nwindows, spend, partition, sizeof(partition), (uint64_t)time(NULL),
		req->cfg->legacy_headers };
	size_t n = ratelimit_fields_render((enum ratelimit_form)req->cfg->quota_headers, &s, fields);
	for (size_t i = 0; i < n; i++)
		http_request_add_header_text(req, fields[i].name, fields[i].value, strlen(fields[i].value));
}

/* The problem body for (scope, seconds), rendered by jansson; each thread
 * keeps the last one per scope, as a refused client hears the same wait
 * many times. */
static const char *problem_body(const struct config *cfg, enum throttle_scope scope, unsigned long long s, size_t *len)
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
	    "status", 429, "detail", detail, "violated-policies", throttle_scope_label(cfg, scope));
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
	http_request_add_header_u64(req, "Retry-After", s);
	int problem = accept != NULL && strstr(accept, "application/problem+json") != NULL;
	const char *body = problem_body(req->cfg, scope, s, &len);
	if (body == NULL) {
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return;
	}
	http_reply_text(req, 429, body, len,
	    problem ? "application/problem+json; charset=utf-8" : "application/json; charset=utf-8");
}

/* The table had no room for this newcomer: 503, never a fresh quota
 * (the backend logs the incident and counts it). Rare: rendered here. */
static void refuse_full(struct request *req, enum throttle_scope scope, const struct throttle_decision *d)
{
	unsigned long long s = (unsigned long long)ceil_s(d->reset_ms);
	const char *accept = http_request_header(req, MHD_HTTP_HEADER_ACCEPT);
	char detail[160];

	if (s == 0)
		s = 1;
	http_request_add_header_u64(req, "Retry-After", s);
	snprintf(detail, sizeof(detail),
	    "The rate limiter has no room for a new client now. Expected available in %llu seconds.", s);
	json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:[s]}", "type", CAPACITY_TYPE, "title", "Service Unavailable",
	    "status", 503, "detail", detail, "violated-policies", throttle_scope_label(req->cfg, scope));
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, NULL);
		return;
	}
	int problem = accept != NULL && strstr(accept, "application/problem+json") != NULL;
	http_reply_text(req, 503, text, strlen(text),
	    problem ? "application/problem+json; charset=utf-8" : "application/json; charset=utf-8");
	free(text);
}

/* What decide_quietly says once the store answered rc (0, or -1) and d;
 * also the end of a decision made off the thread. */
static enum stage_rc decided_quietly(struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend,
    int quiet_full, int rc, struct throttle_decision *d, int *decided)
{
	*decided = 0;
	if (rc == -1) {
		log_warnx("throttle: the %s store cannot answer", throttle_scope_label(req->cfg, scope));
		if (req->cfg->fail_open)
			return STAGE_NEXT;
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, NULL);
		return STAGE_DONE;
	}
	*decided = 1;
	if (spend)
		metrics_throttle(scope, d->admitted);
	if (d->admitted)
		return STAGE_NEXT;
	if (d->full) {
		if (quiet_full)
			return STAGE_NEXT;
		refuse_full(req, scope, d);
		return STAGE_DONE;
	}
	quota_headers(req, scope, key, spend, d);
	refuse(req, scope, d);
	return STAGE_DONE;
}

/* Decide without a word to the client: STAGE_DONE when a reply (429,
 * 503, or on_error's 503) is queued, else STAGE_NEXT with *d filled (or
 * *decided = 0 when the store failed and on_error = allow). With
 * quiet_full, a table with no room queues nothing either: STAGE_NEXT with
 * d->full set, for the caller to decide. */
static enum stage_rc decide_quietly(struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend,
    int quiet_full, struct throttle_decision *d, int *decided)
{
	const struct rate_set *rate = throttle_rate_tier(req->cfg, scope, req->tier);
	int rc = throttle_decide(req->app->throttle, scope, rate, key, throttle_now_ms(), spend, d);

	return decided_quietly(req, scope, key, spend, quiet_full, rc, d, decided);
}

/* A check's end once the store answered rc and d: a refusal queued, or
 * the quota headers on whatever reply follows. */
static enum stage_rc check_told(
    struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend, int rc, struct throttle_decision *d)
{
	int decided;

	if (decided_quietly(req, scope, key, spend, 0, rc, d, &decided) == STAGE_DONE)
		return STAGE_DONE;
	/* A look (spend = 0) that admits changes nothing and says nothing. */
	if (decided && spend)
		quota_headers(req, scope, key, spend, d);
	return STAGE_NEXT;
}

enum stage_rc mw_throttle_check(struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend)
{
	const struct rate_set *rate = throttle_rate_tier(req->cfg, scope, req->tier);
	struct throttle_decision d;
	int rc = throttle_decide(req->app->throttle, scope, rate, key, throttle_now_ms(), spend, &d);

	return check_told(req, scope, key, spend, rc, &d);
}

enum stage_rc mw_throttle_decided(struct request *req, const struct throttle_job *job)
{
	struct throttle_decision d = job->d;

	return check_told(req, job->scope, job->key, job->spend, job->rc, &d);
}

int mw_throttle_charge(struct request *req, enum throttle_scope scope, uint64_t key, struct mw_charge *c)
{
	c->scope = scope;
	c->key = key;
	if (decide_quietly(req, scope, key, 1, 1, &c->d, &c->decided) == STAGE_DONE)
		return -1;
	return c->decided && c->d.full ? 1 : 0;
}

void mw_throttle_charge_keep(struct request *req, const struct mw_charge *c)
{
	if (c->decided && c->d.full)
		refuse_full(req, c->scope, &c->d);
	else if (c->decided)
		quota_headers(req, c->scope, c->key, 1, &c->d);
}

void mw_throttle_charge_refund(struct request *req, const struct mw_charge *c)
{
	if (c->decided && !c->d.full && c->d.spent != 0 &&
	    throttle_refund(req->app->throttle, c->scope, throttle_rate(req->cfg, c->scope), c->key, c->d.spent) == -1)
		log_warnx("throttle: the %s store cannot give an admission back", throttle_scope_name(c->scope));
}

int mw_throttle_client_key(struct request *req, uint64_t *key)
{
	unsigned char addr[16];

	if (client_ip_get(req, addr) == -1)
		return -1;
	client_ip_prefix(addr, req->cfg->ipv6_prefix);
	*key = throttle_key_addr(req->app->throttle, addr);
	return 0;
}

/* Each scope is counted by its index (base/metrics.h). */
_Static_assert(SCOPE_COUNT <= METRICS_SCOPES_MAX, "a throttle scope without a counter");

/* The user's tier into req->tier, for their windows. A user deleted
 * since their key was checked has no key any more: 401, as for any
 * unknown key. */
static enum stage_rc user_tier(struct request *req)
{
	int rc = user_info_tier(req, &req->tier);

	if (rc == STORE_OK)
		return STAGE_NEXT;
	if (rc == STORE_NOT_FOUND)
		http_reply_error(req, HTTP_ERR_APIKEY_INVALID, NULL);
	else
		http_reply_store_failed(req, rc);
	return STAGE_DONE;
}

enum stage_rc mw_throttle(struct request *req, enum throttle_scope scope, uint32_t cost, offload_decided_fn then)
{
	uint64_t key;

	if (scope == SCOPE_NONE)
		return STAGE_NEXT;
	req->tier = -1;
	if (scope == SCOPE_API_KEY || scope >= SCOPE_POLICY) {
		key = (uint64_t)req->user_id; /* the user's window, whatever key they use */
		if (req->cfg->ntiers > 0 && user_tier(req) == STAGE_DONE)
			return STAGE_DONE;
	} else if (scope == SCOPE_REGENERATE) {
		key = (uint64_t)req->user_id;
	} else if (mw_throttle_client_key(req, &key) == -1) {
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return STAGE_DONE;
	}
	if (then != NULL && throttle_async(req->app->throttle)) {
		struct throttle_job ask = { .scope = scope,
			.rate = *throttle_rate_tier(req->cfg, scope, req->tier),
			.key = key,
			.spend = cost };
		return offload_throttle_decide(req, &ask, then);
	}
	return mw_throttle_check(req, scope, key, cost);
}
