#ifndef KEYGATE_FIFO_LOCK_H
#define KEYGATE_FIFO_LOCK_H

#include <pthread.h>

/*
 * A lock granted in the order it was asked for, each wait bounded. On
 * release it is handed to the oldest waiter, so a thread that releases and
 * asks again at once cannot take it back first (a pthread mutex lets it,
 * and SQLite's busy handler, which sleeps up to 100 ms between tries,
 * starved the other HTTP thread's writes for seconds).
 *
 * THREAD SAFETY: any thread; waiters live on their own stacks, linked
 * under the lock's mutex.
 */
struct fifo_waiter;

struct fifo_lock {
	pthread_mutex_t mutex;
	int held;
	struct fifo_waiter *head, *tail; /* waiting, oldest first */
};

void fifo_lock_init(struct fifo_lock *l);
void fifo_lock_destroy(struct fifo_lock *l);
/* 0 once held; -1 if timeout_ms passed first (the queue is left intact). */
int fifo_lock_acquire(struct fifo_lock *l, int timeout_ms);
void fifo_lock_release(struct fifo_lock *l);
/* How many threads wait for it now. */
int fifo_lock_waiters(struct fifo_lock *l);

#endif
