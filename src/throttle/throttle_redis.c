/*
 * throttle_redis.c: the rate-limit windows in Redis, for keygate on
 * several hosts ([throttle] backend = redis).
 *
 * One Lua script per decision makes it atomic on the server: it drops the
 * admitted times that left the window, counts the rest, and records this
 * one if it is admitted, all with the Redis server's clock (TIME), so the
 * hosts' clocks do not matter. A key's sorted set holds its admitted
 * times (milliseconds) and expires by itself after W. Same semantics as
 * the shared-memory table: admitted iff fewer than N in (t - W, t].
 *
 * A decision is made in place (throttle_decide) or, for a connection that
 * can be suspended meanwhile, off its thread and pipelined with others
 * (throttle_decide_async, throttle_redis_pipe.c); the script, connecting
 * and a decision's call and reply, which both use, are in
 * throttle_redis_conn.c.
 *
 * THREAD SAFETY: each thread has its own connection (a pthread key),
 * opened on first use, and so has the pipelining thread (its queue is
 * under its own lock); nothing else is shared but the read-only settings
 * and atomics (the incident flag, for logging once, the error count, the
 * member counter). A thread whose connection fails does not retry for a second, so
 * that a dead Redis costs requests no time; the caller applies on_error.
 */
#include "throttle/throttle_redis.h"
#include "throttle/throttle_redis_int.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/config.h"
#include "base/log.h"

/* This thread's connection, ready, or NULL. */
static struct conn *conn_get(struct throttle_redis *tr)
{
	struct conn *c = pthread_getspecific(tr->key);

	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		pthread_setspecific(tr->key, c);
	}
	return redis_conn_ready(tr, c) == 0 ? c : NULL;
}

static int tr_decide(struct throttle *t, enum throttle_scope s, const struct rate_set *rate, uint64_t key,
    uint64_t now_ms, uint32_t spend, struct throttle_decision *out)
{
	struct throttle_redis *tr = (struct throttle_redis *)t;
	struct decide_one d;
	struct decide_call call;
	(void)now_ms; /* Redis's clock decides */

	struct conn *c = conn_get(tr);
	if (c == NULL || redis_decide_one(tr, s, rate, key, spend, &d) == -1)
		return -1;
	redis_decide_call(c, &d, 1, &call);
	redisReply *r = redisCommandArgv(c->ctx, call.argc, call.argv, call.argvlen);
	if (redis_reply_check(tr, c, r, redis_reply_size(rate)) == -1)
		return -1;
	int rc = redis_reply_decision(r, 0, rate, spend, d.member, out);
	redis_reply_end(tr, c, r, rc == -1);
	return rc;
}

/* One command on key's window (ZREM of a member, or DEL when member is
 * NULL) that answers an integer: 0, or -1 when Redis cannot be reached or
 * answers otherwise. */
static int key_command(
    struct throttle_redis *tr, enum throttle_scope s, uint64_t key, const char *cmd, const char *member)
{
	char k1[128];
	struct conn *c = conn_get(tr);

	if (c == NULL)
		return -1;
	snprintf(k1, sizeof(k1), "%s%s:%llu", tr->prefix, tr->names[s], (unsigned long long)key);
	redisReply *r =
	    member != NULL ? redisCommand(c->ctx, "%s %s %s", cmd, k1, member) : redisCommand(c->ctx, "%s %s", cmd, k1);
	int rc = r != NULL && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
	if (r == NULL)
		redis_failed(tr, c, c->ctx->errstr);
	else
		freeReplyObject(r);
	return rc;
}

/* An admission is a member of the key's sorted set, named by this
 * process and its counter (spent): giving it back removes exactly that
 * one (the first unit of its cost). */
static int tr_refund(
    struct throttle *t, enum throttle_scope s, const struct rate_set *rate, uint64_t key, uint64_t spent)
{
	struct throttle_redis *tr = (struct throttle_redis *)t;
	(void)rate;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || key == 0 || spent == 0)
		return -1;
	char member[48];
	snprintf(member, sizeof(member), "%s-%llu:1", tr->id, (unsigned long long)spent);
	return key_command(tr, s, key, "ZREM", member);
}

/* Each decision carries its rate to Redis: there is no segment to record
 * one in, and processes configured otherwise share windows with theirs
 * (README: give every host one [throttle]). */
static int tr_set_rate(struct throttle *t, enum throttle_scope s, const struct rate_set *rate)
{
	(void)t;
	(void)s;
	(void)rate;
	return 0;
}

static int tr_fits(const struct throttle *t, enum throttle_scope s, const struct rate_set *rate)
{
	(void)t;
	(void)s;
	(void)rate;
	return 0; /* no layout: any rate */
}

