/*
 * http_linger.c: the lingering close of early answers (http_linger.h says
 * why).
 *
 * THREAD SAFETY: `lock` guards the slot table and `count`; the epoll set is
 * the kernel's (epoll_ctl is thread-safe). Only the linger thread reads and
 * closes lingering sockets; adders only fill a free slot and register it.
 */
#include "http/http_linger.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "base/log.h"

#define LINGER_STOP UINT32_MAX /* the epoll tag of the stop eventfd */
#define LINGER_TICK_MS 1000

struct linger_slot {
	int fd; /* -1: free */
	uint64_t deadline_ms;
	uint64_t bytes; /* discarded so far */
};

struct http_linger {
	pthread_mutex_t lock;
	int epoll_fd;
	int stop_fd;
	pthread_t thread;
	uint64_t time_ms;
	uint64_t max_bytes;
	atomic_uint count;
	unsigned nslots;
	struct linger_slot slots[];
};

/* Under the lock. */
static void slot_close(struct http_linger *l, struct linger_slot *s)
{
	epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	atomic_fetch_sub_explicit(&l->count, 1, memory_order_relaxed);
}

/* Read what the client sent: 0 while it may go on lingering, -1 once it
 * is done (closed, failed, or over the byte bound). */
static int slot_drain(struct http_linger *l, struct linger_slot *s)
{
	static char sink[65536]; /* the linger thread's alone */

	for (;;) {
		ssize_t n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0) {
			s->bytes += (uint64_t)n;
			if (s->bytes > l->max_bytes)
				return -1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	}
}

/* Close the expired slots; the wait until the next deadline (-1: none). */
static int expire(struct http_linger *l)
{
	uint64_t now = clock_ms(), next = UINT64_MAX;

	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < l->nslots && atomic_load_explicit(&l->count, memory_order_relaxed) > 0; i++) {
		struct linger_slot *s = &l->slots[i];
		if (s->fd == -1)
			continue;
		if (s->deadline_ms <= now)
			slot_close(l, s);
		else if (s->deadline_ms < next)
			next = s->deadline_ms;
	}
	pthread_mutex_unlock(&l->lock);
	/* At most a second: a slot added meanwhile is looked at within it. */
	return next - now < LINGER_TICK_MS ? (int)(next - now) : LINGER_TICK_MS;
}

static void *linger_main(void *arg)
{
	struct http_linger *l = arg;
	struct epoll_event ev[64];

	for (;;) {
		int n = epoll_wait(l->epoll_fd, ev, 64, expire(l));
		if (n == -1 && errno != EINTR) {
			log_warn("linger: epoll_wait");
			struct timespec pause = { 0, 100 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == LINGER_STOP)
				return NULL;
			pthread_mutex_lock(&l->lock);
			struct linger_slot *s = &l->slots[ev[i].data.u32];
			if (s->fd != -1 && slot_drain(l, s) == -1)
				slot_close(l, s);
			pthread_mutex_unlock(&l->lock);
		}
	}
}

struct http_linger *http_linger_start(uint64_t time_ms, uint64_t max_bytes, unsigned max_conns, char *err,
    size_t errlen)
{
	struct http_linger *l = calloc(1, sizeof(*l) + (size_t)max_conns * sizeof(struct linger_slot));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LINGER_STOP };

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->time_ms = time_ms;
	l->max_bytes = max_bytes;
	l->nslots = max_conns;
	atomic_init(&l->count, 0);
	for (unsigned i = 0; i < max_conns; i++)
		l->slots[i].fd = -1;
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->epoll_fd == -1 || l->stop_fd == -1 || epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->stop_fd, &ev) == -1 ||
	    pthread_create(&l->thread, NULL, linger_main, l) != 0) {
		snprintf(err, errlen, "cannot start the lingering-close thread: %s", strerror(errno));
		if (l->epoll_fd != -1)
			close(l->epoll_fd);
		if (l->stop_fd != -1)
			close(l->stop_fd);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return NULL;
	}
	return l;
}

void http_linger_add(struct http_linger *l, int fd)
{
	if (l == NULL || l->time_ms == 0) {
		close(fd);
		return;
	}
	/* The answer is out: FIN after it, so the client sees its end. */
	shutdown(fd, SHUT_WR);
	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < l->nslots; i++) {
		struct linger_slot *s = &l->slots[i];
		if (s->fd != -1)
			continue;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = i };
		*s = (struct linger_slot){ fd, clock_ms() + l->time_ms, 0 };
		atomic_fetch_add_explicit(&l->count, 1, memory_order_relaxed);
		if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == -1)
			slot_close(l, s);
		pthread_mutex_unlock(&l->lock);
		return;
	}
	pthread_mutex_unlock(&l->lock);
	close(fd); /* full: what closing without lingering did */
}

unsigned http_linger_count(const struct http_linger *l)
{
	return l != NULL ? atomic_load_explicit(&l->count, memory_order_relaxed) : 0;
}

void http_linger_stop(struct http_linger *l)
{
	if (l == NULL)
		return;
	eventfd_write(l->stop_fd, 1);
	pthread_join(l->thread, NULL);
	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < l->nslots; i++)
		if (l->slots[i].fd != -1)
			slot_close(l, &l->slots[i]);
	pthread_mutex_unlock(&l->lock);
	close(l->stop_fd);
	close(l->epoll_fd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
