/*
 * store_pg_listen.c: PostgreSQL's notifications of committed changes,
 * turned into epoch hints (store_pg_listen.h).
 *
 * THREAD SAFETY: the listener's connection and state are its thread's;
 * it shares only the epoch's atomic hints and `stop`, and the wake pipe
 * by which store_pg_listen_stop ends its wait.
 */
#include "store/store_pg_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "store/store_epoch.h"

#define RECONNECT_MS 1000
#define CONNECT_MS 10000 /* a connection attempt that takes longer is given up */

struct pg_listener {
	char url[CONFIG_SECRET_MAX];
	struct store_epoch *epoch;
	pthread_t thread;
	int wake[2]; /* written once, to stop */
	atomic_int stop;
};

static void notified(struct pg_listener *l, const char *payload)
{
	if (strcmp(payload, "k") == 0)
		store_epoch_keys_changed(l->epoch);
	else
		store_epoch_books_changed(l->epoch, strtoll(payload, NULL, 10));
}

/* Notifications may have been missed while there was no connection:
 * everything counts as changed. */
static void everything_changed(struct pg_listener *l)
{
	for (unsigned i = 0; i < STORE_EPOCH_HINTS; i++)
		atomic_fetch_add_explicit(&l->epoch->hint[i], 1, memory_order_release);
}

/* 1 when the wake pipe was written (stop), 0 on timeout or input. */
static int wait_for(struct pg_listener *l, int fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = l->wake[0], .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	if (poll(p, fd >= 0 ? 2 : 1, timeout_ms) > 0 && (p[0].revents & POLLIN))
		return 1;
	return atomic_load_explicit(&l->stop, memory_order_relaxed);
}

/* Listen on one connection until it breaks or we are stopped. */
static void listen_on(struct pg_listener *l, PGconn *c)
{
	PGresult *r = PQexec(c, "LISTEN keygate_epoch");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return;
	everything_changed(l);
	log_info("database: listening for changes made by other processes");
	while (!wait_for(l, PQsocket(c), -1)) {
		if (PQconsumeInput(c) == 0)
			return;
		PGnotify *n;
		while ((n = PQnotifies(c)) != NULL) {
			notified(l, n->extra);
			PQfreemem(n);
		}
	}
}

/* Connect without ever blocking store_pg_listen_stop: libpq's polling
 * protocol (PQconnectStartParams, PQconnectPoll) with the wake pipe in the
 * same poll. TCP keepalives, so that a connection that dies silently is
 * noticed and made again. NULL only when out of memory; else a connection
 * whose status says whether it is made. */
static PGconn *connect_or_stop(struct pg_listener *l)
{
	static const char *const keys[] = { "dbname", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", NULL };
	const char *values[] = { l->url, "1", "10", "5", "3", NULL };
	PGconn *c = PQconnectStartParams(keys, values, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (c != NULL && PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p[2] = { { .fd = l->wake[0], .events = POLLIN },
			{ .fd = PQsocket(c), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT } };
		int n = poll(p, 2, CONNECT_MS);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || (p[0].revents & POLLIN))
			break; /* timed out, or stopped: the status is not OK */
		st = PQconnectPoll(c);
	}
	return c;
}

static void *listen_main(void *arg)
{
	struct pg_listener *l = arg;
	int warned = 0;

	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		PGconn *c = connect_or_stop(l);
		if (c == NULL)
			goto retry;
		if (PQstatus(c) == CONNECTION_OK) {
			if (warned)
				log_warnx("database: notifications of changes arrive again");
			warned = 0;
			listen_on(l, c);
		}
		if (!warned && !atomic_load_explicit(&l->stop, memory_order_relaxed)) {
			/* Only libpq's message: the URL may hold a password. */
			log_warnx("database: no notifications of changes (%s); other hosts' changes reach this one "
				  "within %u ms",
			    PQerrorMessage(c)[0] != '\0' ? PQerrorMessage(c)
							 : "no answer in time, or the connection broke",
			    STORE_EPOCH_CONFIRM_MS);
			warned = 1;
		}
		PQfinish(c);
	retry:
		if (wait_for(l, -1, RECONNECT_MS))
			break;
	}
	return NULL;
}

struct pg_listener *store_pg_listen_start(const char *url, struct store_epoch *e)
{
	struct pg_listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	strncpy(l->url, url, sizeof(l->url) - 1);
	l->epoch = e;
	atomic_init(&l->stop, 0);
	if (pipe2(l->wake, O_CLOEXEC) == -1) {
		free(l);
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		close(l->wake[0]);
		close(l->wake[1]);
		free(l);
		return NULL;
	}
	return l;
}

void store_pg_listen_stop(struct pg_listener *l)
{
	if (l == NULL)
		return;
	atomic_store_explicit(&l->stop, 1, memory_order_relaxed);
	ssize_t w = write(l->wake[1], "x", 1);
	(void)w;
	pthread_join(l->thread, NULL);
	close(l->wake[0]);
	close(l->wake[1]);
	sodium_memzero(l->url, sizeof(l->url)); /* it may hold a password */
	free(l);
}
