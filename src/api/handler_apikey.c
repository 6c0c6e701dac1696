/* handler_apikey.c: GET and PUT /users/api_key/get/ — show or regenerate. */
#include <sodium.h>

#include "base/app.h"
#include "api/handlers.h"
#include "http/http_reply.h"
#include "base/log.h"
#include "store/store.h"

static enum handler_rc reply_key(struct request *req, uint8_t key[APIKEY_BYTES])
{
	char text[APIKEY_TEXT_LEN + 1];

	apikey_format(key, text);
	sodium_memzero(key, APIKEY_BYTES);
	http_reply_secret_json(req, 200, http_reply_data_new("Successful", json_pack("{s:s}", "key", text)));
	sodium_memzero(text, sizeof(text));
	return HANDLER_DONE;
}

enum handler_rc handler_apikey_get(struct request *req)
{
	struct store_apikey rec;
	uint8_t key[APIKEY_BYTES];

	int rc = store_apikey_get(req->app->store, req->user_id, &rec);
	if (rc != STORE_OK)
		return handler_store_failed(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
	if (apikey_open(&req->app->keys, rec.box, key) == -1) {
		/* The database and the key secret file do not belong together. */
		log_warnx("user %lld: the stored API key does not open with this key secret", (long long)req->user_id);
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
		return HANDLER_DONE;
	}
	return reply_key(req, key);
}

enum handler_rc handler_apikey_regenerate(struct request *req)
{
	struct store_apikey rec;
	uint8_t key[APIKEY_BYTES];

	apikey_generate(key);
	apikey_hash(&req->app->keys, key, rec.hash);
	apikey_seal(&req->app->keys, key, rec.box);
	int rc = store_apikey_replace(req->app->store, req->user_id, &rec);
	if (rc != STORE_OK) {
		sodium_memzero(key, sizeof(key));
		return handler_store_failed(req, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
	}
	return reply_key(req, key);
}
