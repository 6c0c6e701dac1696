/* handler_verify.c: /verify, forward auth for a proxy in front of another
 * API. By the time it runs, the books' stages have decided: the key is
 * known (req->user_id), the api_key throttle admitted the request and put
 * the quota headers on the reply; a refusal never reaches here. */
#include <string.h>

#include "base/app.h"
#include "api/handlers.h"
#include "auth/user_info.h"
#include "http/http_reply.h"
#include "store/store.h"

/* 200, empty, with the user for the upstream; the quota headers are on
 * the reply already. The user gone since their key was checked (deleted
 * in between): the key is no longer valid, 401 as for any unknown key. */
enum handler_rc handler_verify(struct request *req)
{
	char name[STORE_USERNAME_MAX + 1];
	int rc = user_info_name(req, name, sizeof(name));

	if (rc == STORE_NOT_FOUND) {
		http_reply_error(req, HTTP_ERR_APIKEY_INVALID, NULL);
		return HANDLER_DONE;
	}
	if (rc != STORE_OK)
		return handler_store_failed(req, rc);
	http_request_add_header_u64(req, "X-Keygate-User-Id", (uint64_t)req->user_id); /* ids start at 1 */
	http_request_add_header_text(req, "X-Keygate-Username", name, strlen(name));
	http_reply_empty(req, 200);
	return HANDLER_DONE;
}
