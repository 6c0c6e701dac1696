/* handler_common.c: what several handlers share: store failure replies. */
#include "api/handlers.h"
#include "http/http_reply.h"

enum handler_rc handler_store_failed(struct request *req, int store_rc)
{
	http_reply_store_failed(req, store_rc);
	return HANDLER_DONE;
}
