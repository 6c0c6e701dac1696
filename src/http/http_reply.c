/* http_reply.c: every MHD_Response for a client of the API is built here (the admin listener builds its own). */
#include "http/http_reply.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/app.h"
#include "http/http_request.h"
#include "base/log.h"
#include "store/store.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define INTERNAL_TEXT "A server error occurred."

/* The 500 body, for when no other can be rendered (out of memory). */
static const char internal_body[] = "{\"detail\":\"" INTERNAL_TEXT "\"}";

static const struct {
	unsigned status;
	const char *key; /* "detail" (DRF) or "message" (the tutorial's views) */
	const char *text; /* may hold one %s */
	const char *code; /* Simple JWT's "code", or NULL */
} errors[] = {
	[HTTP_ERR_BAD_REQUEST] = { 400, "detail", "Bad request: %s", NULL },
	[HTTP_ERR_JSON_PARSE] = { 400, "detail", "JSON parse error - %s", NULL },
	[HTTP_ERR_NOT_FOUND] = { 404, "detail", "Not found.", NULL },
	[HTTP_ERR_METHOD] = { 405, "detail", "Method \"%s\" not allowed.", NULL },
	[HTTP_ERR_TOO_LARGE] = { 413, "detail", "Request body is larger than %s bytes.", NULL },
	[HTTP_ERR_URI_TOO_LONG] = { 414, "detail", "Request URI is longer than %s bytes.", NULL },
	[HTTP_ERR_HEADERS_TOO_LARGE] = { 431, "detail", "Request header fields are too large: at most %s.", NULL },
	[HTTP_ERR_MEDIA_TYPE] = { 415, "detail", "Unsupported media type \"%s\" in request.", NULL },
	[HTTP_ERR_INTERNAL] = { 500, "detail", INTERNAL_TEXT, NULL },
	[HTTP_ERR_UNAVAILABLE] = { 503, "detail", "The service is temporarily unavailable; try again later.", NULL },
	[HTTP_ERR_STORAGE_FULL] = { 503, "detail",
	    "The database cannot store anything right now (disk full or read-only); try again later.", NULL },
	[HTTP_ERR_BUSY] = { 503, "detail", "Too many password checks in progress; try again shortly.", NULL },
	[HTTP_ERR_NOT_AUTHENTICATED] = { 401, "detail", "Authentication credentials were not provided.", NULL },
	[HTTP_ERR_TOKEN_INVALID] = { 401, "detail", "Given token not valid for any token type", "token_not_valid" },
	[HTTP_ERR_REFRESH_INVALID] = { 401, "detail", "Token is invalid or expired", "token_not_valid" },
	[HTTP_ERR_LOGIN_FAILED] = { 401, "detail", "No active account found with the given credentials", NULL },
	[HTTP_ERR_APIKEY_MISSING] = { 400, "message", "API key required", NULL },
	[HTTP_ERR_APIKEY_INVALID] = { 401, "message", "Unauthorized. Invalid API key", NULL },
};

/* A forward-auth refusal's body, also as the header X-Keygate-Body, for
 * a proxy that passes statuses and headers on but drops the body (nginx's
 * auth_request). Only when the proxy asked (req->body_in_header): the
 * reply is otherwise exactly the API's. Refusal bodies are compact JSON
 * (no CR or LF); one that does not fit is left out, never cut. */
static void body_header(struct request *req, unsigned status, struct MHD_Response *resp, const char *body,
    size_t len)
{
	char value[1024];

	if (!req->body_in_header || status < 300 || body == NULL || len == 0 || len >= sizeof(value) ||
	    memchr(body, '\n', len) != NULL || memchr(body, '\r', len) != NULL)
		return;
	memcpy(value, body, len);
	value[len] = '\0';
	MHD_add_response_header(resp, "X-Keygate-Body", value);
}

