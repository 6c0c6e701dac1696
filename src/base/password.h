#ifndef KEYGATE_PASSWORD_H
#define KEYGATE_PASSWORD_H

#include <sodium.h>
#include <stddef.h>

/*
 * Argon2id password hashing (libsodium crypto_pwhash_str, INTERACTIVE
 * limits: 64 MiB per hash) on a small pool of threads of its own, so that a
 * hash never runs on an HTTP worker thread. At most `threads` hashes run at
 * once (peak memory = threads x 64 MiB) and at most `queue` wait; a job
 * beyond that is refused up front (password_reserve fails: answer 503).
 *
 * A job is owned by its submitter, which must keep it alive until done()
 * has been called. done() runs on a pool thread.
 */
#define PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

enum password_op { PASSWORD_HASH, PASSWORD_VERIFY };

struct password_job {
	enum password_op op;
	const char *password; /* borrowed until done() */
	size_t password_len;
	char hash[PASSWORD_HASH_MAX]; /* VERIFY: the stored hash; HASH: the result */
	int result; /* 0: hashed / matched; -1: failed / no match */
	void (*done)(struct password_job *job, void *arg);
	void *arg;
	struct password_job *next;
};

struct password_pool;

struct password_pool *password_pool_new(unsigned threads, unsigned queue, char *err, size_t errlen);
/* Runs every queued job to completion, then joins the threads; from then
 * on password_reserve fails (callers answer 503), but the pool may still
 * be called. The main thread, once. */
void password_pool_stop(struct password_pool *pool);
/* Stops the pool if it is not, then frees it: only once nothing can call
 * it any more (the HTTP threads are gone). */
void password_pool_free(struct password_pool *pool);

/* Take a place in the queue: 0, or -1 when it is full. Every successful
 * reserve is followed by exactly one password_submit. */
int password_reserve(struct password_pool *pool);
void password_submit(struct password_pool *pool, struct password_job *job);

/* Synchronous, on the calling thread (start-up, CLI, tests). */
int password_hash_now(const char *password, size_t len, char out[PASSWORD_HASH_MAX]);
int password_verify_now(const char *hash, const char *password, size_t len);

#endif
