/*
 * throttle_redis_pipe.c: Redis decisions off the caller's thread, sent
 * together.
 *
 * A decision made in place costs its HTTP thread a round trip asleep:
 * two context switches and a write and a read per request, on keygate's
 * side and on Redis's, which is what a host pays for most when keygate
 * runs on Redis. Here one thread per process takes every job queued while
 * the previous batch was out, puts up to REDIS_CALL_MAX of them in each
 * call of the script, writes the calls in one go (hiredis appends them to
 * one buffer: pipelining), and reads the replies in order. Redis reads
 * and answers the batch in one go too. A call decides its requests in
 * turn, atomically, at one instant of Redis's clock, so a decision is
 * exactly what it is in place; only the syscalls, the switches and what
 * a call costs Redis are shared. Under light load a batch is one job, and
 * the cost is the one round trip plus the hand-over.
 *
 * THREAD SAFETY: the queue is under pipe.lock. A job is the backend's
 * from its queuing until its done call, which is the last touch: the
 * caller may reuse it as soon as done begins to run. pipe.conn, pipe.one
 * and pipe.call are the thread's alone.
 */
#include "throttle/throttle_redis_int.h"

#include <string.h>

#define BATCH_MAX 256

void redis_pipe_init(struct redis_pipe *p)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->head = NULL;
	p->tail = &p->head;
}

static void job_fail(struct throttle_job *job)
{
	job->rc = -1;
	job->done(job);
}

/* Up to max jobs off the queue, oldest first; under the lock. */
static size_t queue_take(struct redis_pipe *p, struct throttle_job **out, size_t max)
{
	size_t n = 0;

	while (p->head != NULL && n < max) {
		out[n++] = p->head;
		p->head = p->head->next;
	}
	if (p->head == NULL)
		p->tail = &p->head;
	return n;
}

/* Up to REDIS_CALL_MAX of the jobs from *next into one call in c's buffer,
 * their order kept in sent; a job that has no decision answers -1 now.
 * The number of jobs in the call (0: none, or not written). */
static size_t call_write(struct throttle_redis *tr, struct throttle_job **jobs, size_t n, size_t *next,
    struct throttle_job **sent)
{
	struct redis_pipe *p = &tr->pipe;
	size_t k = 0;

	for (; *next < n && k < REDIS_CALL_MAX; (*next)++) {
		struct throttle_job *j = jobs[*next];
		if (redis_decide_one(tr, j->scope, &j->rate, j->key, j->spend, &p->one[k]) == -1) {
			job_fail(j);
			continue;
		}
		j->member = p->one[k].member;
		sent[k++] = j;
	}
	if (k == 0)
		return 0;
	redis_decide_call(&p->conn, p->one, k, &p->call);
	if (redisAppendCommandArgv(p->conn.ctx, p->call.argc, p->call.argv, p->call.argvlen) != REDIS_OK) {
		for (size_t i = 0; i < k; i++)
			job_fail(sent[i]);
		return 0;
	}
	return k;
}

/* The reply to a call of the k jobs, each job's decisions in turn in one
 * array: each job answers what Redis decided, or -1 (on_error) when no
 * good reply came. */
static void call_read(struct throttle_redis *tr, struct throttle_job **jobs, size_t k)
{
	struct conn *c = &tr->pipe.conn;
	void *reply = NULL;
	size_t size = 0;
	int bad = 0;

	for (size_t i = 0; i < k; i++)
		size += redis_reply_size(&jobs[i]->rate);
	if (c->ctx == NULL || redisGetReply(c->ctx, &reply) != REDIS_OK)
		reply = NULL;
	if (c->ctx != NULL && redis_reply_check(tr, c, reply, size) == 0) {
		for (size_t i = 0, at = 0; i < k; at += redis_reply_size(&jobs[i++]->rate)) {
			struct throttle_job *j = jobs[i];
			j->rc = redis_reply_decision(reply, at, &j->rate, j->spend, j->member, &j->d);
			bad |= j->rc == -1;
		}
		redis_reply_end(tr, c, reply, bad);
	} else {
		for (size_t i = 0; i < k; i++)
			jobs[i]->rc = -1;
	}
	for (size_t i = 0; i < k; i++)
		jobs[i]->done(jobs[i]);
}

/* The batch in calls of up to REDIS_CALL_MAX decisions, all written to
 * the connection's buffer, sent in one go, then every reply read in
 * order. */
static void batch_run(struct throttle_redis *tr, struct throttle_job **jobs, size_t n)
{
	struct throttle_job *sent[BATCH_MAX];
	size_t calls[BATCH_MAX], ncalls = 0, nsent = 0, next = 0;

	if (redis_conn_ready(tr, &tr->pipe.conn) == -1) {
		for (size_t i = 0; i < n; i++)
			job_fail(jobs[i]);
		return;
	}
	while (next < n) {
		size_t k = call_write(tr, jobs, n, &next, sent + nsent);
		if (k > 0) {
			calls[ncalls++] = k;
			nsent += k;
		}
	}
	for (size_t i = 0, at = 0; i < ncalls; at += calls[i++])
		call_read(tr, sent + at, calls[i]);
}

static void *pipe_main(void *arg)
{
	struct throttle_redis *tr = arg;
	struct redis_pipe *p = &tr->pipe;
	struct throttle_job *batch[BATCH_MAX];

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stopped)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->head == NULL)
			break; /* stopped, and nothing left */
		size_t n = queue_take(p, batch, BATCH_MAX);
		p->busy = 1;
		pthread_mutex_unlock(&p->lock);
		batch_run(tr, batch, n);
		pthread_mutex_lock(&p->lock);
		p->busy = 0;
		if (p->head == NULL)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void redis_pipe_decide(struct throttle *t, struct throttle_job *job)
{
	struct throttle_redis *tr = (struct throttle_redis *)t;
	struct redis_pipe *p = &tr->pipe;

	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (!p->started && !p->stopped)
		p->started = pthread_create(&p->thread, NULL, pipe_main, tr) == 0;
	if (p->stopped || !p->started) {
		pthread_mutex_unlock(&p->lock);
		job_fail(job);
		return;
	}
	*p->tail = job;
	p->tail = &job->next;
	/* The thread waits only on an empty queue with no batch out. */
	if (!p->busy)
		pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void redis_pipe_stop(struct throttle *t)
{
	struct redis_pipe *p = &((struct throttle_redis *)t)->pipe;

	pthread_mutex_lock(&p->lock);
	p->stopped = 1;
	pthread_cond_signal(&p->wake);
	while (p->started && (p->head != NULL || p->busy))
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void redis_pipe_close(struct throttle_redis *tr)
{
	struct redis_pipe *p = &tr->pipe;

	redis_pipe_stop(&tr->base);
	if (p->started)
		pthread_join(p->thread, NULL);
	if (p->conn.ctx != NULL)
		redisFree(p->conn.ctx);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
}
