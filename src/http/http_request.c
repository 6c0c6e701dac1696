/* http_request.c: per-request state, the capped body, header access. */
#include "http/http_request.h"

#include "base/app.h"
#include "lib/clock.h"
#include "lib/mix64.h"
#include "lib/textbuf.h"
#include "store/store.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

uint64_t http_now_ns(void)
{
	return clock_ns();
}

/*
 * A fresh request id: a UUIDv4 from a per-thread splitmix64 stream seeded
 * once from the OS. Ids name log lines; they are not secrets, so they need
 * uniqueness, not unpredictability, and uuid_generate_random() would cost
 * a getrandom() call and a srandom() per request (7% of a GET's time).
 */
static void request_id_new(char out[37])
{
	static _Thread_local uint64_t state;
	static _Thread_local int seeded;
	uint8_t u[16];

	if (!seeded) {
		randombytes_buf(&state, sizeof(state));
		seeded = 1;
	}
	for (int half = 0; half < 2; half++) {
		uint64_t z = mix64(state += 0x9e3779b97f4a7c15ull);
		memcpy(u + 8 * half, &z, 8);
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	uuid_unparse_lower(u, out);
}

/* A client's own X-Request-Id is kept when it is short and plain, so it
 * can go into a log line as it is. */
static int request_id_sane(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n == REQUEST_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return n > 0;
}

void http_request_begin(
    struct request *req, struct MHD_Connection *conn, const struct app *app, const char *method, const char *path)
{
	memset(req, 0, offsetof(struct request, header_bytes));
	req->conn = conn;
	req->app = app;
	req->cfg = app_config(app);
	req->method_name = method;
	req->method = http_method_from(method);
	req->path = path;
	req->body_cap = req->cfg->body_max;
	req->started_ns = http_now_ns();
	offload_slot_begin(&req->offload);

	const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (rid != NULL && request_id_sane(rid)) {
		snprintf(req->id, sizeof(req->id), "%s", rid);
	} else {
		request_id_new(req->id);
	}
}

void http_request_end(struct request *req)
{
	json_decref(req->json); /* jansson wipes what it frees (secret.h) */
	req->json = NULL;
	if (req->body != NULL) {
		/* Bodies carry passwords: wipe before release. */
		sodium_memzero(req->body, req->body_len);
		free(req->body);
		req->body = NULL;
	}
	free(req->handler_state);
	req->handler_state = NULL;
	offload_slot_end(&req->offload);
}

void http_request_append(struct request *req, const char *data, size_t len)
{
	if (req->body_too_large || len > req->body_cap - req->body_len) {
		req->body_too_large = 1;
		return;
	}
	if (req->body == NULL) {
		/* One allocation of the cap's size at most, grown by doubling. */
		size_t cap = len < 1024 ? 1024 : len;
		req->body = malloc(cap);
		if (req->body == NULL) {
			req->body_too_large = 1;
			return;
		}
		req->body_alloc = cap;
	} else if (req->body_len + len > req->body_alloc) {
		size_t cap = req->body_alloc * 2;
		while (cap < req->body_len + len)
			cap *= 2;
		char *nb = malloc(cap);
		if (nb == NULL) {
			req->body_too_large = 1;
			return;
		}
		memcpy(nb, req->body, req->body_len);
		sodium_memzero(req->body, req->body_len);
		free(req->body);
		req->body = nb;
		req->body_alloc = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
}

const char *http_request_header(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Bytes free for one more header value (with its NUL); 0 when full. */
static size_t header_room(const struct request *req)
{
	return req->nheaders == REQUEST_HEADERS_MAX ? 0 : REQUEST_HEADER_BYTES - req->header_used;
}

/* The value of len bytes just written at header_bytes + header_used. */
static void header_commit(struct request *req, const char *name, size_t len)
{
	req->header_name[req->nheaders] = name;
	req->header_value[req->nheaders++] = req->header_used;
	req->header_used = (uint16_t)(req->header_used + len + 1);
}

void http_request_add_header(struct request *req, const char *name, const char *fmt, ...)
{
	va_list ap;
	size_t room = header_room(req);

	if (room < 2)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(req->header_bytes + req->header_used, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room)
		header_commit(req, name, (size_t)n);
}

void http_request_add_header_text(struct request *req, const char *name, const char *value, size_t len)
{
	if (len >= header_room(req))
		return;
	memcpy(req->header_bytes + req->header_used, value, len);
	req->header_bytes[req->header_used + len] = '\0';
	header_commit(req, name, len);
}

void http_request_add_header_u64(struct request *req, const char *name, uint64_t v)
{
	char text[24];
	struct textbuf t;

	textbuf_init(&t, text, sizeof(text));
	textbuf_u64(&t, v, 1);
	http_request_add_header_text(req, name, text, t.len);
}

void http_request_read_pass(struct request *req)
{
	if (req->method == HTTP_GET && !req->read_pass)
		req->read_pass = store_read_begin(req->app->store) == STORE_OK;
}

void http_request_read_pass_end(struct request *req)
{
	if (req->read_pass) {
		store_read_end(req->app->store);
		req->read_pass = 0;
	}
}
