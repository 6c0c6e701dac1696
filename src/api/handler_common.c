/* handler_common.c: what several handlers share: the replies to a failure, the store's or another. */
#include "api/handlers.h"
#include "base/log.h"
#include "http/http_reply.h"

enum handler_rc handler_store_failed(struct request *req, int store_rc)
{
	http_reply_store_failed(req, store_rc);
	return HANDLER_DONE;
}

enum handler_rc handler_internal_error(struct request *req, const char *what)
{
	log_warnx("%s failed", what);
	http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
	return HANDLER_DONE;
}