static int tr_forget(struct throttle *t, enum throttle_scope s, uint64_t key)
{
	return key_command((struct throttle_redis *)t, s, key, "DEL", NULL);
}

static int tr_stats(const struct throttle *t, enum throttle_scope s, struct throttle_stats *out)
{
	(void)t;
	(void)s;
	(void)out;
	return -1; /* Redis keeps its own figures (INFO keyspace) */
}

static int tr_check(struct throttle *t)
{
	(void)t;
	return 0; /* connections repair themselves, per thread */
}

static int tr_healthy(const struct throttle *t)
{
	struct throttle_redis *tr = (struct throttle_redis *)(uintptr_t)t;
	struct conn *c = conn_get(tr);
	if (c == NULL)
		return -1;
	redisReply *r = redisCommand(c->ctx, "PING");
	int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r == NULL)
		redis_failed(tr, c, c->ctx->errstr);
	else
		freeReplyObject(r);
	return ok ? 0 : -1;
}

static uint64_t tr_key_addr(const struct throttle *t, const uint8_t addr[16])
{
	/* The same on every host, so that they share a client's window. The
	 * key is public: a client picks no addresses to collide with. */
	static const unsigned char k[crypto_shorthash_KEYBYTES] = "keygate-redis-ip";
	uint64_t h;
	(void)t;
	crypto_shorthash((unsigned char *)&h, addr, 16, k);
	return h != 0 ? h : 1;
}

static void tr_close(struct throttle *t)
{
	struct throttle_redis *tr = (struct throttle_redis *)t;
	redis_pipe_close(tr);
	redis_conn_free(pthread_getspecific(tr->key));
	pthread_setspecific(tr->key, NULL);
	pthread_key_delete(tr->key);
	free(tr);
}

static const struct throttle_ops redis_ops = {
	.decide = tr_decide,
	.decide_async = redis_pipe_decide,
	.async_stop = redis_pipe_stop,
	.fits = tr_fits,
	.refund = tr_refund,
	.set_rate = tr_set_rate,
	.forget = tr_forget,
	.stats = tr_stats,
	.check = tr_check,
	.healthy = tr_healthy,
	.key_addr = tr_key_addr,
	.close = tr_close,
};

/* "HOST:PORT", or a Unix socket's path ("/run/redis/redis.sock", or
 * "unix:" and the path): the host's own Redis without TCP. 0, or -1. */
static int address_parse(const char *address, struct throttle_redis *tr)
{
	const char *path = strncmp(address, "unix:", 5) == 0 ? address + 5 : address[0] == '/' ? address : NULL;
	const char *colon = strrchr(address, ':');
	char *end;

	snprintf(tr->address, sizeof(tr->address), "%s", address);
	if (path != NULL) {
		tr->port = 0;
		return path[0] == '/' && snprintf(tr->host, sizeof(tr->host), "%s", path) < (int)sizeof(tr->host) ? 0
														  : -1;
	}
	if (colon == NULL || colon == address || (size_t)(colon - address) >= sizeof(tr->host))
		return -1;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	memcpy(tr->host, address, (size_t)(colon - address));
	tr->port = (int)port;
	return 0;
}

struct throttle *throttle_redis_open(const struct config *cfg, char *err, size_t errlen)
{
	struct throttle_redis *tr = calloc(1, sizeof(*tr));

	if (tr == NULL || address_parse(cfg->redis_address, tr) == -1) {
		snprintf(err, errlen, "[throttle] redis_address: expected HOST:PORT, or the path of a Unix socket");
		free(tr);
		return NULL;
	}
	tr->base.ops = &redis_ops;
	snprintf(tr->prefix, sizeof(tr->prefix), "%s", cfg->redis_prefix);
	tr->timeout.tv_sec = (time_t)(cfg->redis_timeout_ms / 1000);
	tr->timeout.tv_usec = (suseconds_t)(cfg->redis_timeout_ms % 1000) * 1000;
	for (int s = 0; s < SCOPE_COUNT; s++)
		snprintf(tr->names[s], sizeof(tr->names[s]), "%s%s", s >= SCOPE_POLICY ? "p:" : "",
		    throttle_scope_label(cfg, (enum throttle_scope)s));
	atomic_init(&tr->incident, 0);
	atomic_init(&tr->members, 0);
	redis_pipe_init(&tr->pipe);
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(tr->id, sizeof(tr->id), rnd, sizeof(rnd));
	if (pthread_key_create(&tr->key, redis_conn_free) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		free(tr);
		return NULL;
	}
	/* Not fatal: keygate starts, and follows on_error, while Redis is away. */
	if (tr_healthy(&tr->base) == -1)
		log_warnx("throttle: redis %s is not answering yet", cfg->redis_address);
	return &tr->base;
}
