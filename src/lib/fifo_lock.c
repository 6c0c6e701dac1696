/* fifo_lock.c: a lock handed over in arrival order (fifo_lock.h). */
#include "lib/fifo_lock.h"

#include <errno.h>
#include <stddef.h>
#include <time.h>

struct fifo_waiter {
	pthread_cond_t cond;
	int granted;
	struct fifo_waiter *prev, *next;
};

void fifo_lock_init(struct fifo_lock *l)
{
	pthread_mutex_init(&l->mutex, NULL);
	l->held = 0;
	l->head = l->tail = NULL;
}

void fifo_lock_destroy(struct fifo_lock *l)
{
	pthread_mutex_destroy(&l->mutex);
}

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void unlink_waiter(struct fifo_lock *l, struct fifo_waiter *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
}

int fifo_lock_acquire(struct fifo_lock *l, int timeout_ms)
{
	struct fifo_waiter w = { .granted = 0, .prev = NULL, .next = NULL };
	pthread_condattr_t attr;
	struct timespec until;
	int rc = 0;

	pthread_mutex_lock(&l->mutex);
	if (!l->held) { /* free means nobody waits: release hands it over */
		l->held = 1;
		pthread_mutex_unlock(&l->mutex);
		return 0;
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);
	w.prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = &w;
	else
		l->head = &w;
	l->tail = &w;
	deadline(&until, timeout_ms);
	while (!w.granted && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w.cond, &l->mutex, &until);
	if (!w.granted) /* timed out before its turn came */
		unlink_waiter(l, &w);
	pthread_mutex_unlock(&l->mutex);
	pthread_cond_destroy(&w.cond);
	return w.granted ? 0 : -1;
}

void fifo_lock_release(struct fifo_lock *l)
{
	pthread_mutex_lock(&l->mutex);
	struct fifo_waiter *w = l->head;
	if (w != NULL) { /* still held: now by w */
		unlink_waiter(l, w);
		w->granted = 1;
		pthread_cond_signal(&w->cond);
	} else {
		l->held = 0;
	}
	pthread_mutex_unlock(&l->mutex);
}

int fifo_lock_waiters(struct fifo_lock *l)
{
	int n = 0;

	pthread_mutex_lock(&l->mutex);
	for (struct fifo_waiter *w = l->head; w != NULL; w = w->next)
		n++;
	pthread_mutex_unlock(&l->mutex);
	return n;
}
