/* Fuzz: path matching (404 / 405 / {id}). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE,
		HTTP_OTHER };
	char *path = malloc(size + 1);
	const struct route *rt;
	int64_t id;
	unsigned allow;
	char s[64];

	if (path == NULL || size == 0) {
		free(path);
		return 0;
	}
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	enum router_rc rc = router_match(path, methods[data[0] % 7], &rt, &id, &allow);
	if (rc == ROUTER_FOUND && strstr(rt->path, "{id}") != NULL && id <= 0)
		abort(); /* an id the store would never be asked for */
	router_allow_string(allow, s, sizeof(s));
	free(path);
	return 0;
}
