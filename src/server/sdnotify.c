/* sdnotify.c: the sd_notify datagram protocol and socket activation. */
#include "server/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "lib/parse.h"

#define LISTEN_FDS_START 3

int sdnotify(const char *state)
{
	static int warned;
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		if (!warned++)
			log_warnx("NOTIFY_SOCKET is not a usable socket path; not notifying systemd");
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@') /* abstract namespace */
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
	if (n < 0 && !warned++)
		log_warn("sd_notify %s", state);
	return n < 0 ? -1 : 0;
}

/* $NAME as a number when it names this process ($..._PID absent or ours). */
static int for_us(const char *pid_var)
{
	const char *pid = getenv(pid_var);
	uint64_t v;
	char err[64];

	if (pid == NULL)
		return 1;
	return parse_uint(pid, 1, UINT32_MAX, &v, err, sizeof(err)) == 0 && (pid_t)v == getpid();
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	uint64_t v;
	char err[64];

	if (usec == NULL || !for_us("WATCHDOG_PID") || parse_uint(usec, 1, UINT64_MAX, &v, err, sizeof(err)) == -1)
		return 0;
	return v;
}

int sdnotify_listen_fd(void)
{
	const char *fds = getenv("LISTEN_FDS");
	uint64_t n;
	char err[64];
	int fd = -1;

	if (fds != NULL && getenv("LISTEN_PID") != NULL && for_us("LISTEN_PID") &&
	    parse_uint(fds, 1, 64, &n, err, sizeof(err)) == 0) {
		fd = LISTEN_FDS_START;
		if (n > 1)
			log_warnx("socket activation passed %llu sockets; using the first", (unsigned long long)n);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	/* Not for our children. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}
