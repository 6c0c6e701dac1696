/*
 * throttle_redis_conn.c: the Redis backend's connection and its one call:
 * connecting with the decision script loaded, a failure logged once per
 * incident, a decision's EVALSHA arguments and its reply read back. Used
 * by the decisions made in place (throttle_redis.c) and the pipelined ones
 * (throttle_redis_pipe.c); calls neither.
 *
 * THREAD SAFETY: a connection is its caller's alone (see
 * throttle_redis.c); the backend's state is read-only here but for its
 * atomics (the incident flag, the member counter) and the error count.
 */
#include "throttle/throttle_redis_int.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "lib/clock.h"
#include "lib/textbuf.h"

#define RETRY_MS 1000

/*
 * One call decides #KEYS requests, one per key (a key may come more than
 * once), in turn, at one reading of Redis's clock: exactly what as many
 * calls in a row at that instant would decide. A decision's ARGV, one
 * after another: spend (units; 0 looks), n, the request's member name,
 * then N and W (ms) of each window. One sorted set per key holds the
 * admitted times of the longest window; each window counts its own span
 * of it, so all are decided, and spent, at once: a cost of c is admitted
 * only if every window has c left, and is recorded as c members, name..1
 * to name..c. keygate names the members (a random 64-bit id of the
 * process and a counter of its own, so no two admissions anywhere share a
 * name): no sequence key to bump and expire. The longest window is the
 * whole set once trimmed (ZCARD, ZRANGE by rank); a shorter one is counted
 * by score. Returns one array: for each decision in turn, admitted, then
 * remaining, reset and admits (this window alone) of each window.
 *
 * The script is what Redis spends on a decision, so it does no work it
 * can leave out. A call's own cost (EVALSHA, the script's start, KEYS and
 * ARGV, the reply) is shared by its decisions: the pipelining thread puts
 * a batch in as few calls as REDIS_CALL_MAX allows. A decision builds no
 * table but its part of the reply: between the two passes a window's
 * three slots hold its count, limit and admits, and the second pass puts
 * remaining and reset in the first two. It hands Redis text where it has
 * it (the time from TIME's own digits, the window from ARGV, rank 0 and
 * unit 1 as constants): Redis writes a Lua number with "%.17g", glibc's
 * slow floating-point printf. make bench's Redis line (callgrind) counts
 * 114,166 instructions a decision for the script before all this, 99,946
 * in a call of one now, 68,446 each in calls of 16. The six Redis calls
 * of a decision are the rest, and each is needed: the one clock of all
 * hosts (one per call), the trim, the count, the admission, the key's
 * expiry and the oldest admission (reset).
 */
static const char decide_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local now_s = t[1] .. string.sub('00000' .. t[2], -6, -4)\n"
    "local out, a, b = {}, 1, 0\n"
    "for d = 1, #KEYS do\n"
    "  local key = KEYS[d]\n"
    "  local spend, n, name = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]\n"
    "  local cost = spend\n"
    "  if cost < 1 then cost = 1 end\n"
    "  local longest, longest_s = 0, nil\n"
    "  for i = 1, n do\n"
    "    local w = tonumber(ARGV[a + 2 + 2 * i])\n"
    "    if w > longest then longest, longest_s = w, ARGV[a + 2 + 2 * i] end\n"
    "  end\n"
    "  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)\n"
    "  local admitted = 1\n"
    "  for i = 1, n do\n"
    "    local limit, w = tonumber(ARGV[a + 1 + 2 * i]), tonumber(ARGV[a + 2 + 2 * i])\n"
    "    local count\n"
    "    if w == longest then count = redis.call('ZCARD', key)\n"
    "    else count = redis.call('ZCOUNT', key, '(' .. (now - w), '+inf') end\n"
    "    local admits = 0\n"
    "    if count + cost <= limit then admits = 1 else admitted = 0 end\n"
    "    out[b + 3 * i - 1], out[b + 3 * i], out[b + 3 * i + 1] = count, limit, admits\n"
    "  end\n"
    "  if admitted == 1 and spend > 0 then\n"
    "    redis.call('ZADD', key, now_s, name .. '1')\n"
    "    for m = 2, spend do redis.call('ZADD', key, now_s, name .. m) end\n"
    "    redis.call('PEXPIRE', key, longest_s)\n"
    "  end\n"
    "  out[b + 1] = admitted\n"
    "  for i = 1, n do\n"
    "    local count, limit, admits = out[b + 3 * i - 1], out[b + 3 * i], out[b + 3 * i + 1]\n"
    "    local w = tonumber(ARGV[a + 2 + 2 * i])\n"
    "    if admitted == 1 then count = count + spend end\n"
    "    local need = cost\n"
    "    if admits == 1 then need = 1 end\n"
    "    local reset, idx = 0, count + need - limit - 1\n"
    "    if idx <= 0 then idx = '0' end\n"
    "    if count > 0 then\n"
    "      local r\n"
    "      if w == longest then r = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')\n"
    "      else r = redis.call('ZRANGEBYSCORE', key, '(' .. (now - w), '+inf', 'WITHSCORES', 'LIMIT', idx, '1') end\n"
    "      reset = r[2] + w - now\n"
    "    end\n"
    "    local remaining = limit - count\n"
    "    if remaining < 0 then remaining = 0 end\n"
    "    out[b + 3 * i - 1], out[b + 3 * i] = remaining, reset\n"
    "  end\n"
    "  a, b = a + 3 + 2 * n, b + 1 + 3 * n\n"
    "end\n"
    "return out\n";

