/* http_method.c: the one list of method names (http_method.h). */
#include "http/http_method.h"

#include <string.h>

const struct http_method_name http_methods[] = {
	{ "GET", HTTP_GET },
	{ "HEAD", HTTP_HEAD },
	{ "POST", HTTP_POST },
	{ "PUT", HTTP_PUT },
	{ "PATCH", HTTP_PATCH },
	{ "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS },
};
const unsigned http_nmethods = sizeof(http_methods) / sizeof(http_methods[0]);

enum http_method http_method_from(const char *name)
{
	for (unsigned i = 0; i < http_nmethods; i++)
		if (strcmp(name, http_methods[i].name) == 0)
			return http_methods[i].bit;
	return HTTP_OTHER;
}
