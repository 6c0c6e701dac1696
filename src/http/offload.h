#ifndef KEYGATE_OFFLOAD_H
#define KEYGATE_OFFLOAD_H

#include <stddef.h>

#include "base/password.h"
#include "http/offload_slot.h"
#include "http/request_rc.h"

/*
 * Work that must not run on an MHD thread (Argon2id, base/password.h; a
 * throttle decision that is a Redis round trip), done on the password
 * pool (the throttle's thread) while the request's connection is suspended
 * (MHD_ALLOW_SUSPEND_RESUME): the only code that suspends or resumes a
 * connection. A handler hands over the password and a continuation and
 * returns what it gets; once the job is done the connection is resumed,
 * MHD calls the front end again, and the pipeline calls offload_resume,
 * which runs the continuation on the connection's own MHD thread.
 *
 * State lives in the request's slot (req->offload, offload_slot.h). The
 * calls below are made on the connection's MHD thread; the pool thread
 * touches the slot only between the submit and the resume.
 */
struct request;

/* Hash password (PASSWORD_HASH), or check it against a stored hash
 * (PASSWORD_VERIFY), then finish(req, ...). password is borrowed until
 * finish runs (keep it in req->json); hash is copied. When the hashing
 * queue is full, or the pool stopped for the shutdown, replies 503 itself
 * and finish never runs. Returns HANDLER_SUSPENDED (the connection is
 * suspended), or HANDLER_DONE when it replied. */
enum handler_rc offload_password_hash(struct request *req, const char *password, size_t len, offload_finish_fn finish);
enum handler_rc offload_password_verify(struct request *req, const char hash[PASSWORD_HASH_MAX], const char *password,
    size_t len, offload_finish_fn finish);

/* The throttle decision ask describes (scope, rate, key, spend), made
 * off the thread by a throttle_async store, then decided(req, job) on
 * resume. Returns STAGE_SUSPENDED: the connection is suspended. */
enum stage_rc offload_throttle_decide(struct request *req, const struct throttle_job *ask, offload_decided_fn decided);

/* 1 from a submit until the resumed call that runs its continuation:
 * the connection is suspended, or resumed and its continuation not run. */
int offload_suspended(const struct request *req);

/* On the call after the resume: runs the continuation and returns what it
 * returns, then wipes the job (unless the continuation offloaded again).
 * Called while the job is still running (which MHD does not do: it calls
 * only once resumed), returns HANDLER_SUSPENDED and leaves the slot be. */
enum handler_rc offload_resume(struct request *req);

#endif
