#ifndef KEYGATE_HTTP_METHOD_H
#define KEYGATE_HTTP_METHOD_H

#include "http/http_request.h"

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

#endif
