#ifndef KEYGATE_HTTP_REQUEST_H
#define KEYGATE_HTTP_REQUEST_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_method.h"
#include "http/offload_slot.h"

/*
 * One HTTP request: begun on MHD's first callback for it (into *req_cls),
 * ended in the completion callback, nowhere else. Its storage belongs to
 * the connection (http_server.c), reused by each request on it. Used by
 * one thread at a time: the MHD worker that owns the connection, and,
 * only while the connection is suspended, the thread doing its off-thread
 * work (a password pool thread, or the Redis throttle's pipelining
 * thread), through the offload slot alone (http/offload.c).
 */
#define REQUEST_ID_MAX 64
#define REQUEST_HEADERS_MAX 16

struct app;
struct config;
struct route;

/* The values of all of them: the quota headers in every form at once, and
 * a forward-auth answer's username (up to 600 bytes). */
#define REQUEST_HEADER_BYTES 1536

struct request {
	struct MHD_Connection *conn;
	const struct app *app;
	const struct config *cfg; /* the configuration this request runs under */
	enum http_method method;
	const char *method_name; /* MHD's, valid for the request */
	const char *path; /* MHD's, decoded, no query string */
	char id[REQUEST_ID_MAX + 1];
	uint64_t started_ns;

	/* The body, capped at the configured size. */
	char *body;
	size_t body_len;
	size_t body_cap; /* the configured limit */
	size_t body_alloc; /* bytes allocated */
	int body_too_large;
	json_t *json; /* the parsed object, when the route takes a body */

	/* Filled by the router and the middleware. */
	const struct route *route;
	int route_found; /* 0: the path is known but not for this method */
	unsigned allow; /* methods the path takes, for 405 */
	int64_t path_id;
	int64_t user_id;
	unsigned char client_addr[16]; /* for per-address limits (client_ip.c) */
	int client_addr_known;
	int read_pass; /* the store's reads share a transaction (http_request_read_pass) */
	int body_in_header; /* a refusal's body also goes in X-Keygate-Body (http_reply.h) */
	int tier; /* the user's tier (a config_tier_index, -1: none): mw_throttle sets it */

	/* Filled when the reply is queued. */
	unsigned status;
	size_t bytes_out;
	int replied;
	const char *header_name[REQUEST_HEADERS_MAX]; /* string literals */
	uint16_t header_value[REQUEST_HEADERS_MAX]; /* offsets into header_bytes */
	int nheaders;
	uint16_t header_used;

	/* Work done off the MHD thread while the connection is suspended
	 * (http/offload.h's alone). */
	struct offload_slot offload;
	void *handler_state; /* freed with free() in http_request_end */

	/* Last, and not cleared by http_request_begin: each value is written
	 * (with its NUL) before anything reads it. */
	char header_bytes[REQUEST_HEADER_BYTES];
};

/* Begin a request in req's storage (all of it reset but header_bytes, which
 * nothing reads before writing). */
void http_request_begin(
    struct request *req, struct MHD_Connection *conn, const struct app *app, const char *method, const char *path);
/* Release what the request holds (body, JSON, handler state); the storage stays. */
void http_request_end(struct request *req);

/* Append body bytes; past the cap they are dropped and body_too_large set. */
void http_request_append(struct request *req, const char *data, size_t len);

/* A request header (case-insensitive name), or NULL. */
const char *http_request_header(const struct request *req, const char *name);

/* Add a header to the reply this request will get. Drops headers beyond
 * REQUEST_HEADERS_MAX or REQUEST_HEADER_BYTES of values (more than any
 * reply sends; tests would see one missing). */
void http_request_add_header(struct request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the value as it is (len bytes, no NUL among them). */
void http_request_add_header_text(struct request *req, const char *name, const char *value, size_t len);
/* The same with a number in decimal, without a format string (these are
 * on every throttled and every forward-auth reply). */
void http_request_add_header_u64(struct request *req, const char *name, uint64_t v);

/* Called by a stage about to read the store: a GET (which only reads) does
 * all its reads from here to its reply in one store read pass, which
 * http_request_read_pass_end (called by the pipeline once the request is
 * answered or suspended) ends. Other methods read in their own transactions. */
void http_request_read_pass(struct request *req);
void http_request_read_pass_end(struct request *req);

uint64_t http_now_ns(void);

#endif
