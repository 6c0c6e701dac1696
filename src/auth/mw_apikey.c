/* mw_apikey.c: the API key -> user middleware. */
#include "auth/mw_apikey.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "base/app.h"
#include "http/http_reply.h"
#include "auth/keycache.h"
#include "base/metrics.h"
#include "auth/mw_throttle.h"
#include "store/store.h"

/* The key text in the request without the white space around it (HTTP's,
 * not the key's), or NULL. */
static const char *key_text(const struct request *req, size_t *len)
{
	const char *k = http_request_header(req, "X-API-Key");
	if (k == NULL || k[strspn(k, " \t")] == '\0') {
		k = http_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
		if (k != NULL && strncasecmp(k, "Api-Key ", 8) == 0)
			k += 8;
	}
	if (k == NULL)
		return NULL;
	k += strspn(k, " \t");
	*len = strlen(k);
	while (*len > 0 && (k[*len - 1] == ' ' || k[*len - 1] == '\t'))
		(*len)--;
	return *len > 0 ? k : NULL;
}

/* The active user who owns key, when this thread's cache holds it as
 * such for the store's key epoch: no store lookup, nothing to charge. */
static int key_cached(struct request *req, const uint8_t key[APIKEY_BYTES], int64_t *uid)
{
	uint64_t epoch = store_keys_epoch(req->app->store);

	return epoch != 0 && keycache_get(key, epoch, uid) && *uid != 0;
}

/* The active user who owns key: from this thread's cache when it is valid
 * for the store's key epoch, else from the store (then cached, found or
 * not). */
static int key_owner(struct request *req, const uint8_t key[APIKEY_BYTES], int64_t *uid)
{
	uint8_t hash[APIKEY_HASH_BYTES];
	uint64_t epoch = store_keys_epoch(req->app->store);

	if (epoch != 0 && keycache_get(key, epoch, uid))
		return *uid != 0 ? STORE_OK : STORE_NOT_FOUND;
	apikey_hash(&req->app->keys, key, hash);
	http_request_read_pass(req); /* the handler's reads follow */
	int rc = store_apikey_find(req->app->store, hash, uid);
	if (epoch != 0 && (rc == STORE_OK || rc == STORE_NOT_FOUND))
		keycache_put(key, epoch, rc == STORE_OK ? *uid : 0);
	return rc;
}

/* A key not known to be good: its lookup is charged to the address first,
 * so that guesses in flight at once never pass the limit; a key that is
 * found (or not looked at, the store failing) gets its charge back. When
 * the table has no room for the address, a key that is found is served
 * all the same, and only an unknown one is refused (503). */
static enum stage_rc key_checked(struct request *req, const uint8_t *key, int64_t *uid)
{
	struct mw_charge charge;
	uint64_t client;

	if (mw_throttle_client_key(req, &client) == -1) {
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return STAGE_DONE;
	}
	if (mw_throttle_charge(req, SCOPE_INVALID_KEY, client, &charge) == -1)
		return STAGE_DONE;
	int rc = key != NULL ? key_owner(req, key, uid) : STORE_NOT_FOUND;
	if (rc == STORE_OK) {
		mw_throttle_charge_refund(req, &charge);
		return STAGE_NEXT;
	}
	if (rc != STORE_NOT_FOUND) {
		mw_throttle_charge_refund(req, &charge);
		http_reply_store_failed(req, rc);
		return STAGE_DONE;
	}
	if (key != NULL)
		metrics_apikey_unknown();
	mw_throttle_charge_keep(req, &charge);
	if (!charge.decided || !charge.d.full)
		http_reply_error(req, HTTP_ERR_APIKEY_INVALID, NULL);
	return STAGE_DONE;
}

enum stage_rc mw_apikey(struct request *req)
{
	uint8_t key[APIKEY_BYTES];
	int64_t uid;
	size_t len;

	const char *text = key_text(req, &len);
	if (text == NULL) {
		http_reply_error(req, HTTP_ERR_APIKEY_MISSING, NULL);
		return STAGE_DONE;
	}
	int parsed = apikey_parse(text, len, key) == 0;
	/* The common request: a key this thread knows to be good, charged
	 * nothing (no lookup happens), so it costs no throttle call but its
	 * user's own. */
	enum stage_rc rc =
	    parsed && key_cached(req, key, &uid) ? STAGE_NEXT : key_checked(req, parsed ? key : NULL, &uid);
	sodium_memzero(key, sizeof(key));
	if (rc == STAGE_NEXT)
		req->user_id = uid;
	return rc;
}
