#ifndef KEYGATE_ROUTER_H
#define KEYGATE_ROUTER_H

#include <stdint.h>

#include "http/http_request.h"
#include "http/request_rc.h"
#include "throttle/throttle.h"

/*
 * The one route table. A route says what it needs (flags) and which
 * throttle scope applies; the pipeline reads them, handlers never check.
 */
#define ROUTE_F_JWT (1u << 0) /* Authorization: Bearer <access token> */
#define ROUTE_F_APIKEY (1u << 1) /* an API key; sets req->user_id */
#define ROUTE_F_BODY (1u << 2) /* a JSON object body, parsed into req->json */
/* A forward-auth check: the proxy may ask for refusal bodies in a header
 * (X-Keygate-Want-Body: header), as nginx's auth_request drops bodies. */
#define ROUTE_F_FORWARD (1u << 3)

typedef enum handler_rc (*handler_fn)(struct request *req);

struct route {
	enum http_method method; /* one method, or HTTP_ANY */
	const char *path; /* "{id}" matches a positive decimal integer */
	handler_fn handler;
	unsigned flags;
	enum throttle_scope scope;
};

enum router_rc { ROUTER_FOUND, ROUTER_NO_PATH, ROUTER_NO_METHOD };

/*
 * Match path and method. FOUND: *out is the route and *id the {id}, if any.
 * NO_METHOD: *out is a route of that path (for its flags), *allow the
 * methods the path takes. Thread-safe (the table is constant).
 */
enum router_rc router_match(
    const char *path, enum http_method method, const struct route **out, int64_t *id, unsigned *allow);

/* "GET, HEAD, PUT" for an allow mask; "*" for HTTP_ANY. */
void router_allow_string(unsigned allow, char *out, size_t outlen);

/* A route's place in the table (0 .. router_nroutes - 1), for the
 * per-route counters; rt is one router_match gave. */
unsigned router_index(const struct route *rt);

/* The table, for tests and the OpenAPI check. */
extern const struct route router_routes[];
extern const unsigned router_nroutes;

#endif
