/* handler_auth.c: POST /users/login/ and /users/login/refresh — JWTs. */
#include <stdlib.h>
#include <time.h>

#include "base/app.h"
#include "api/handlers.h"
#include "http/http_reply.h"
#include "http/offload.h"
#include "auth/mw_throttle.h"
#include "store/store.h"
#include "lib/validate.h"

struct login_state {
	int64_t user_id; /* 0: no such user (verified against the dummy hash) */
	int is_active;
};

/* After the check against the stored (or the dummy) hash. */
static enum handler_rc login_finish(struct request *req, int result, const char *hash)
{
	const struct login_state *ls = req->handler_state;
	time_t now = time(NULL);
	(void)hash;

	if (result != 0 || ls->user_id == 0 || !ls->is_active) {
		http_reply_error(req, HTTP_ERR_LOGIN_FAILED, NULL);
		return HANDLER_DONE;
	}
	char *refresh = token_issue(&req->app->tokens, TOKEN_REFRESH, ls->user_id, now);
	char *access = token_issue(&req->app->tokens, TOKEN_ACCESS, ls->user_id, now);
	if (refresh == NULL || access == NULL) {
		free(refresh);
		free(access);
		return handler_internal_error(req, "login: issuing the tokens");
	}
	req->user_id = ls->user_id;
	http_reply_secret_json(req, 200, json_pack("{s:s, s:s}", "refresh", refresh, "access", access));
	free(refresh);
	free(access);
	return HANDLER_DONE;
}

enum handler_rc handler_login(struct request *req)
{
	json_t *errors;
	const char *username, *password;
	size_t ulen, plen;
	struct store_user user;
	struct login_state *ls;

	errors = json_object();
	username = validate_string(req->json, "username", VALIDATE_REQUIRED, errors, &ulen);
	password = validate_string(req->json, "password", VALIDATE_REQUIRED, errors, &plen);
	if (json_object_size(errors) > 0) {
		http_reply_json(req, 400, errors);
		return HANDLER_DONE;
	}
	json_decref(errors);
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return handler_internal_error(req, "login: allocating its state");
	req->handler_state = ls;
	int rc = store_user_by_name(req->app->store, username, &user);
	if (rc != STORE_OK && rc != STORE_NOT_FOUND)
		return handler_store_failed(req, rc);
	/* Verify even when there is no such user, against a dummy hash, so
	 * the answer takes as long either way. */
	const char *hash = rc == STORE_OK ? user.password_hash : req->app->dummy_hash;
	ls->user_id = rc == STORE_OK ? user.id : 0;
	ls->is_active = rc == STORE_OK && user.is_active;
	return offload_password_verify(req, hash, password, plen, login_finish);
}

enum handler_rc handler_refresh(struct request *req)
{
	json_t *errors = json_object();
	struct token_claims claims;
	struct store_user user;
	size_t len;
	time_t now = time(NULL);

	const char *tok = validate_string(req->json, "refresh", VALIDATE_REQUIRED, errors, &len);
	if (tok == NULL) {
		http_reply_json(req, 400, errors);
		return HANDLER_DONE;
	}
	json_decref(errors);
	if (token_verify(&req->app->tokens, tok, len, TOKEN_REFRESH, now, &claims) == -1) {
		http_reply_error(req, HTTP_ERR_REFRESH_INVALID, NULL);
		return HANDLER_DONE;
	}
	/* Per user, known only now: a stolen refresh token mints access
	 * tokens at this rate at most. */
	if (mw_throttle_check(req, SCOPE_REFRESH, (uint64_t)claims.user_id, 1) == STAGE_DONE)
		return HANDLER_DONE;
	int rc = store_user_by_id(req->app->store, claims.user_id, &user);
	if (rc == STORE_NOT_FOUND || (rc == STORE_OK && !user.is_active)) {
		http_reply_error(req, HTTP_ERR_REFRESH_INVALID, NULL);
		return HANDLER_DONE;
	}
	if (rc != STORE_OK)
		return handler_store_failed(req, rc);
	char *access = token_issue(&req->app->tokens, TOKEN_ACCESS, claims.user_id, now);
	if (access == NULL)
		return handler_internal_error(req, "refresh: issuing the access token");
	req->user_id = claims.user_id;
	http_reply_secret_json(req, 200, json_pack("{s:s}", "access", access));
	free(access);
	return HANDLER_DONE;
}
