/* healthcheck.c: a tiny HTTP/1.0 client for `keygate healthcheck`. */
#include "server/healthcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "base/config.h"

/* "http://127.0.0.1:8000/healthz" -> "127.0.0.1:8000" and "/healthz". */
static int split_url(const char *url, char *hostport, size_t hlen, const char **path)
{
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	url += 7;
	size_t n = strcspn(url, "/");
	if (n == 0 || n >= hlen)
		return -1;
	memcpy(hostport, url, n);
	hostport[n] = '\0';
	*path = url[n] != '\0' ? url + n : "/";
	return 0;
}

/* A wildcard listen address is reached on loopback. */
static void to_loopback(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
			v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
			v6->sin6_addr = in6addr_loopback;
	}
}

int healthcheck_run(const struct config *cfg, const char *url)
{
	char hostport[128], req[256], resp[64], err[128];
	const char *path = "/healthz";
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { 3, 0 };

	if (url != NULL ? split_url(url, hostport, sizeof(hostport), &path) == -1
			: snprintf(hostport, sizeof(hostport), "%s", cfg->listen) < 0) {
		fprintf(stderr, "keygate: healthcheck: expected http://HOST:PORT/PATH\n");
		return 1;
	}
	if (addr_parse_listen(hostport, &ss, &sl, err, sizeof(err)) == -1) {
		fprintf(stderr, "keygate: healthcheck: %s: %s\n", hostport, err);
		return 1;
	}
	to_loopback(&ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, hostport);
	ssize_t got = -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0 && n > 0 && write(fd, req, (size_t)n) == n)
		got = read(fd, resp, sizeof(resp) - 1);
	close(fd);
	if (got < 12) {
		fprintf(stderr, "keygate: healthcheck: no answer from %s\n", hostport);
		return 1;
	}
	resp[got] = '\0';
	int ok = strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 8, " 200", 4) == 0;
	if (!ok)
		fprintf(stderr, "keygate: healthcheck: %.*s\n", (int)strcspn(resp, "\r\n"), resp);
	return ok ? 0 : 1;
}
