/* pipeline.c: the ordered stage table every request goes through. */
#include "api/pipeline.h"

#include <string.h>
#include <strings.h>

#include "base/app.h"
#include "http/http_reply.h"
#include "http/offload.h"
#include "base/log.h"
#include "lib/log_escape.h"
#include "auth/mw_apikey.h"
#include "auth/mw_jwt.h"
#include "auth/mw_throttle.h"
#include "api/router.h"
#include "api/verify_policy.h"

static enum stage_rc stage_route(struct request *req)
{
	const struct route *rt = NULL;
	enum router_rc rc = router_match(req->path, req->method, &rt, &req->path_id, &req->allow);

	if (rc == ROUTER_NO_PATH) {
		http_reply_error(req, HTTP_ERR_NOT_FOUND, NULL);
		return STAGE_DONE;
	}
	req->route = rt;
	req->route_found = rc == ROUTER_FOUND;
	return STAGE_NEXT;
}

/* A forward-auth proxy that cannot pass a refusal's body on (nginx's
 * auth_request keeps the status and headers only) asks for it in a header
 * too; nothing else changes in the reply. */
static enum stage_rc stage_forward(struct request *req)
{
	const char *want;

	if (!(req->route->flags & ROUTE_F_FORWARD))
		return STAGE_NEXT;
	want = http_request_header(req, "X-Keygate-Want-Body");
	req->body_in_header = want != NULL && strcasecmp(want, "header") == 0;
	return STAGE_NEXT;
}

static enum stage_rc stage_auth(struct request *req)
{
	if (req->route->flags & ROUTE_F_JWT)
		return mw_jwt(req);
	if (req->route->flags & ROUTE_F_APIKEY)
		return mw_apikey(req);
	return STAGE_NEXT;
}

static enum handler_rc throttle_decided(struct request *req, const struct throttle_job *job);

/* A forward-auth check is decided by the policy of the request it
 * describes; every other route by its own scope. A decision made off the
 * thread goes on in throttle_decided. */
static enum stage_rc stage_throttle(struct request *req)
{
	enum throttle_scope scope = req->route->scope;
	uint32_t cost = 1;

	if (req->route->flags & ROUTE_F_FORWARD)
		verify_policy(req, &scope, &cost);
	return mw_throttle(req, scope, cost, throttle_decided);
}

static enum stage_rc stage_method(struct request *req)
{
	char allow[80];

	if (req->route_found)
		return STAGE_NEXT;
	router_allow_string(req->allow, allow, sizeof(allow));
	http_request_add_header(req, "Allow", "%s", allow);
	http_reply_error(req, HTTP_ERR_METHOD, req->method_name);
	return STAGE_DONE;
}

/* "application/json", any case, optionally followed by parameters. */
static int is_json_type(const char *ct)
{
	size_t n = strlen("application/json");
	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static enum stage_rc stage_body(struct request *req)
{
	json_error_t jerr;

	if (!(req->route->flags & ROUTE_F_BODY))
		return STAGE_NEXT;
	if (req->body_len == 0) { /* DRF: no body is an empty form */
		req->json = json_object();
		return STAGE_NEXT;
	}
	const char *ct = http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!is_json_type(ct)) {
		char shown[64];
		size_t i = 0;
		/* Echo the media type, bounded and printable only. */
		for (; ct != NULL && ct[i] != '\0' && i + 1 < sizeof(shown); i++)
			shown[i] = (ct[i] >= 0x20 && ct[i] < 0x7f && ct[i] != '"') ? ct[i] : '?';
		shown[i] = '\0';
		http_reply_error(req, HTTP_ERR_MEDIA_TYPE, shown);
		return STAGE_DONE;
	}
	/* DECODE_ANY: valid JSON that is not an object gets the one message. */
	req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (req->json == NULL) {
		http_reply_error(req, HTTP_ERR_JSON_PARSE, jerr.text);
		return STAGE_DONE;
	}
	if (!json_is_object(req->json)) {
		http_reply_error(req, HTTP_ERR_JSON_PARSE, "Expected a JSON object.");
		return STAGE_DONE;
	}
	return STAGE_NEXT;
}

static enum stage_rc (*const stages[])(struct request *) = {
	stage_route,
	stage_forward,
	stage_auth,
	stage_throttle,
	stage_method,
	stage_body,
};

/*
 * What a handler returned, held to its meaning: HANDLER_DONE with a reply
 * queued, HANDLER_SUSPENDED with the connection suspended for off-thread
 * work. A handler that broke it (a path that forgot to reply, or whose
 * reply could not be queued) would leave the client waiting and have MHD
 * run the whole request again: it gets the one 500 and a log line instead.
 */
static void handler_checked(struct request *req, enum handler_rc rc)
{
	int suspended = offload_suspended(req);
	const char *broke;
	char method[64];

	if (suspended)
		broke = rc == HANDLER_SUSPENDED ? NULL : "done with the connection suspended";
	else if (rc == HANDLER_SUSPENDED)
		broke = "suspended without suspending";
	else
		broke = req->replied ? NULL : "done without a reply";
	if (broke == NULL)
		return;
	/* The method as the access log shows it; the route is the table's. */
	log_escape(method, sizeof(method), req->method_name, 16, LOG_ESCAPE_SPACE);
	log_warnx("rid=%s: %s %s: the handler returned %s%s", req->id, method,
	    req->route != NULL ? req->route->path : "-", broke, suspended || req->replied ? "" : "; answering 500");
	if (!suspended && !req->replied)
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
}

#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

/* STAGE_NEXT when every stage from the first passed the request on to its
 * handler; else what the one that stopped it returned. */
static enum stage_rc run_stages(struct request *req, size_t first)
{
	for (size_t i = first; i < NSTAGES; i++) {
		enum stage_rc rc = stages[i](req);
		if (rc != STAGE_NEXT)
			return rc;
	}
	return STAGE_NEXT;
}

/* On resume after the throttle stage suspended: its end, then the stages
 * after it and the handler, as pipeline_run would have gone on. */
static enum handler_rc throttle_decided(struct request *req, const struct throttle_job *job)
{
	size_t next = 0;

	while (next < NSTAGES && stages[next++] != stage_throttle)
		;
	if (mw_throttle_decided(req, job) != STAGE_NEXT || run_stages(req, next) != STAGE_NEXT)
		return HANDLER_DONE;
	return req->route->handler(req);
}

void pipeline_run(struct request *req)
{
	if (offload_suspended(req)) /* resumed: straight back to the handler's continuation */
		handler_checked(req, offload_resume(req));
	else if (run_stages(req, 0) == STAGE_NEXT)
		handler_checked(req, req->route->handler(req));
	http_request_read_pass_end(req);
}
