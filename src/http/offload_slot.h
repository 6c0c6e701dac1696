#ifndef KEYGATE_OFFLOAD_SLOT_H
#define KEYGATE_OFFLOAD_SLOT_H

#include <sodium.h>
#include <stdatomic.h>

#include "base/password.h"
#include "http/request_rc.h"
#include "throttle/throttle.h"

/*
 * The storage of a request's work off its MHD thread (http/offload.h): a
 * password job or a throttle decision, kept inside struct request so that
 * offloading allocates nothing. A leaf
 * of its own so that struct request can hold it without including the
 * module that works on requests. Its fields are offload.c's; the request's
 * own code only begins and ends the slot with the request.
 */
struct request;

/* What a handler does once its password job is done, on the connection's
 * MHD thread: result is 0 (hashed / matched) or -1; hash is the new hash
 * (PASSWORD_HASH), readable until finish returns and wiped then. Returns
 * as a handler does (and is checked as one, api/pipeline.c). */
typedef enum handler_rc (*offload_finish_fn)(struct request *req, int result, const char *hash);

/* What the throttle stage does once its decision (job->rc, job->d) is
 * made off the thread, on the connection's MHD thread; returns as a
 * handler does. */
typedef enum handler_rc (*offload_decided_fn)(struct request *req, const struct throttle_job *job);

struct offload_slot {
	int suspended; /* from the submit to the resumed call that sees done */
	atomic_int done; /* set by the pool thread before it resumes */
	int throttling; /* the job out is decided's, not finish's */
	offload_finish_fn finish;
	offload_decided_fn decided;
	struct password_job job;
	struct throttle_job decision;
};

/* On a slot just zeroed with its request. */
static inline void offload_slot_begin(struct offload_slot *slot)
{
	atomic_init(&slot->done, 0);
}

/* A job's hashes (the stored one, the new one) do not outlive their
 * request in the connection's storage. */
static inline void offload_slot_end(struct offload_slot *slot)
{
	if (slot->job.password != NULL)
		sodium_memzero(slot, sizeof(*slot));
}

#endif
