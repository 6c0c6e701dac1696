/* Fuzz: request bodies through the JSON parser and every route's validator. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	json_error_t err;
	size_t ulen, plen, elen, tlen;

	if (!ready)
		ready = validate_init() == 0;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (body == NULL || !json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	json_t *errors = json_object();
	/* signup */
	const char *u = validate_string(body, "username", VALIDATE_REQUIRED, errors, &ulen);
	const char *p = validate_string(body, "password", VALIDATE_REQUIRED, errors, &plen);
	const char *e = validate_string(body, "email", VALIDATE_OPTIONAL, errors, &elen);
	if (u != NULL)
		validate_username(u, ulen, errors);
	if (p != NULL)
		validate_password(p, plen, u, errors);
	if (e != NULL && elen > 0)
		validate_email(e, elen, errors);
	/* login, refresh, books */
	validate_string(body, "refresh", VALIDATE_REQUIRED, errors, &tlen);
	const char *t = validate_string(body, "title", VALIDATE_REQUIRED, errors, &tlen);
	if (t != NULL)
		validate_title(t, tlen, errors);
	char *out = json_dumps(errors, JSON_COMPACT);
	free(out);
	json_decref(errors);
	json_decref(body);
	return 0;
}