void redis_conn_free(void *arg)
{
	struct conn *c = arg;
	if (c == NULL)
		return;
	if (c->ctx != NULL)
		redisFree(c->ctx);
	free(c);
}

/* what may point into the context (its errstr): logged before the
 * context is freed. */
void redis_failed(struct throttle_redis *tr, struct conn *c, const char *what)
{
	metrics_throttle_error();
	/* Once per incident, not once per request. */
	if (atomic_exchange(&tr->incident, 1) == 0)
		log_warnx("throttle: redis %s: %s; throttled requests get [throttle] on_error until it answers",
		    tr->address, what);
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	c->retry_at_ms = clock_ms() + RETRY_MS;
}

void redis_recovered(struct throttle_redis *tr)
{
	if (atomic_exchange(&tr->incident, 0) == 1)
		log_warnx("throttle: redis %s answers again", tr->address);
}

/* c connected, with the script loaded; -1 when it is not (then no
 * attempt is made again for RETRY_MS). */
int redis_conn_ready(struct throttle_redis *tr, struct conn *c)
{
	if (c->ctx != NULL)
		return 0;
	if (clock_ms() < c->retry_at_ms)
		return -1;
	c->ctx = tr->port == 0 ? redisConnectUnixWithTimeout(tr->host, tr->timeout)
			       : redisConnectWithTimeout(tr->host, tr->port, tr->timeout);
	if (c->ctx == NULL || c->ctx->err) {
		redis_failed(tr, c, c->ctx != NULL ? c->ctx->errstr : "cannot connect");
		return -1;
	}
	redisSetTimeout(c->ctx, tr->timeout);
	redisReply *r = redisCommand(c->ctx, "SCRIPT LOAD %s", decide_lua);
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
		redis_failed(tr, c, r == NULL ? c->ctx->errstr : "SCRIPT LOAD failed");
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	memcpy(c->sha, r->str, 40);
	c->sha[40] = '\0';
	freeReplyObject(r);
	return 0;
}

/* The decision at r's element at, checked whole: 0, or -1. */
static int reply_read(const redisReply *r, size_t at, const struct rate_set *rate, struct throttle_decision *out)
{
	const size_t n = 1 + 3 * (size_t)rate->n;
	if (at + n > r->elements)
		return -1;
	redisReply *const *e = r->element + at;
	for (size_t i = 0; i < n; i++)
		if (e[i]->type != REDIS_REPLY_INTEGER)
			return -1;
	out->full = 0; /* no table: Redis's memory is the bound (maxmemory-policy noeviction) */
	out->nwindows = rate->n;
	for (uint32_t i = 0; i < rate->n; i++) {
		long long remaining = e[1 + 3 * i]->integer, reset = e[2 + 3 * i]->integer;
		out->w[i] = (struct throttle_window){ .limit = rate->w[i].limit,
			.window_s = rate->w[i].window_s,
			.remaining = remaining > 0 ? (uint32_t)remaining : 0,
			.reset_ms = reset > 0 ? (uint64_t)reset : 0,
			.admitted = e[3 + 3 * i]->integer == 1 };
	}
	throttle_decision_sum(out);
	out->admitted = e[0]->integer == 1;
	return 0;
}