static void queue(struct request *req, unsigned status, struct MHD_Response *resp, const char *body, size_t len)
{
	if (resp == NULL) {
		log_warnx("rid=%s: cannot build a response", req->id);
		return;
	}
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	/* Refusals that change from one moment to the next (API.md): no
	 * cache may keep them; replies with secrets say so themselves. */
	if (status == 401 || status == 429 || status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (app_draining(req->app))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	for (int i = 0; i < req->nheaders; i++)
		MHD_add_response_header(resp, req->header_name[i], req->header_bytes + req->header_value[i]);
	body_header(req, status, resp, body, len);
	if (MHD_queue_response(req->conn, status, resp) == MHD_YES) {
		req->status = status;
		req->bytes_out = len;
		req->replied = 1;
	}
	MHD_destroy_response(resp);
}

void http_reply_secret_json(struct request *req, unsigned status, json_t *body)
{
	http_request_add_header(req, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	http_reply_json(req, status, body);
}

void http_reply_json(struct request *req, unsigned status, json_t *body)
{
	http_reply_json_as(req, status, body, JSON_TYPE);
}

void http_reply_json_as(struct request *req, unsigned status, json_t *body, const char *content_type)
{
	/* Rendered into a per-thread buffer, so that a reply costs one copy
	 * instead of jansson's growing string buffer; MHD copies it. */
	static _Thread_local char buf[16384];
	size_t len = json_dumpb(body, buf, sizeof(buf), JSON_COMPACT);
	struct MHD_Response *r = NULL;
	const char *shown = buf; /* the bytes sent, while r lives */

	if (len > 0 && len <= sizeof(buf)) {
		r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_COPY);
	} else { /* larger than the buffer, or could not render */
		char *text = json_dumps(body, JSON_COMPACT);
		len = text != NULL ? strlen(text) : 0;
		shown = text;
		if (text != NULL && (r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)) == NULL)
			free(text);
		if (text == NULL) {
			/* Out of memory while rendering: still answer. */
			len = sizeof(internal_body) - 1;
			status = 500;
			shown = internal_body;
			r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)shown, MHD_RESPMEM_PERSISTENT);
		}
	}
	json_decref(body);
	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	queue(req, status, r, shown, len);
}

void http_reply_text(struct request *req, unsigned status, const char *body, size_t len, const char *content_type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	queue(req, status, r, body, len);
}

void http_reply_json_text(struct request *req, unsigned status, const char *body, size_t len)
{
	http_reply_text(req, status, body, len, JSON_TYPE);
}

void http_reply_empty(struct request *req, unsigned status)
{
	queue(req, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), NULL, 0);
}

static json_t *error_body(enum http_error err, const char *arg)
{
	char text[512];

	/* The table's formats are ours; arg is bounded. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(text, sizeof(text), errors[err].text, arg != NULL ? arg : "");
#pragma GCC diagnostic pop
	json_t *body = json_object();
	json_object_set_new(body, errors[err].key, json_string(text));
	if (errors[err].code != NULL)
		json_object_set_new(body, "code", json_string(errors[err].code));
	return body;
}

/*
 * The bodies of the errors that take no argument never change: rendered
 * (by jansson) once per process, then served from memory. The hot
 * rejections (unknown key, missing key, not found) cost no JSON work.
 */
#define NERRORS (sizeof(errors) / sizeof(errors[0]))
static char *constant_body[NERRORS];
static pthread_once_t constant_once = PTHREAD_ONCE_INIT;

static void render_constants(void)
{
	for (size_t i = 0; i < NERRORS; i++) {
		if (strstr(errors[i].text, "%s") != NULL)
			continue;
		json_t *body = error_body((enum http_error)i, NULL);
		constant_body[i] = json_dumps(body, JSON_COMPACT); /* NULL: rendered per reply */
		json_decref(body);
	}
}

void http_reply_error(struct request *req, enum http_error err, const char *arg)
{
	if (err == HTTP_ERR_NOT_AUTHENTICATED || err == HTTP_ERR_TOKEN_INVALID)
		http_request_add_header(req, "WWW-Authenticate", "Bearer realm=\"api\"");
	if (err == HTTP_ERR_UNAVAILABLE || err == HTTP_ERR_BUSY || err == HTTP_ERR_STORAGE_FULL)
		http_request_add_header(req, "Retry-After", "1");
	pthread_once(&constant_once, render_constants);
	const char *text = constant_body[err];
	if (text != NULL) {
		size_t len = strlen(text);
		struct MHD_Response *r =
		    MHD_create_response_from_buffer(len, (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
		if (r != NULL)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
		queue(req, errors[err].status, r, text, len);
		return;
	}
	http_reply_json(req, errors[err].status, error_body(err, arg));
}

void http_reply_invalid(struct request *req, const char *message, json_t *errors_obj)
{
	http_reply_json(req, 400, json_pack("{s:s, s:o}", "message", message, "info", errors_obj));
}

json_t *http_reply_data_new(const char *message, json_t *data)
{
	return json_pack("{s:s, s:o}", "message", message, "data", data);
}

enum MHD_Result http_reply_bare_internal(struct MHD_Connection *conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    sizeof(internal_body) - 1, (void *)(uintptr_t)internal_body, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
	enum MHD_Result rc = MHD_queue_response(conn, 500, r);
	MHD_destroy_response(r);
	return rc;
}

void http_reply_store_failed(struct request *req, int store_rc)
{
	enum http_error err = store_rc == STORE_NOT_FOUND     ? HTTP_ERR_NOT_FOUND
			      : store_rc == STORE_UNAVAILABLE ? HTTP_ERR_UNAVAILABLE
			      : store_rc == STORE_FULL        ? HTTP_ERR_STORAGE_FULL
							      : HTTP_ERR_INTERNAL;
	http_reply_error(req, err, NULL);
}
