#ifndef KEYGATE_MW_APIKEY_H
#define KEYGATE_MW_APIKEY_H

#include "http/http_request.h"
#include "http/request_rc.h"

/*
 * For ROUTE_F_APIKEY routes: the key from "Authorization: <key>",
 * "Authorization: Api-Key <key>" or "X-API-Key: <key>", in any spelling of
 * a UUID; at most one store lookup, by keyed hash (none when this thread's
 * key cache knows the key under the host's current key epoch); sets
 * req->user_id. Missing: 400;
 * unknown: 401, counted per client address in the invalid_key scope. An
 * address over that limit is refused (429) before any lookup, valid key or
 * not, so that it learns nothing more.
 */
enum stage_rc mw_apikey(struct request *req);

#endif
