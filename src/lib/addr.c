/* addr.c: numeric "host:port" listen addresses. */
#include "lib/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"

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

int addr_parse_ip(const char *s, size_t len, unsigned char out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in_addr v4;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

int addr_from_sockaddr(const struct sockaddr *sa, unsigned char out[16])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &v4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int addr_parse_nets(const char *s, struct addr_net *out, int max, char *err, size_t errlen)
{
	int n = 0;

	while (*s != '\0') {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		size_t len = strcspn(s, ", ");
		const char *slash = memchr(s, '/', len);
		size_t alen = slash != NULL ? (size_t)(slash - s) : len;
		if (n == max) {
			snprintf(err, errlen, "more than %d networks", max);
			return -1;
		}
		if (addr_parse_ip(s, alen, out[n].addr) == -1) {
			snprintf(err, errlen, "'%.*s' is not a numeric IP address", (int)(alen > 64 ? 64 : alen), s);
			return -1;
		}
		int v4 = memcmp(out[n].addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 && memchr(s, ':', alen) == NULL;
		unsigned max_prefix = v4 ? 32 : 128, prefix = max_prefix;
		if (slash != NULL) {
			char pbuf[8];
			uint64_t p;
			size_t plen = len - alen - 1;
			if (plen == 0 || plen >= sizeof(pbuf)) {
				snprintf(err, errlen, "bad prefix length");
				return -1;
			}
			memcpy(pbuf, slash + 1, plen);
			pbuf[plen] = '\0';
			if (parse_uint(pbuf, 0, max_prefix, &p, err, errlen) == -1) {
				snprintf(err, errlen, "the prefix length must be 0 to %u", max_prefix);
				return -1;
			}
			prefix = (unsigned)p;
		}
		out[n].prefix = v4 ? prefix + 96 : prefix;
		n++;
		s += len;
	}
	return n;
}

int addr_in_nets(const unsigned char addr[16], const struct addr_net *nets, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned bits = nets[i].prefix, full = bits / 8, rest = bits % 8;
		if (memcmp(addr, nets[i].addr, full) != 0)
			continue;
		if (rest != 0) {
			unsigned char mask = (unsigned char)(0xff << (8 - rest));
			if ((addr[full] & mask) != (nets[i].addr[full] & mask))
				continue;
		}
		return 1;
	}
	return 0;
}
