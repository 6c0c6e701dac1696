#ifndef KEYGATE_PIPELINE_H
#define KEYGATE_PIPELINE_H

#include "http/http_request.h"

/*
 * The ordered stages a complete request goes through on its MHD thread:
 * route (404) -> authentication (JWT or API key, by route flags) ->
 * throttle (the route's scope, 429) -> method (405) -> body (415/400) ->
 * handler. Each stage either passes the request on or
 * queues a reply. A request resumed after off-thread work goes straight
 * back to its handler.
 */
enum stage_rc { STAGE_NEXT, STAGE_DONE };

void pipeline_run(struct request *req);

/* Called by a stage about to read the store: a GET (which only reads) does
 * all its reads from here to its reply in one store read pass, ended when
 * the pipeline returns. */
void pipeline_read_pass(struct request *req);

#endif
