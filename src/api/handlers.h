#ifndef KEYGATE_HANDLERS_H
#define KEYGATE_HANDLERS_H

#include "http/http_request.h"
#include "http/request_rc.h"

/*
 * Route handlers. Each runs on the MHD thread of its connection after the
 * pipeline has authenticated the request and parsed its body; it validates,
 * calls the store, and queues exactly one reply, or hands password work to
 * http/offload.h, whose continuation replies once it is done. A handler
 * that returns HANDLER_DONE without a reply gets a 500 from the pipeline.
 */
enum handler_rc handler_health(struct request *req);
enum handler_rc handler_signup(struct request *req);
enum handler_rc handler_login(struct request *req);
enum handler_rc handler_refresh(struct request *req);
enum handler_rc handler_apikey_get(struct request *req);
enum handler_rc handler_apikey_regenerate(struct request *req);
enum handler_rc handler_books_list(struct request *req);
enum handler_rc handler_books_create(struct request *req);
enum handler_rc handler_book_get(struct request *req);
enum handler_rc handler_book_update(struct request *req);
enum handler_rc handler_book_delete(struct request *req);
enum handler_rc handler_verify(struct request *req);

/* http_reply_store_failed, for a handler's return. */
enum handler_rc handler_store_failed(struct request *req, int store_rc);
/* A failure that is not the store's (memory, a token that could not be
 * signed, a hash that failed): logged as what failed, answered 500. */
enum handler_rc handler_internal_error(struct request *req, const char *what);

#endif
