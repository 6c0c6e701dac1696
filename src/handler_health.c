/* handler_health.c: GET /healthz. */
#include "app.h"
#include "handlers.h"
#include "http_reply.h"
#include "store.h"
#include "throttle.h"

enum handler_rc handler_health(struct request *req)
{
	int ok = store_ping(req->app->store) == STORE_OK && throttle_healthy(req->app->throttle) == 0;
	http_reply_json(req, ok ? 200 : 503, json_pack("{s:s}", "status", ok ? "ok" : "unavailable"));
	return HANDLER_DONE;
}
