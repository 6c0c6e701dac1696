#ifndef KEYGATE_THROTTLE_H
#define KEYGATE_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/gate_policy.h"
#include "lib/parse.h"

/*
 * Rate limits behind one interface: a scope (which rate), a 64-bit key
 * (a user id, or a client address through throttle_key_addr) and the
 * time. Backends: shared memory (throttle_shm*.c) and Redis
 * (throttle_redis.c). All functions may be called from any thread.
 */
enum throttle_scope {
	SCOPE_NONE,
	SCOPE_API_KEY, /* per user behind the API key */
	SCOPE_LOGIN, /* per client address */
	SCOPE_SIGNUP, /* per client address */
	SCOPE_INVALID_KEY, /* per client address, counting unknown API keys */
	SCOPE_REGENERATE, /* per user, PUT /users/api_key/get/ */
	SCOPE_REFRESH, /* per user, POST /users/login/refresh */
	/* per user, the [policy] sections of a gated API in the file's
	 * order: SCOPE_POLICY + i is cfg->policies[i]; a scope past the
	 * configured ones has no windows and no table */
	SCOPE_POLICY,
	SCOPE_COUNT = SCOPE_POLICY + GATE_POLICIES_MAX
};

/* One window's part of a decision. */
struct throttle_window {
	uint32_t limit; /* N */
	uint32_t window_s; /* W */
	uint32_t remaining; /* admissions left now */
	uint64_t reset_ms; /* until its next slot frees (0: none used); when it
			      refused, the wait after which it admits */
	int admitted; /* this window alone would admit */
};

/*
 * A decision over every window of a scope, all or nothing: admitted only
 * if each window admits, and then spent in each; refused, it spends none.
 * The summary fields are those of the window that binds: when refused,
 * the refusing window with the longest wait (so reset_ms is when a retry
 * is admitted); when admitted, the one with the fewest left.
 */
struct throttle_decision {
	int admitted;
	uint32_t limit; /* N */
	uint32_t window_s; /* W */
	uint32_t remaining; /* admissions left now */
	uint64_t reset_ms; /* until the next slot frees (0: none used); when
			      refused, the wait after which a retry is admitted */
	int full; /* refused for want of room in the table, not by the
		     window: the caller answers 503 (reset_ms: until a slot
		     frees, as best known) */
	uint64_t spent; /* admitted and spent: what throttle_refund needs */
	uint32_t nwindows;
	struct throttle_window w[RATE_WINDOWS_MAX]; /* in the configured order */
};

/* Fill d's summary from its windows (the backends' shared last step). */
void throttle_decision_sum(struct throttle_decision *d);

/* Table figures of one scope, shared by all processes. */
struct throttle_stats {
	uint64_t capacity;
	uint64_t used; /* entries that hold a key */
	uint64_t full; /* requests refused for want of an entry */
	uint64_t recoveries; /* stripes repaired after a dead holder */
};

struct throttle;
struct config;

/*
 * A decision made off the caller's thread, for a caller that can wait
 * without holding its thread (an HTTP connection, suspended meanwhile).
 * The backend queues the job and, once it is decided, sets rc and d and
 * calls done(job) on a thread of its own; the job is the caller's again
 * from that call on. A backend whose decision is a round trip (Redis)
 * sends the decisions queued meanwhile together, pipelined: one write and
 * one read for many, on its side and on Redis's. One that decides in
 * place (shm, a few tens of ns) offers none (throttle_async).
 */
struct throttle_job {
	enum throttle_scope scope;
	struct rate_set rate; /* a copy: a reload may retire the caller's */
	uint64_t key;
	uint32_t spend;
	int rc; /* as throttle_decide returns: 0, or -1 (on_error applies) */
	struct throttle_decision d;
	void (*done)(struct throttle_job *job);
	void *arg; /* the caller's */
	uint64_t member; /* the backend's: which admission the job spends */
	struct throttle_job *next; /* the backend's queue */
};

