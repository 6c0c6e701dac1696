/* addr.c: numeric "host:port" listen addresses. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int addr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	uint64_t port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (parse_uint(colon + 1, 0, 65535, &port, err, errlen) == -1) {
		snprintf(err, errlen, "the port must be a number from 0 to 65535");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*outlen = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*outlen = sizeof(*v6);
		return 0;
	}
bad:
	snprintf(err, errlen, "not a numeric address and port (e.g. 127.0.0.1:8000 or [::1]:8000)");
	return -1;
}
