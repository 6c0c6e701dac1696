/* handler_health.c: GET /healthz. */
#include "base/app.h"
#include "api/handlers.h"
#include "http/http_accept.h"
#include "http/http_reply.h"
#include "store/store.h"
#include "throttle/throttle.h"

/* 200 {"status":"ok"} while every part answers; else 503 with the parts
 * that do not, so that an operator sees which. */
enum handler_rc handler_health(struct request *req)
{
	json_t *failing = json_array();

	if (store_ping(req->app->store) != STORE_OK)
		json_array_append_new(failing, json_string("database"));
	if (throttle_healthy(req->app->throttle) != 0)
		json_array_append_new(failing, json_string("throttle"));
	if (http_accept_healthy() != 0) /* new connections wait in the backlog */
		json_array_append_new(failing, json_string("accept"));
	if (json_array_size(failing) == 0) {
		json_decref(failing);
		http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
	} else {
		http_reply_json(req, 503, json_pack("{s:s, s:o}", "status", "unavailable", "failing", failing));
	}
	return HANDLER_DONE;
}
