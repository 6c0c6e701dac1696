#ifndef KEYGATE_PIPELINE_H
#define KEYGATE_PIPELINE_H

#include "http/http_request.h"

/*
 * The ordered stages a complete request goes through on its MHD thread:
 * route (404) -> forward-auth options (ROUTE_F_FORWARD) -> authentication
 * (JWT or API key, by route flags) -> throttle (the route's scope, 429) ->
 * method (405) -> body (415/400) -> handler. Each stage either passes the
 * request on, queues a reply, or suspends it (enum stage_rc,
 * http/request_rc.h). A request resumed after off-thread work goes on
 * where it left (http/offload.h): after a throttle decision, with the
 * stages after the throttle and then the handler; after password work,
 * with its handler's continuation.
 * What the handler returns is checked: one that returns HANDLER_DONE
 * without a reply queued (or HANDLER_SUSPENDED without suspending) is
 * logged, naming the route, and the request answered 500.
 */
void pipeline_run(struct request *req);

#endif
