/* handler_common.c: what several handlers share: password offload, store
 * failure replies. */
#include <stdatomic.h>

#include "base/app.h"
#include "api/handlers.h"
#include "http/http_reply.h"
#include "base/log.h"
#include "store/store.h"

/* On a pool thread: publish the result, then let MHD call the handler
 * again on the connection's own thread. */
static void offload_done(struct password_job *job, void *arg)
{
	struct request *req = arg;
	(void)job;
	atomic_store_explicit(&req->offload_done, 1, memory_order_release);
	MHD_resume_connection(req->conn);
}

enum handler_rc handler_offload_password(struct request *req)
{
	if (password_reserve(req->app->passwords) == -1) {
		/* Full, or stopped for the shutdown. */
		http_reply_error(req, app_draining(req->app) ? HTTP_ERR_UNAVAILABLE : HTTP_ERR_BUSY, NULL);
		return HANDLER_DONE;
	}
	req->job.done = offload_done;
	req->job.arg = req;
	req->suspended = 1;
	/* Suspend before the job can finish and resume. */
	MHD_suspend_connection(req->conn);
	password_submit(req->app->passwords, &req->job);
	return HANDLER_SUSPENDED;
}

enum handler_rc handler_store_failed(struct request *req, int store_rc)
{
	http_reply_store_failed(req, store_rc);
	return HANDLER_DONE;
}
