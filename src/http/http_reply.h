#ifndef KEYGATE_HTTP_REPLY_H
#define KEYGATE_HTTP_REPLY_H

#include <jansson.h>
#include <microhttpd.h>

struct request;

/*
 * The only code that builds an MHD_Response for a client of the API (the
 * admin listener, server/http_admin.c, builds its own). Every reply carries
 * X-Request-Id and the headers added to the request, and, on a request
 * with body_in_header set (a forward-auth check whose proxy asked), every
 * reply with a status of 300 or more carries its body again as the header
 * X-Keygate-Body. Call on the MHD thread that owns the connection, at most
 * once per request.
 */

/* Errors: one table of status and body; arg fills the detail where the
 * entry has a %s (method name, parser message, media type). */
enum http_error {
	HTTP_ERR_BAD_REQUEST,
	HTTP_ERR_JSON_PARSE,
	HTTP_ERR_NOT_FOUND,
	HTTP_ERR_METHOD,
	HTTP_ERR_TOO_LARGE,
	HTTP_ERR_URI_TOO_LONG,
	HTTP_ERR_HEADERS_TOO_LARGE,
	HTTP_ERR_MEDIA_TYPE,
	HTTP_ERR_INTERNAL,
	HTTP_ERR_UNAVAILABLE,
	HTTP_ERR_STORAGE_FULL,
	HTTP_ERR_BUSY,
	HTTP_ERR_NOT_AUTHENTICATED,
	HTTP_ERR_TOKEN_INVALID,
	HTTP_ERR_REFRESH_INVALID,
	HTTP_ERR_LOGIN_FAILED,
	HTTP_ERR_APIKEY_MISSING,
	HTTP_ERR_APIKEY_INVALID,
};

/* body is stolen (json_decref'd) in every case. */
void http_reply_json(struct request *req, unsigned status, json_t *body);
/* The same for a body that holds a token or an API key: with
 * Cache-Control: no-store (as OAuth's token responses say). */
void http_reply_secret_json(struct request *req, unsigned status, json_t *body);
/* The same with another media type (e.g. application/problem+json). */
void http_reply_json_as(struct request *req, unsigned status, json_t *body, const char *content_type);
/* A body already rendered (copied). */
void http_reply_text(struct request *req, unsigned status, const char *body, size_t len, const char *content_type);
/* A JSON body already rendered (copied), as application/json. */
void http_reply_json_text(struct request *req, unsigned status, const char *body, size_t len);
/* 204 and friends. */
void http_reply_empty(struct request *req, unsigned status);
void http_reply_error(struct request *req, enum http_error err, const char *arg);
/* 400 {"message": message, "info": errors}: field validation failures
 * (errors is stolen). */
void http_reply_invalid(struct request *req, const char *message, json_t *errors);
/* The tutorial's success body, {"message": message, "data": data}, for
 * http_reply_json and the like (data is stolen). NULL when out of memory,
 * which those answer with 500. */
json_t *http_reply_data_new(const char *message, json_t *data);

/* Answer 500, HTTP_ERR_INTERNAL's body, to a request that cannot be served
 * at all: out of memory, with no request object. Returns MHD's result. */
enum MHD_Result http_reply_bare_internal(struct MHD_Connection *conn);

/* The reply for a failed store call (a STORE_* code, store/store.h): 404
 * for STORE_NOT_FOUND, 503 for STORE_UNAVAILABLE and STORE_FULL, 500 for
 * any other failure. */
void http_reply_store_failed(struct request *req, int store_rc);

#endif
