#ifndef KEYGATE_THROTTLE_REDIS_INT_H
#define KEYGATE_THROTTLE_REDIS_INT_H

/*
 * Private to the Redis backend: its state, shared by throttle_redis.c (the
 * ops, the per-thread connections, the calls made in place),
 * throttle_redis_pipe.c (decisions off the caller's thread, pipelined) and
 * throttle_redis_conn.c (the connection, the script, a decision's call and
 * reply). Calls go one way: throttle_redis.c -> throttle_redis_pipe.c ->
 * throttle_redis_conn.c, and throttle_redis.c -> throttle_redis_conn.c.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "throttle/throttle.h"

struct conn {
	redisContext *ctx;
	char sha[41];
	uint64_t retry_at_ms; /* after a failure: no new attempt before */
};

/* One decision's key and arguments, their texts held here. */
#define REDIS_DECISION_ARGS (3 + 2 * RATE_WINDOWS_MAX)
struct decide_one {
	char k1[128], name[48], nums[2 + 2 * RATE_WINDOWS_MAX][24];
	size_t k1len;
	const char *argv[REDIS_DECISION_ARGS];
	size_t argvlen[REDIS_DECISION_ARGS];
	int argc;
	uint64_t member; /* the admission's name, for the refund */
};

/* One call of the script: up to REDIS_CALL_MAX decisions, each made in
 * turn at one instant of Redis's clock, as so many calls in a row would
 * be. What a call costs Redis beyond its decisions is shared by them. */
#define REDIS_CALL_MAX 32
#define REDIS_CALL_ARGS (3 + REDIS_CALL_MAX * (1 + REDIS_DECISION_ARGS))
struct decide_call {
	char numkeys[12];
	const char *argv[REDIS_CALL_ARGS];
	size_t argvlen[REDIS_CALL_ARGS];
	int argc;
};

/* The queue of throttle_decide_async, and the thread that empties it
 * (started by the first job). Under lock: head, tail, stopped, busy. */
struct redis_pipe {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* a job queued, or stopped */
	pthread_cond_t idle; /* the queue emptied and no batch is out */
	struct throttle_job *head, **tail;
	int stopped; /* throttle_async_stop: new jobs answer -1 at once */
	int busy; /* the thread has a batch out */
	int started;
	pthread_t thread;
	struct conn conn; /* the thread's own */
	struct decide_one one[REDIS_CALL_MAX]; /* the call being written */
	struct decide_call call;
};

struct throttle_redis {
	struct throttle base;
	char host[256]; /* or the socket's path, when port is 0 */
	char address[256]; /* as configured, for the log */
	char prefix[64];
	int port;
	struct timeval timeout;
	pthread_key_t key;
	/* Each scope's part of its keys' names: a [policy]'s own name (fixed
	 * while running), after "p:" so that none is a built-in scope's. */
	char names[SCOPE_COUNT][GATE_NAME_MAX + 3];
	atomic_int incident; /* a failure has been logged and not yet cleared */
	char id[17]; /* random, hex: this process's part of member names */
	_Atomic uint64_t members; /* the counter of member names */
	struct redis_pipe pipe;
};

/* throttle_redis_conn.c. Close and free a connection (NULL: nothing): the
 * pthread key's destructor. */
void redis_conn_free(void *arg);
/* c connected with the script loaded: 0, or -1 (retried after a pause). */
int redis_conn_ready(struct throttle_redis *tr, struct conn *c);
/* A failure on c, counted and logged once per incident; c is closed. */
void redis_failed(struct throttle_redis *tr, struct conn *c, const char *what);
void redis_recovered(struct throttle_redis *tr);
/* A decision's key and arguments: 0, or -1 on arguments no decision has. */
int redis_decide_one(struct throttle_redis *tr, enum throttle_scope s, const struct rate_set *rate, uint64_t key,
    uint32_t spend, struct decide_one *d);
/* The call on c of the n decisions d (1 to REDIS_CALL_MAX), which must
 * outlive it. */
void redis_decide_call(const struct conn *c, const struct decide_one *d, size_t n, struct decide_call *call);
/* How many elements a decision under rate takes of the reply. */
size_t redis_reply_size(const struct rate_set *rate);
/* The reply r (NULL: none came) to a call: 0 when it is an array of size
 * elements (the sum of its decisions' sizes), else -1 with the failure
 * counted, c closed and r freed. */
int redis_reply_check(struct throttle_redis *tr, struct conn *c, redisReply *r, size_t size);
/* The decision at element at of a checked reply into out: 0, or -1 when
 * it is not one. */
int redis_reply_decision(const redisReply *r, size_t at, const struct rate_set *rate, uint32_t spend, uint64_t member,
    struct throttle_decision *out);
/* A checked reply read: r freed; bad (a decision that was not one) counts
 * as a failure of c, else Redis answers again. */
void redis_reply_end(struct throttle_redis *tr, struct conn *c, redisReply *r, int bad);

/* throttle_redis_pipe.c: the ops of throttle_decide_async and
 * throttle_async_stop, and the end of the thread (at close). */
void redis_pipe_init(struct redis_pipe *p);
void redis_pipe_decide(struct throttle *t, struct throttle_job *job);
void redis_pipe_stop(struct throttle *t);
void redis_pipe_close(struct throttle_redis *tr);

#endif
