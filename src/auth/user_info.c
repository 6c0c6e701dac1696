/* user_info.c: a key owner's name and tier, cached per thread. */
#include "auth/user_info.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/namecache.h"
#include "base/app.h"
#include "base/config.h"
#include "store/store.h"

/* The row from the store, cached under epoch; name gets the username
 * when name is not NULL. */
static int load(struct request *req, uint64_t epoch, char *name, size_t size, int *tier)
{
	struct store_user u;

	http_request_read_pass(req);
	int rc = store_user_by_id(req->app->store, req->user_id, &u);
	if (rc == STORE_OK) {
		*tier = config_tier_index(req->cfg, u.tier);
		namecache_put(req->user_id, epoch, u.username, *tier);
		if (name != NULL)
			snprintf(name, size, "%s", u.username);
	}
	sodium_memzero(u.password_hash, sizeof(u.password_hash)); /* read with the row, never used */
	return rc;
}

int user_info_name(struct request *req, char *name, size_t size)
{
	uint64_t epoch = store_keys_epoch(req->app->store);
	int tier;

	if (namecache_get(req->user_id, epoch, name, size))
		return STORE_OK;
	return load(req, epoch, name, size, &tier);
}

int user_info_tier(struct request *req, int *tier)
{
	uint64_t epoch = store_keys_epoch(req->app->store);

	if (namecache_get_tier(req->user_id, epoch, tier))
		return STORE_OK;
	return load(req, epoch, NULL, 0, tier);
}
