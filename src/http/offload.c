/* offload.c: password work and throttle decisions off the MHD thread, the
 * connection suspended meanwhile.
 *
 * THREAD SAFETY: a slot belongs to its connection's MHD thread, but from
 * password_submit (throttle_decide_async) to the store of `done`
 * (release), when the pool thread (the throttle's) owns the job. The MHD thread reads the job only after loading `done`
 * (acquire); MHD calls it again only after MHD_resume_connection, which
 * follows that store.
 */
#include "http/offload.h"

#include <string.h>

#include "base/app.h"
#include "http/http_reply.h"
#include "http/http_request.h"

/* On a pool thread: publish the result, then let MHD call the front end
 * again on the connection's own thread. */
static void offload_job_done(struct password_job *job, void *arg)
{
	struct request *req = arg;
	struct MHD_Connection *conn = req->conn;
	(void)job;

	atomic_store_explicit(&req->offload.done, 1, memory_order_release);
	MHD_resume_connection(conn);
}

/* On the throttle's thread: the same, for a decision. */
static void offload_decision_done(struct throttle_job *job)
{
	struct request *req = job->arg;
	struct MHD_Connection *conn = req->conn;

	atomic_store_explicit(&req->offload.done, 1, memory_order_release);
	MHD_resume_connection(conn);
}

enum stage_rc offload_throttle_decide(struct request *req, const struct throttle_job *ask, offload_decided_fn decided)
{
	struct offload_slot *slot = &req->offload;

	slot->throttling = 1;
	slot->decided = decided;
	slot->decision = *ask;
	slot->decision.done = offload_decision_done;
	slot->decision.arg = req;
	atomic_store_explicit(&slot->done, 0, memory_order_relaxed);
	slot->suspended = 1;
	/* Suspend before the decision can be made and resume. */
	MHD_suspend_connection(req->conn);
	throttle_decide_async(req->app->throttle, &slot->decision);
	return STAGE_SUSPENDED;
}

/* A place in the pool's queue, or the 503 reply; 0 or -1. */
static int offload_reserve(struct request *req)
{
	if (password_reserve(req->app->passwords) == 0)
		return 0;
	/* Full, or stopped for the shutdown. */
	http_reply_error(req, app_draining(req->app) ? HTTP_ERR_UNAVAILABLE : HTTP_ERR_BUSY, NULL);
	return -1;
}

/* The job is filled in and its place reserved: suspend, then submit. */
static enum handler_rc offload_submit(struct request *req, offload_finish_fn finish)
{
	struct offload_slot *slot = &req->offload;

	slot->throttling = 0;
	slot->finish = finish;
	slot->job.done = offload_job_done;
	slot->job.arg = req;
	atomic_store_explicit(&slot->done, 0, memory_order_relaxed);
	slot->suspended = 1;
	/* Suspend before the job can finish and resume. */
	MHD_suspend_connection(req->conn);
	password_submit(req->app->passwords, &slot->job);
	return HANDLER_SUSPENDED;
}

enum handler_rc offload_password_hash(struct request *req, const char *password, size_t len, offload_finish_fn finish)
{
	struct password_job *job = &req->offload.job;

	if (offload_reserve(req) == -1)
		return HANDLER_DONE;
	job->op = PASSWORD_HASH;
	job->password = password;
	job->password_len = len;
	return offload_submit(req, finish);
}

enum handler_rc offload_password_verify(
    struct request *req, const char hash[PASSWORD_HASH_MAX], const char *password, size_t len, offload_finish_fn finish)
{
	struct password_job *job = &req->offload.job;

	if (offload_reserve(req) == -1)
		return HANDLER_DONE;
	job->op = PASSWORD_VERIFY;
	memcpy(job->hash, hash, sizeof(job->hash));
	job->password = password;
	job->password_len = len;
	return offload_submit(req, finish);
}

int offload_suspended(const struct request *req)
{
	return req->offload.suspended;
}

enum handler_rc offload_resume(struct request *req)
{
	struct offload_slot *slot = &req->offload;

	if (!atomic_load_explicit(&slot->done, memory_order_acquire))
		return HANDLER_SUSPENDED;
	slot->suspended = 0;
	enum handler_rc rc = slot->throttling ? slot->decided(req, &slot->decision)
					      : slot->finish(req, slot->job.result, slot->job.hash);
	if (!slot->suspended)
		offload_slot_end(slot);
	return rc;
}