struct throttle_ops {
	int (*decide)(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key,
	    uint64_t now_ms, uint32_t spend, struct throttle_decision *out);
	void (*decide_async)(struct throttle *t, struct throttle_job *job); /* NULL: decides in place */
	void (*async_stop)(struct throttle *t);
	int (*fits)(const struct throttle *t, enum throttle_scope scope, const struct rate_set *rate);
	int (*refund)(
	    struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key, uint64_t spent);
	int (*set_rate)(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate);
	int (*forget)(struct throttle *t, enum throttle_scope scope, uint64_t key);
	int (*stats)(const struct throttle *t, enum throttle_scope scope, struct throttle_stats *out);
	int (*check)(struct throttle *t);
	int (*healthy)(const struct throttle *t);
	uint64_t (*key_addr)(const struct throttle *t, const uint8_t addr[16]);
	void (*close)(struct throttle *t);
};

struct throttle {
	const struct throttle_ops *ops;
};

/* Attach to (or create) the configured store. NULL with err. Start-up only.
 * Defined in throttle_open.c. */
struct throttle *throttle_open(const struct config *cfg, char *err, size_t errlen);
void throttle_close(struct throttle *t);

/* Decide a request that costs spend units (spend = 1 for most; 0 only
 * looks whether one more would be admitted) under rate, which must fit
 * the store (throttle_fits): all of spend in every window, or nothing. 0, or -1 when the store cannot answer (the
 * caller applies its failure policy). */
int throttle_decide(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key,
    uint64_t now_ms, uint32_t spend, struct throttle_decision *out);
/* 1 when t decides off the caller's thread (throttle_decide_async), 0 when
 * throttle_decide is what to call. */
int throttle_async(const struct throttle *t);
/* Queue job (a throttle_async store): done(job) runs exactly once, on the
 * store's thread, or on this one before the call returns once the queue
 * is stopped (then rc = -1). */
void throttle_decide_async(struct throttle *t, struct throttle_job *job);
/* Before the threads that wait for jobs stop: returns once every job
 * queued had its done run; a job queued later answers -1 at once. */
void throttle_async_stop(struct throttle *t);
/* Give back an admission that decide spent (out->spent), exactly: the
 * window is as if it had never been made. 0 or -1. */
int throttle_refund(
    struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key, uint64_t spent);
/* Make rate the scope's rate for every process that shares the store (a
 * reload; it must fit). 0 or -1. */
int throttle_set_rate(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate);
/* Whether the store, as laid out, can apply rate to scope (a reload may
 * change N within the slots the entries have, and W; not more): 0 or -1. */
int throttle_fits(const struct throttle *t, enum throttle_scope scope, const struct rate_set *rate);
/* The configured windows of a scope. */
const struct rate_set *throttle_rate(const struct config *cfg, enum throttle_scope scope);
/* The windows of a user of tier (a config_tier_index; -1: none) in a
 * user-keyed scope: the tier's when it names the scope, else the scope's. */
const struct rate_set *throttle_rate_tier(const struct config *cfg, enum throttle_scope scope, int tier);

/* Forget key's window in scope (the admin's quota reset): 0 or -1. */
int throttle_forget(struct throttle *t, enum throttle_scope scope, uint64_t key);

/* The scope's table figures, for /metrics: 0 or -1. */
int throttle_stats(const struct throttle *t, enum throttle_scope scope, struct throttle_stats *out);

/* Main thread, periodically: verify the store and repair what can be
 * (the shm segment removed or truncated: re-create or re-attach it).
 * 0 when the store works. */
int throttle_check(struct throttle *t);
/* Whether decisions can be made now (for /healthz): 0 or -1. */
int throttle_healthy(const struct throttle *t);

/* A key for a client address (16 bytes, IPv4 as ::ffff:a.b.c.d): the
 * caller masks it to the prefix it counts (client_ip_prefix). */
uint64_t throttle_key_addr(const struct throttle *t, const uint8_t addr[16]);

/* CLOCK_MONOTONIC in milliseconds: what the windows are measured in. */
uint64_t throttle_now_ms(void);

/* "api_key", "login", ..., "policy1" ...: a scope's fixed name, for logs,
 * metrics and keys. */
const char *throttle_scope_name(enum throttle_scope scope);
/* The policy name of the RateLimit headers and violated-policies: the
 * scope's name, or a [policy] section's own. */
const char *throttle_scope_label(const struct config *cfg, enum throttle_scope scope);

#endif
