/*
 * http_accept.c: the listening socket and the thread that accepts on it
 * (http_accept.h says why keygate, not libmicrohttpd, accepts).
 *
 * THREAD SAFETY: one thread per acceptor; MHD_add_connection may be called
 * from any thread (it queues the socket for a worker and wakes it). The
 * stop request is an eventfd the thread polls beside the socket.
 */
#include "http_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct http_acceptor {
	struct MHD_Daemon *daemon;
	int listen_fd;
	int stop_fd;
	pthread_t thread;
	unsigned long retries; /* of the current incident (0: none) */
};

int http_listen(const struct sockaddr_storage *ss, socklen_t sl, char *err, size_t errlen)
{
	int on = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss->ss_family == AF_INET6) /* [::] means IPv6 only, as MHD had it */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)ss, sl) == -1 || listen(fd, SOMAXCONN) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Out of descriptors or memory: the kernel keeps the client queued; wait a
 * little instead of spinning on a socket that stays readable. Logged once
 * an incident, not every 50 ms. */
static void back_off(struct http_acceptor *a, int error)
{
	static const struct timespec pause = { 0, 50 * 1000 * 1000 };
	if (a->retries++ == 0)
		log_warnx("accept: %s; new connections wait in the backlog, retrying every 50 ms", strerror(error));
	nanosleep(&pause, NULL);
}

static void accepted(struct http_acceptor *a)
{
	if (a->retries > 0) {
		log_info("accept: accepting again after about %lu ms", a->retries * 50);
		a->retries = 0;
	}
}

static void accept_pending(struct http_acceptor *a)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				back_off(a, errno);
			return; /* EAGAIN: all taken */
		}
		accepted(a);
		/* MHD closes the socket itself when it refuses it (limits). */
		MHD_add_connection(a->daemon, fd, (const struct sockaddr *)&ss, sl);
	}
}

static void *acceptor_main(void *arg)
{
	struct http_acceptor *a = arg;
	struct pollfd p[2] = { { a->listen_fd, POLLIN, 0 }, { a->stop_fd, POLLIN, 0 } };

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warnx("accept: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents != 0)
			return NULL;
		if (p[0].revents != 0)
			accept_pending(a);
	}
}

struct http_acceptor *http_acceptor_start(struct MHD_Daemon *daemon, int listen_fd, char *err, size_t errlen)
{
	struct http_acceptor *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->daemon = daemon;
	a->listen_fd = listen_fd;
	/* Accepting until EAGAIN needs it (a socket from systemd is blocking,
	 * and a blocked accept would never see the stop). */
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl == -1 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "listening socket: %s", strerror(errno));
		free(a);
		return NULL;
	}
	a->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (a->stop_fd == -1 || pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
		snprintf(err, errlen, "cannot start the accepting thread: %s", strerror(errno));
		if (a->stop_fd != -1)
			close(a->stop_fd);
		free(a);
		return NULL;
	}
	return a;
}

void http_acceptor_stop(struct http_acceptor *a)
{
	uint64_t one = 1;

	if (a == NULL)
		return;
	if (write(a->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warnx("accept: cannot signal the thread to stop: %s", strerror(errno));
	pthread_join(a->thread, NULL);
	/* Clients whose handshake the kernel completed before now think they
	 * are connected: serve them (their replies say Connection: close)
	 * rather than let the close reset them. */
	accept_pending(a);
	close(a->stop_fd);
	free(a);
}
