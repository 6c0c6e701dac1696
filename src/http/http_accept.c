/*
 * http_accept.c: the listening socket and the thread that accepts on it
 * (http_accept.h says why keygate, not libmicrohttpd, accepts).
 *
 * THREAD SAFETY: one thread per acceptor; MHD_add_connection may be called
 * from any thread (it queues the socket for a worker and wakes it). The
 * stop request is an eventfd the thread polls beside the socket.
 */
#include "http/http_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "base/log.h"

struct http_acceptor {
	struct MHD_Daemon *daemon;
	int listen_fd;
	int stop_fd;
	pthread_t thread;
	/* The current incident (accept or poll failing): when it began, the
	 * retries so far (0: none), the pause before the next one, and when
	 * accepting worked again (0: not yet). */
	uint64_t incident_ms;
	unsigned long retries;
	uint64_t pause_ms;
	uint64_t recovered_ms;
};

/* Acceptors in an incident (one per process today), for /healthz. */
static atomic_int troubled;

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000
/* An incident ends once accepting has worked this long without a new
 * failure: a limit that frees one descriptor and takes it back is one
 * incident, logged once, not one a retry. */
#define INCIDENT_SETTLE_MS 1000

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

/* accept or poll failed (out of descriptors or memory, or worse): the
 * kernel keeps clients queued; wait, doubling the pause up to a second,
 * instead of spinning or giving up. Logged once an incident. */
static void back_off(struct http_acceptor *a, const char *what, int error)
{
	if (a->retries == 0) {
		a->incident_ms = clock_ms();
		a->pause_ms = BACKOFF_FIRST_MS;
		atomic_fetch_add_explicit(&troubled, 1, memory_order_relaxed);
		log_warnx("accept: %s%s; new connections wait in the backlog, retrying (every %d ms at first, "
			  "then up to every %d ms)",
		    what, strerror(error), BACKOFF_FIRST_MS, BACKOFF_MAX_MS);
	} else if (a->recovered_ms == 0 && a->pause_ms < BACKOFF_MAX_MS) {
		a->pause_ms = a->pause_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->pause_ms * 2;
	}
	a->retries++;
	a->recovered_ms = 0;
	struct timespec pause = { (time_t)(a->pause_ms / 1000), (long)(a->pause_ms % 1000) * 1000000 };
	nanosleep(&pause, NULL);
}

/* Accepting worked: the incident may be over (incident_settle says). */
static void accepted(struct http_acceptor *a)
{
	if (a->retries > 0 && a->recovered_ms == 0)
		a->recovered_ms = clock_ms();
}

/* How long poll may wait: until the incident settles, or for ever. */
static int incident_settle(struct http_acceptor *a)
{
	if (a->retries == 0 || a->recovered_ms == 0)
		return -1;
	uint64_t now = clock_ms();
	if (now - a->recovered_ms < INCIDENT_SETTLE_MS)
		return (int)(INCIDENT_SETTLE_MS - (now - a->recovered_ms));
	log_info("accept: accepting again after about %llu ms", (unsigned long long)(a->recovered_ms - a->incident_ms));
	a->retries = 0;
	a->recovered_ms = 0;
	atomic_fetch_sub_explicit(&troubled, 1, memory_order_relaxed);
	return -1;
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
				back_off(a, "", errno);
			else
				accepted(a); /* EAGAIN: all taken */
			return;
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
		int n = poll(p, 2, incident_settle(a));
		if (n == -1) {
			if (errno != EINTR)
				back_off(a, "poll: ", errno);
			continue;
		}
		if (p[1].revents != 0)
			break;
		if (p[0].revents != 0)
			accept_pending(a);
	}
	if (a->retries > 0) /* stopped during an incident */
		atomic_fetch_sub_explicit(&troubled, 1, memory_order_relaxed);
	a->retries = 0;
	return NULL;
}

int http_accept_healthy(void)
{
	return atomic_load_explicit(&troubled, memory_order_relaxed) == 0 ? 0 : -1;
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
