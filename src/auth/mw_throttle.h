#ifndef KEYGATE_MW_THROTTLE_H
#define KEYGATE_MW_THROTTLE_H

#include <stdint.h>

#include "http/http_request.h"
#include "http/offload_slot.h"
#include "http/request_rc.h"
#include "throttle/throttle.h"

/*
 * Rate limits on the request path: decide, add the quota headers (IETF
 * RateLimit-Policy / RateLimit, and the legacy trio when configured) to
 * whatever reply follows, and answer 429 with Retry-After and an RFC 9457
 * problem body on refusal.
 */

/* Pipeline stage: the route's scope (SCOPE_NONE passes), keyed by the user
 * (api_key, regenerate, a [policy]) or the client address (login,
 * signup); the request spends cost units of every window, or none. On a
 * store that decides off the thread (Redis), with then given: the
 * connection is suspended (STAGE_SUSPENDED) and, on resume, then(req, job)
 * goes on, calling mw_throttle_decided first. */
enum stage_rc mw_throttle(struct request *req, enum throttle_scope scope, uint32_t cost, offload_decided_fn then);
/* The end of a decision made off the thread: as mw_throttle_check. */
enum stage_rc mw_throttle_decided(struct request *req, const struct throttle_job *job);

/* One decision for scope and key, spending spend units. spend = 0 only looks (and adds quota
 * headers only when it refuses). STAGE_DONE when a reply (429, or 503 when
 * the store fails and on_error = deny) is queued. */
enum stage_rc mw_throttle_check(struct request *req, enum throttle_scope scope, uint64_t key, uint32_t spend);

/* An admission spent ahead of what decides whether it should count (the
 * invalid-key scope is charged before the key is looked up): then either
 * kept (its quota headers go on the reply) or refunded. When the table has
 * no room for the key, nothing is spent and nothing replied yet: the
 * caller may still serve what needs no charge (a key that is found), and
 * keeping such a charge answers 503 (the table cannot count it). */
struct mw_charge {
	enum throttle_scope scope;
	uint64_t key;
	int decided; /* 0: the store failed and on_error = allow */
	struct throttle_decision d;
};
/* 0 when admitted (or let through by on_error), 1 when the table has no
 * room (nothing spent, nothing queued), -1 when a reply (429, or 503 when
 * the store fails) is queued. */
int mw_throttle_charge(struct request *req, enum throttle_scope scope, uint64_t key, struct mw_charge *c);
/* Keep: the quota headers go on the reply, or a 503 is queued when the
 * charge found no room. */
void mw_throttle_charge_keep(struct request *req, const struct mw_charge *c);
void mw_throttle_charge_refund(struct request *req, const struct mw_charge *c);

/* The key of the client's address (an IPv6 one by its [throttle]
 * ipv6_prefix); -1 when it cannot be had. */
int mw_throttle_client_key(struct request *req, uint64_t *key);

#endif
