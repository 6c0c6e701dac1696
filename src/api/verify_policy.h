#ifndef KEYGATE_VERIFY_POLICY_H
#define KEYGATE_VERIFY_POLICY_H

#include <stdint.h>

#include "http/http_request.h"
#include "throttle/throttle.h"

/*
 * Which policy decides a request a front proxy asks /verify about: the
 * first [policy] section (lib/gate_policy.h) that covers the method and
 * path the proxy describes (X-Forwarded-Method and X-Forwarded-Uri, as
 * Caddy, Traefik and Envoy send them, or nginx's X-Original-Method and
 * X-Original-URI), and its cost; when none does, *scope and *cost are
 * left as they are (the route's scope, cost 1).
 * A request the proxy does not describe is matched by no method-bound
 * pattern and no path.
 */
void verify_policy(const struct request *req, enum throttle_scope *scope, uint32_t *cost);

#endif