/* Each argument of the call is text, written with textbuf: snprintf's
 * format interpreter was a visible share of the pipelining thread's
 * time for thirteen short numbers per decision. */
static void arg_text(struct decide_one *d, const struct textbuf *t)
{
	d->argv[d->argc] = t->buf;
	d->argvlen[d->argc++] = t->len;
}

static void arg_u64(struct decide_one *d, char *buf, uint64_t v)
{
	struct textbuf t;
	textbuf_init(&t, buf, sizeof(d->nums[0]));
	textbuf_u64(&t, v, 1);
	arg_text(d, &t);
}

/* The member this admission adds: the process's id, a dash, its own
 * counter and a colon (the script appends the unit). */
static void member_name(struct throttle_redis *tr, struct decide_one *d)
{
	struct textbuf t;
	d->member = atomic_fetch_add_explicit(&tr->members, 1, memory_order_relaxed) + 1;
	textbuf_init(&t, d->name, sizeof(d->name));
	textbuf_str(&t, tr->id);
	textbuf_char(&t, '-');
	textbuf_u64(&t, d->member, 1);
	textbuf_char(&t, ':');
	arg_text(d, &t);
}

int redis_decide_one(struct throttle_redis *tr, enum throttle_scope s, const struct rate_set *rate, uint64_t key,
    uint32_t spend, struct decide_one *d)
{
	struct textbuf k1;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || key == 0 || rate->n == 0 || rate->n > RATE_WINDOWS_MAX)
		return -1;
	textbuf_init(&k1, d->k1, sizeof(d->k1));
	textbuf_str(&k1, tr->prefix);
	textbuf_str(&k1, tr->names[s]);
	textbuf_char(&k1, ':');
	textbuf_u64(&k1, key, 1);
	d->k1len = k1.len;
	d->argc = 0;
	arg_u64(d, d->nums[0], spend);
	arg_u64(d, d->nums[1], rate->n);
	member_name(tr, d);
	for (uint32_t i = 0; i < rate->n; i++) {
		arg_u64(d, d->nums[2 + 2 * i], rate->w[i].limit);
		arg_u64(d, d->nums[3 + 2 * i], (uint64_t)rate->w[i].window_s * 1000);
	}
	return 0;
}

static void call_arg(struct decide_call *call, const char *s, size_t len)
{
	call->argv[call->argc] = s;
	call->argvlen[call->argc++] = len;
}

void redis_decide_call(const struct conn *c, const struct decide_one *d, size_t n, struct decide_call *call)
{
	struct textbuf t;

	call->argc = 0;
	call_arg(call, "EVALSHA", 7);
	call_arg(call, c->sha, 40);
	textbuf_init(&t, call->numkeys, sizeof(call->numkeys));
	textbuf_u64(&t, n, 1);
	call_arg(call, t.buf, t.len);
	for (size_t i = 0; i < n; i++)
		call_arg(call, d[i].k1, d[i].k1len);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < d[i].argc; k++)
			call_arg(call, d[i].argv[k], d[i].argvlen[k]);
}

size_t redis_reply_size(const struct rate_set *rate)
{
	return 1 + 3 * (size_t)rate->n;
}

int redis_reply_check(struct throttle_redis *tr, struct conn *c, redisReply *r, size_t size)
{
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == size)
		return 0;
	/* NOSCRIPT after a Redis restart is a failure too: the next
	 * connection loads the script again. */
	redis_failed(tr, c, r == NULL ? c->ctx->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	if (r != NULL)
		freeReplyObject(r);
	return -1;
}

int redis_reply_decision(const redisReply *r, size_t at, const struct rate_set *rate, uint32_t spend, uint64_t member,
    struct throttle_decision *out)
{
	if (reply_read(r, at, rate, out) == -1)
		return -1;
	out->spent = out->admitted && spend > 0 ? member : 0;
	return 0;
}

void redis_reply_end(struct throttle_redis *tr, struct conn *c, redisReply *r, int bad)
{
	freeReplyObject(r);
	if (bad)
		redis_failed(tr, c, "bad reply");
	else
		redis_recovered(tr);
}
