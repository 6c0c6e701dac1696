/* handler_signup.c: POST /users/signup/ — the user and their API key. */
#include <sodium.h>

#include "base/app.h"
#include "api/handlers.h"
#include "http/http_reply.h"
#include "http/offload.h"
#include "store/store.h"
#include "lib/validate.h"

#define USERNAME_TAKEN "A user with that username already exists."

struct signup_fields {
	const char *username, *password, *email;
	size_t ulen, plen, elen;
};

/* Django's rules; the uniqueness check is repeated by the insert. 0 when
 * the fields pass, -1 after replying (400, or a store failure). */
static int signup_validate(struct request *req, struct signup_fields *f)
{
	json_t *errors = json_object();
	struct store_user existing;

	f->username = validate_string(req->json, "username", VALIDATE_REQUIRED, errors, &f->ulen);
	f->password = validate_string(req->json, "password", VALIDATE_REQUIRED, errors, &f->plen);
	f->email = validate_string(req->json, "email", VALIDATE_OPTIONAL, errors, &f->elen);
	if (f->username != NULL && validate_username(f->username, f->ulen, errors) == -1)
		f->username = NULL;
	if (f->password != NULL)
		validate_password(f->password, f->plen, f->username, errors);
	if (f->email != NULL && f->elen > 0)
		validate_email(f->email, f->elen, errors);
	if (f->username != NULL) {
		int rc = store_user_by_name(req->app->store, f->username, &existing);
		if (rc == STORE_OK)
			validate_fail(errors, "username", USERNAME_TAKEN);
		else if (rc != STORE_NOT_FOUND) {
			json_decref(errors);
			handler_store_failed(req, rc);
			return -1;
		}
	}
	if (json_object_size(errors) > 0) {
		http_reply_invalid(req, "failed", errors);
		return -1;
	}
	json_decref(errors);
	return 0;
}

/* After the hash: create the user and the key in one transaction (hash
 * is wiped once this returns). */
static enum handler_rc signup_finish(struct request *req, int result, const char *hash)
{
	struct signup_fields f;
	struct store_apikey rec;
	uint8_t key[APIKEY_BYTES];
	int64_t id;

	if (result != 0)
		return handler_internal_error(req, "signup: hashing the password");
	f.username = json_string_value(json_object_get(req->json, "username"));
	f.email = json_string_value(json_object_get(req->json, "email"));
	apikey_generate(key);
	apikey_hash(&req->app->keys, key, rec.hash);
	apikey_seal(&req->app->keys, key, rec.box);
	sodium_memzero(key, sizeof(key));
	int rc = store_user_create(req->app->store, f.username, f.email != NULL ? f.email : "", hash, &rec, &id);
	if (rc == STORE_CONFLICT) { /* lost a race for the name */
		json_t *errors = json_object();
		validate_fail(errors, "username", USERNAME_TAKEN);
		http_reply_invalid(req, "failed", errors);
		return HANDLER_DONE;
	}
	if (rc != STORE_OK)
		return handler_store_failed(req, rc);
	req->user_id = id;
	http_reply_json(req, 201,
	    http_reply_data_new("successful", json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "username", f.username,
						  "email", f.email != NULL ? f.email : "")));
	return HANDLER_DONE;
}

enum handler_rc handler_signup(struct request *req)
{
	struct signup_fields f;

	if (signup_validate(req, &f) == -1)
		return HANDLER_DONE;
	/* f.password is borrowed from req->json. */
	return offload_password_hash(req, f.password, f.plen, signup_finish);
}
