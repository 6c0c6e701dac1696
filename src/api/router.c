/* router.c: the route table, and path matching with 404 vs 405. */
#include "api/router.h"

#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "base/metrics.h"
#include "http/http_method.h"

/* HEAD is answered wherever GET is, as Django does. */
const struct route router_routes[] = {
	{ .method = HTTP_GET, .path = "/healthz", .handler = handler_health },
	{ .method = HTTP_POST,
	    .path = "/users/signup/",
	    .handler = handler_signup,
	    .flags = ROUTE_F_BODY,
	    .scope = SCOPE_SIGNUP },
	{ .method = HTTP_POST,
	    .path = "/users/login/",
	    .handler = handler_login,
	    .flags = ROUTE_F_BODY,
	    .scope = SCOPE_LOGIN },
	{ .method = HTTP_POST, .path = "/users/login/refresh", .handler = handler_refresh, .flags = ROUTE_F_BODY },
	{ .method = HTTP_POST, .path = "/users/login/refresh/", .handler = handler_refresh, .flags = ROUTE_F_BODY },
	{ .method = HTTP_GET, .path = "/users/api_key/get/", .handler = handler_apikey_get, .flags = ROUTE_F_JWT },
	{ .method = HTTP_PUT,
	    .path = "/users/api_key/get/",
	    .handler = handler_apikey_regenerate,
	    .flags = ROUTE_F_JWT,
	    .scope = SCOPE_REGENERATE },
	{ .method = HTTP_GET,
	    .path = "/books/",
	    .handler = handler_books_list,
	    .flags = ROUTE_F_APIKEY,
	    .scope = SCOPE_API_KEY },
	{ .method = HTTP_POST,
	    .path = "/books/",
	    .handler = handler_books_create,
	    .flags = ROUTE_F_APIKEY | ROUTE_F_BODY,
	    .scope = SCOPE_API_KEY },
	{ .method = HTTP_GET,
	    .path = "/books/{id}/",
	    .handler = handler_book_get,
	    .flags = ROUTE_F_APIKEY,
	    .scope = SCOPE_API_KEY },
	{ .method = HTTP_PUT,
	    .path = "/books/{id}/",
	    .handler = handler_book_update,
	    .flags = ROUTE_F_APIKEY | ROUTE_F_BODY,
	    .scope = SCOPE_API_KEY },
	{ .method = HTTP_PATCH,
	    .path = "/books/{id}/",
	    .handler = handler_book_update,
	    .flags = ROUTE_F_APIKEY | ROUTE_F_BODY,
	    .scope = SCOPE_API_KEY },
	{ .method = HTTP_DELETE,
	    .path = "/books/{id}/",
	    .handler = handler_book_delete,
	    .flags = ROUTE_F_APIKEY,
	    .scope = SCOPE_API_KEY },
	/* Forward auth: the books' stages (key, user, api_key throttle) in
	 * front of another API; the method is the proxy's, not the request's. */
	{ .method = HTTP_ANY,
	    .path = "/verify",
	    .handler = handler_verify,
	    .flags = ROUTE_F_APIKEY | ROUTE_F_FORWARD,
	    .scope = SCOPE_API_KEY },
};
const unsigned router_nroutes = sizeof(router_routes) / sizeof(router_routes[0]);
/* Each route is counted by its index (base/metrics.h). */
_Static_assert(sizeof(router_routes) / sizeof(router_routes[0]) <= METRICS_ROUTES_MAX, "a route without a counter");

unsigned router_index(const struct route *rt)
{
	return (unsigned)(rt - router_routes);
}

/* Match one pattern; "{id}" takes 1 to 18 digits (no overflow, no sign). */
static int path_matches(const char *pattern, const char *path, int64_t *id)
{
	while (*pattern != '\0') {
		if (strncmp(pattern, "{id}", 4) == 0) {
			int64_t v = 0;
			int n = 0;
			for (; *path >= '0' && *path <= '9'; path++, n++) {
				if (n == 18)
					return 0;
				v = v * 10 + (*path - '0');
			}
			if (n == 0 || v == 0)
				return 0;
			*id = v;
			pattern += 4;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

enum router_rc router_match(
    const char *path, enum http_method method, const struct route **out, int64_t *id, unsigned *allow)
{
	enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
	const struct route *first = NULL;

	*allow = 0;
	for (unsigned i = 0; i < router_nroutes; i++) {
		const struct route *rt = &router_routes[i];
		int64_t v = 0;
		if (!path_matches(rt->path, path, &v))
			continue;
		if (first == NULL)
			first = rt;
		*allow |= rt->method;
		if (rt->method == HTTP_GET)
			*allow |= HTTP_HEAD;
		if (rt->method & want) {
			*out = rt;
			*id = v;
			return ROUTER_FOUND;
		}
	}
	if (first == NULL)
		return ROUTER_NO_PATH;
	*out = first;
	return ROUTER_NO_METHOD;
}

void router_allow_string(unsigned allow, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (allow == HTTP_ANY) {
		snprintf(out, outlen, "*");
		return;
	}
	for (unsigned i = 0; i < http_nmethods; i++) {
		if (!(allow & http_methods[i].bit))
			continue;
		int m = snprintf(out + n, outlen - n, "%s%s", n > 0 ? ", " : "", http_methods[i].name);
		if (m < 0 || (size_t)m >= outlen - n)
			return;
		n += (size_t)m;
	}
}
