/* mw_jwt.c: Bearer access tokens, as Simple JWT's JWTAuthentication. */
#include "auth/mw_jwt.h"

#include <string.h>
#include <time.h>

#include "base/app.h"
#include "http/http_reply.h"
#include "store/store.h"
#include "lib/token.h"

enum stage_rc mw_jwt(struct request *req)
{
	const char *h = http_request_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	struct token_claims claims;
	struct store_user user;

	/* No header, or another scheme: not our credentials at all. */
	if (h == NULL || strncmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\0')) {
		http_reply_error(req, HTTP_ERR_NOT_AUTHENTICATED, NULL);
		return STAGE_DONE;
	}
	const char *tok = h[6] == ' ' ? h + 7 : h + 6;
	if (*tok == '\0' || strchr(tok, ' ') != NULL ||
	    token_verify(&req->app->tokens, tok, strlen(tok), TOKEN_ACCESS, time(NULL), &claims) == -1) {
		http_reply_error(req, HTTP_ERR_TOKEN_INVALID, NULL);
		return STAGE_DONE;
	}
	http_request_read_pass(req); /* the handler's reads follow */
	/* The token may outlive its user (deleted or disabled). */
	int rc = store_user_by_id(req->app->store, claims.user_id, &user);
	if (rc == STORE_NOT_FOUND || (rc == STORE_OK && !user.is_active)) {
		http_reply_error(req, HTTP_ERR_TOKEN_INVALID, NULL);
		return STAGE_DONE;
	}
	if (rc != STORE_OK) {
		http_reply_store_failed(req, rc);
		return STAGE_DONE;
	}
	req->user_id = claims.user_id;
	return STAGE_NEXT;
}
