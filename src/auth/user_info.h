#ifndef KEYGATE_USER_INFO_H
#define KEYGATE_USER_INFO_H

#include <stddef.h>

#include "http/http_request.h"

/*
 * What keygate needs of the user behind a request's key (req->user_id)
 * beyond their id: the name (X-Keygate-Username) and the tier (their
 * windows). From this thread's cache (namecache.h) under the store's key
 * epoch, so a change of either, or a deletion, is seen as a revocation is;
 * else from the store, in the request's read pass, then cached. Each
 * returns a STORE_* code (STORE_NOT_FOUND: the user is gone).
 */

/* Their name into name (size bytes, at least STORE_USERNAME_MAX + 1). */
int user_info_name(struct request *req, char *name, size_t size);

/* Their tier: a config_tier_index of the request's configuration, -1 for
 * the default windows (no tier, or one the configuration does not have). */
int user_info_tier(struct request *req, int *tier);

#endif
