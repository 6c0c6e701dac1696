#ifndef KEYGATE_HTTP_METHOD_H
#define KEYGATE_HTTP_METHOD_H

/* A request's method as a bit, so that a route's methods are a mask. */
enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7,
	HTTP_ANY = 0xff, /* every method: a route that takes any (/verify) */
};

/*
 * The methods keygate tells apart, each named once with its bit of enum
 * http_method, in the order an Allow header lists them. Read-only: any
 * thread.
 */
struct http_method_name {
	const char *name;
	enum http_method bit;
};
extern const struct http_method_name http_methods[];
extern const unsigned http_nmethods;

/* The bit of a method name (case-sensitive, as RFC 9110 says), HTTP_OTHER
 * for any other. */
enum http_method http_method_from(const char *name);

#endif
