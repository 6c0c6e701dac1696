/*
 * password.c: Argon2id on a bounded pool of threads.
 *
 * THREAD SAFETY: pool->lock guards the queue, `reserved` and `stopping`.
 * Jobs are handed over under the lock; a job's fields are written by the
 * pool thread and read by the submitter only after done() (which must
 * publish them, e.g. through MHD_resume_connection's lock).
 */
#include "base/password.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct password_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct password_job *head, *tail;
	unsigned reserved; /* queued or about to be, not yet taken */
	unsigned queue_cap;
	int stopping;
	unsigned nthreads;
	pthread_t threads[];
};

int password_hash_now(const char *password, size_t len, char out[PASSWORD_HASH_MAX])
{
	return crypto_pwhash_str(
		   out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
		   ? 0
		   : -1;
}

int password_verify_now(const char *hash, const char *password, size_t len)
{
	return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : -1;
}

static void job_run(struct password_job *job)
{
	if (job->op == PASSWORD_HASH)
		job->result = password_hash_now(job->password, job->password_len, job->hash);
	else
		job->result = password_verify_now(job->hash, job->password, job->password_len);
}

static void *pool_main(void *arg)
{
	struct password_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->head == NULL && !(pool->stopping && pool->reserved == 0))
			pthread_cond_wait(&pool->cond, &pool->lock);
		struct password_job *job = pool->head;
		if (job == NULL)
			break; /* stopping, and nothing queued or promised */
		pool->head = job->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->reserved--;
		pthread_mutex_unlock(&pool->lock);
		job_run(job);
		job->done(job, job->arg);
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct password_pool *password_pool_new(unsigned threads, unsigned queue, char *err, size_t errlen)
{
	struct password_pool *pool = calloc(1, sizeof(*pool) + threads * sizeof(pthread_t));

	if (pool == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pool->queue_cap = queue; /* waiting jobs; running ones have left */
	for (; pool->nthreads < threads; pool->nthreads++) {
		int rc = pthread_create(&pool->threads[pool->nthreads], NULL, pool_main, pool);
		if (rc != 0) {
			snprintf(err, errlen, "cannot start a hashing thread: %s", strerror(rc));
			password_pool_free(pool);
			return NULL;
		}
	}
	return pool;
}

void password_pool_stop(struct password_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	int joined = pool->stopping;
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	if (joined)
		return;
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
}

void password_pool_free(struct password_pool *pool)
{
	if (pool == NULL)
		return;
	password_pool_stop(pool);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

int password_reserve(struct password_pool *pool)
{
	int rc = -1;

	pthread_mutex_lock(&pool->lock);
	if (!pool->stopping && pool->reserved < pool->queue_cap) {
		pool->reserved++;
		rc = 0;
	}
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

void password_submit(struct password_pool *pool, struct password_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail != NULL)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}
