/* http_method.c: the one list of method names (http_method.h). */
#include "http/http_method.h"

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
