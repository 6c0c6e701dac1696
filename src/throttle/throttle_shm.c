/*
 * throttle_shm.c: the rate-limit windows in a POSIX shared-memory segment.
 *
 * Layout (throttle_shm_int.h): a header (magic, layout version, size,
 * capacity, boot id, the hash key, and per scope its windows' layouts,
 * table geometry and rates), then per scope an array of stripe locks and
 * a table of fixed-size entries, each the scope's windows side by side
 * (throttle_window_set.h). A decision uses the segment's rates, within
 * the layout (window_set_with), so that every process counts alike and a
 * reload changes them for all (throttle_set_rate); a tier's rates are the
 * caller's, within the same layout, sized for every tier.
 *
 * The table itself, stripe by stripe (where a key lives, finding, placing
 * and deleting entries, repairing a stripe a dead process left), is
 * throttle_shm_table.c; the segment's making and checking is
 * throttle_shm_segment.c. This file is the throttle_ops: decisions,
 * refunds, rates, forgetting a key, statistics, and the segment's check.
 *
 * THREAD SAFETY (threads and processes): each scope's table is split in
 * stripes of stripe_slots entries; a stripe's entries are read and written
 * only under its lock, a robust process-shared mutex, taken through
 * shm_entry_lock (or shm_stripe_enter) and given back before the operation
 * returns; one lock is held at a time, never nested. A process that dies
 * holding one leaves it EOWNERDEAD: the next locker repairs that stripe
 * (throttle_shm_table.c) and marks the mutex consistent. Counters and
 * rates in the header are atomics. Per thread: the SIGBUS guard, the lock
 * held, and shape_now's window sets.
 *
 * The segment can be removed or truncated under us. The main thread checks
 * it every second (throttle_check): then `broken` is set, decisions fail
 * (the caller applies [throttle] on_error), and the check re-creates or
 * re-attaches the segment by its name, publishing the new mapping through
 * `hdr` (an atomic pointer; old mappings stay mapped until close, as a
 * decision may still hold one). An operation that touches the segment
 * (decide, refund, forget, set_rate, stats) does so under a SIGBUS guard:
 * one that touches a truncated page before the check notices gets SIGBUS,
 * and the handler turns that into a failure (the stripe lock given back,
 * the segment marked broken) instead of a crash.
 *
 * Times are CLOCK_MONOTONIC milliseconds, valid for the life of the segment
 * since /dev/shm and the monotonic clock both end at reboot; the boot id in
 * the header guards against a segment that somehow survived one.
 */
#include "throttle/throttle_shm.h"

#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "throttle/throttle_shm_int.h"

/* SIGBUS from a truncated segment: back to the decision that touched it. */
static _Thread_local sigjmp_buf *sigbus_guard;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (sigbus_guard != NULL)
		siglongjmp(*sigbus_guard, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void sigbus_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* NODEFER: no mask to restore after the jump (sigsetjmp(env, 0)). */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* After a SIGBUS: unlock what the interrupted decision held (the lock
 * lives in the header's pages, which may still be there), so that no
 * other thread or process waits on it for ever. Guarded: if the lock's
 * page is gone too, there is nobody left to wait on it. */
static void release_after_sigbus(void)
{
	sigjmp_buf env;
	pthread_mutex_t *m = shm_stripe_abandon();

	if (m == NULL)
		return;
	if (sigsetjmp(env, 0) == 0) {
		sigbus_guard = &env;
		pthread_mutex_unlock(m);
	}
	sigbus_guard = NULL;
}

/* The landing of every guard (sigsetjmp(env, 0) != 0, after
 * sigbus_guard = &env): the segment shrank under us. A stripe lock held is
 * given back, the segment is marked broken; -1. */
static int sigbus_caught(struct throttle_shm *ts)
{
	sigbus_guard = NULL;
	release_after_sigbus();
	atomic_store_explicit(&ts->broken, 1, memory_order_release);
	return -1;
}

/* A scope with windows (a [policy] past the configured ones has none). */
static int scope_has_table(const struct throttle_shm *ts, enum throttle_scope s)
{
	return s > SCOPE_NONE && s < SCOPE_COUNT && ts->sets[s].n > 0;
}

static int shm_fits(const struct throttle *t, enum throttle_scope s, const struct rate_set *rate)
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	struct window_set ws;
	return window_set_with(&ts->sets[s], rate, &ws);
}

/* Whether the scope's rates in the segment are still packed[]; if not,
 * packed[] gets them. Inline: this is on every decision. */
static int rates_same(const struct shm_scope *sc, uint32_t n, uint64_t packed[RATE_WINDOWS_MAX])
{
	int same = 1;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = atomic_load_explicit(&sc->w[i].rate, memory_order_relaxed);
		same &= v == packed[i];
		packed[i] = v;
	}
	return same;
}

/* The window set for the segment's current rates of scope s. Each thread
 * keeps the last one per scope and open: the rates change only on a
 * reload, the mapping only on a re-attach (old ones stay mapped). */
static const struct window_set *shape_now(struct throttle_shm *ts, struct shm_header *h, enum throttle_scope s)
{
	static _Thread_local struct {
		uint64_t id;
		const struct shm_header *h;
		uint64_t rate[RATE_WINDOWS_MAX];
		struct window_set ws;
	} last[SCOPE_COUNT];
	uint32_t n = ts->sets[s].n;

	if (!rates_same(&h->scopes[s], n, last[s].rate) || last[s].id != ts->id || last[s].h != h) {
		struct rate_set r = { .n = n };
		for (uint32_t i = 0; i < n; i++)
			r.w[i] = shm_rate_unpack(last[s].rate[i]);
		if (window_set_with(&ts->sets[s], &r, &last[s].ws) == -1) {
			last[s].id = 0; /* made again next time */
			return NULL;
		}
		last[s].id = ts->id;
		last[s].h = h;
	}
	return &last[s].ws;
}

/* No room: log it once an incident (until a newcomer finds room again). */
static void room_incident(struct throttle_shm *ts, enum throttle_scope s, int full)
{
	if (full && atomic_exchange_explicit(&ts->full_incident[s], 1, memory_order_relaxed) == 0)
		log_warnx("throttle: no room in the %s table (every slot of a stripe holds a live window); newcomers "
			  "get 503 until one expires: raise [throttle] capacity (now %llu)",
		    throttle_scope_name(s), (unsigned long long)ts->capacity);
	else if (!full && atomic_load_explicit(&ts->full_incident[s], memory_order_relaxed) &&
		 atomic_exchange_explicit(&ts->full_incident[s], 0, memory_order_relaxed) == 1)
		log_warnx("throttle: the %s table has room again", throttle_scope_name(s));
}

static void decide_locked(const struct window_set *ws, struct shm_locked *l, uint64_t now_ms, uint32_t spend,
    struct window_result *r, int *full)
{
	*full = 0;
	if (l->e != NULL) {
		window_set_decide(ws, l->e, now_ms, spend > 0 ? spend : 1, spend > 0, r);
	} else if (!spend) { /* never seen: the whole quota */
		for (uint32_t i = 0; i < ws->n; i++)
			r[i] = (struct window_result){ .admitted = 1, .remaining = ws->w[i].limit };
	} else { /* no room, and no live window is ever forgotten for one */
		atomic_fetch_add_explicit(&l->sc->full, 1, memory_order_relaxed);
		for (uint32_t i = 0; i < ws->n; i++)
			r[i] = (struct window_result){ .reset_ms = l->wait_ms == UINT64_MAX ? 1000 : l->wait_ms };
		*full = 1;
	}
}

/* rate, when it is not the scope's own (what this process opened the
 * segment with or a reload set): a tier's, decided as the caller says;
 * else NULL, for the segment's. */
static const struct rate_set *tier_rates(const struct throttle_shm *ts, enum throttle_scope s, const struct rate_set *rate)
{
	const struct shm_scope *own = &ts->want.scopes[s];

	if (rate == NULL || rate->n != ts->sets[s].n)
		return NULL;
	for (uint32_t i = 0; i < rate->n; i++)
		if (shm_rate_pack(&rate->w[i]) != atomic_load_explicit(&own->w[i].rate, memory_order_relaxed))
			return rate;
	return NULL;
}

/* What an operation on one entry does under its stripe lock. */
typedef void (*entry_op)(const struct window_set *ws, struct shm_locked *l, void *arg);

/*
 * Run op on key's entry (created when create and there is room) under its
 * stripe lock, in the live mapping's shape (*ws), guarded against SIGBUS:
 * a segment that shrank under us gives its lock back and is marked broken.
 * -1 then, or when the lock or shape cannot be had.
 */
static int with_entry(struct throttle_shm *ts, enum throttle_scope s, const struct rate_set *tier, uint64_t key,
    uint64_t now_ms, int create, struct window_set *tier_ws, const struct window_set **shape, entry_op op, void *arg)
{
	const struct window_set *ws;
	struct shm_locked l;
	sigjmp_buf env;

	if (sigsetjmp(env, 0) != 0)
		return sigbus_caught(ts);
	sigbus_guard = &env;
	/* A tier's set is made here (into tier_ws); the scope's own is this
	 * thread's copy of the segment's. */
	if (tier != NULL)
		ws = window_set_with(&ts->sets[s], tier, tier_ws) == 0 ? tier_ws : NULL;
	else
		ws = shape_now(ts, atomic_load_explicit(&ts->hdr, memory_order_acquire), s);
	*shape = ws;
	if (ws == NULL || shm_entry_lock(ts, ws, s, key, now_ms, create, &l) == -1) {
		sigbus_guard = NULL;
		return -1;
	}
	op(ws, &l, arg);
	shm_entry_unlock(&l);
	sigbus_guard = NULL;
	return 0;
}

struct decide_op {
	uint64_t now_ms;
	uint32_t spend;
	struct window_result r[RATE_WINDOWS_MAX];
	int full;
	int created;
};

static void decide_on_entry(const struct window_set *ws, struct shm_locked *l, void *arg)
{
	struct decide_op *d = arg;

	decide_locked(ws, l, d->now_ms, d->spend, d->r, &d->full);
	d->created = l->created;
}

/* A decision's figures, window by window, then its summary. */
static void decision_fill(const struct window_set *ws, const struct decide_op *d, struct throttle_decision *out)
{
	out->full = d->full;
	out->nwindows = ws->n;
	out->spent = 0;
	for (uint32_t i = 0; i < ws->n; i++) {
		const struct window_result *r = &d->r[i];
		out->w[i] = (struct throttle_window){ .limit = ws->w[i].limit,
			.window_s = (uint32_t)(ws->w[i].window_ms / 1000),
			.remaining = r->remaining,
			.reset_ms = r->reset_ms,
			.admitted = r->admitted };
	}
	throttle_decision_sum(out);
	if (out->admitted && d->spend)
		out->spent = d->r[0].spent_ms; /* one time in every window */
}

static int shm_decide(struct throttle *t, enum throttle_scope s, const struct rate_set *rate, uint64_t key,
    uint64_t now_ms, uint32_t spend, struct throttle_decision *out)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct decide_op d; /* r[] is written by the decision: not cleared */
	struct window_set tier_ws;
	const struct window_set *ws;

	d.now_ms = now_ms;
	d.spend = spend;
	d.full = d.created = 0;
	/* The segment's rates decide, so that every process counts alike and
	 * a reload anywhere applies everywhere; a tier's are the caller's. */
	if (!scope_has_table(ts, s) || key == 0)
		return -1;
	if (atomic_load_explicit(&ts->broken, memory_order_acquire))
		return -1;
	if (with_entry(ts, s, tier_rates(ts, s, rate), key, now_ms, spend, &tier_ws, &ws, decide_on_entry, &d) == -1)
		return -1;
	if (d.full || d.created)
		room_incident(ts, s, d.full);
	decision_fill(ws, &d, out);
	return 0;
}

static void refund_on_entry(const struct window_set *ws, struct shm_locked *l, void *arg)
{
	if (l->e != NULL)
		window_set_refund(ws, l->e, *(const uint64_t *)arg);
}

static int shm_refund(
    struct throttle *t, enum throttle_scope s, const struct rate_set *rate, uint64_t key, uint64_t spent)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct window_set tier_ws;
	const struct window_set *ws;

	if (!scope_has_table(ts, s) || key == 0 || spent == 0 || atomic_load(&ts->broken))
		return -1;
	return with_entry(ts, s, tier_rates(ts, s, rate), key, spent, 0, &tier_ws, &ws, refund_on_entry, &spent);
}

static int shm_set_rate(struct throttle *t, enum throttle_scope s, const struct rate_set *rate)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct window_set ws;
	sigjmp_buf env;

	if (!scope_has_table(ts, s) || window_set_with(&ts->sets[s], rate, &ws) == -1 ||
	    atomic_load(&ts->broken))
		return -1;
	if (sigsetjmp(env, 0) != 0)
		return sigbus_caught(ts);
	sigbus_guard = &env;
	struct shm_scope *live = &atomic_load_explicit(&ts->hdr, memory_order_acquire)->scopes[s];
	for (uint32_t i = 0; i < rate->n; i++)
		atomic_store_explicit(&live->w[i].rate, shm_rate_pack(&rate->w[i]), memory_order_relaxed);
	sigbus_guard = NULL;
	/* Kept for a re-created segment (throttle_check), and for others to
	 * be checked against. */
	for (uint32_t i = 0; i < rate->n; i++)
		atomic_store_explicit(&ts->want.scopes[s].w[i].rate, shm_rate_pack(&rate->w[i]), memory_order_relaxed);
	return 0;
}

static int shm_forget(struct throttle *t, enum throttle_scope s, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_locked l;
	sigjmp_buf env;

	if (!scope_has_table(ts, s) || key == 0 || atomic_load(&ts->broken))
		return -1;
	/* keygate quota reset: guarded as a decision is (another process may
	 * truncate the segment under it). */
	if (sigsetjmp(env, 0) != 0)
		return sigbus_caught(ts);
	sigbus_guard = &env;
	if (shm_entry_lock(ts, &ts->sets[s], s, key, 0, 0, &l) == -1) {
		sigbus_guard = NULL;
		return -1;
	}
	if (l.e != NULL) /* keep the key in its slot: later keys probe past it */
		window_set_reset(&ts->sets[s], l.e, key);
	shm_entry_unlock(&l);
	sigbus_guard = NULL;
	return 0;
}

static int shm_stats(const struct throttle *t, enum throttle_scope s, struct throttle_stats *out)
{
	struct throttle_shm *ts = (struct throttle_shm *)(uintptr_t)t;
	sigjmp_buf env;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || atomic_load(&ts->broken))
		return -1;
	if (sigsetjmp(env, 0) != 0)
		return sigbus_caught(ts);
	sigbus_guard = &env;
	struct shm_scope *sc = &atomic_load_explicit(&ts->hdr, memory_order_acquire)->scopes[s];
	out->capacity = (uint64_t)sc->nstripes * sc->stripe_slots;
	out->used = atomic_load_explicit(&sc->used, memory_order_relaxed);
	out->full = atomic_load_explicit(&sc->full, memory_order_relaxed);
	out->recoveries = atomic_load_explicit(&sc->recoveries, memory_order_relaxed);
	sigbus_guard = NULL;
	return 0;
}

static uint64_t shm_key_addr(const struct throttle *t, const uint8_t addr[16])
{
	struct throttle_shm *ts = (struct throttle_shm *)(uintptr_t)t;
	uint64_t k, key[2];

	/* Keyed (per segment): nobody can aim addresses at one stripe. A
	 * re-created segment has a new key, and its windows are new too. */
	key[0] = atomic_load_explicit(&ts->hash_key[0], memory_order_relaxed);
	key[1] = atomic_load_explicit(&ts->hash_key[1], memory_order_relaxed);
	crypto_shorthash((unsigned char *)&k, addr, 16, (const unsigned char *)key);
	return k != 0 ? k : 1;
}

static int shm_healthy(const struct throttle *t)
{
	struct throttle_shm *ts = (struct throttle_shm *)(uintptr_t)t;
	return atomic_load_explicit(&ts->broken, memory_order_acquire) ? -1 : 0;
}

static void copy_hash_key(struct throttle_shm *ts, const struct shm_header *h)
{
	uint64_t key[2];
	memcpy(key, h->hash_key, sizeof(key));
	atomic_store_explicit(&ts->hash_key[0], key[0], memory_order_relaxed);
	atomic_store_explicit(&ts->hash_key[1], key[1], memory_order_relaxed);
}

/* Main thread, every second: notice a segment removed, replaced or
 * truncated; then re-create or re-attach it by name. */
static int shm_check(struct throttle *t)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	char why[256], err[512];
	struct shm_segment fresh;

	int intact = shm_segment_intact(&ts->seg, ts->name, why, sizeof(why)) == 0;
	if (intact && !atomic_load(&ts->broken))
		return 0;
	atomic_store_explicit(&ts->broken, 1, memory_order_release);
	if (!ts->reported) {
		if (intact) /* a decision met SIGBUS, yet the file looks whole */
			snprintf(why, sizeof(why), "shared memory %s failed under a decision", ts->name);
		log_warnx("throttle: %s; throttled requests get [throttle] on_error until it is back", why);
		ts->reported = 1;
	}
	if (ts->nretired == RETIRED_MAX)
		return -1; /* give up: something keeps destroying it */
	/* No waiting here: this is the thread that takes signals. */
	if (shm_segment_open(ts->name, &ts->want, 0, &fresh, err, sizeof(err)) == -1) {
		if (strcmp(err, ts->last_err) != 0) /* once per distinct cause */
			log_warnx("throttle: cannot re-attach: %s", err);
		snprintf(ts->last_err, sizeof(ts->last_err), "%s", err);
		return -1;
	}
	ts->last_err[0] = '\0';
	ts->reported = 0;
	/* The old mapping stays: a decision may still be using it. */
	ts->retired[ts->nretired++] = ts->seg;
	ts->seg = fresh;
	copy_hash_key(ts, fresh.h);
	atomic_store_explicit(&ts->hdr, fresh.h, memory_order_release);
	atomic_store_explicit(&ts->broken, 0, memory_order_release);
	log_warnx("throttle: shared memory %s is back (re-attached); windows start afresh", ts->name);
	return 0;
}

static void shm_close(struct throttle *t)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	/* The segment stays: windows outlive a restart. */
	for (int i = 0; i < ts->nretired; i++)
		shm_segment_close(&ts->retired[i]);
	shm_segment_close(&ts->seg);
	free(ts);
}

static const struct throttle_ops shm_ops = {
	.decide = shm_decide,
	.fits = shm_fits,
	.refund = shm_refund,
	.set_rate = shm_set_rate,
	.forget = shm_forget,
	.stats = shm_stats,
	.check = shm_check,
	.healthy = shm_healthy,
	.key_addr = shm_key_addr,
	.close = shm_close,
};

struct throttle *throttle_shm_open(const struct config *cfg, char *err, size_t errlen)
{
	struct throttle_shm *ts = calloc(1, sizeof(*ts));

	if (ts == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	static atomic_ulong opens;
	ts->base.ops = &shm_ops;
	ts->capacity = cfg->capacity;
	/* Not the address: a later open may get this one's memory back. */
	ts->id = atomic_fetch_add(&opens, 1) + 1;
	snprintf(ts->name, sizeof(ts->name), "%s", cfg->shm_name);
	if (shm_layout_compute(cfg, &ts->want, ts->sets, err, errlen) == -1) {
		free(ts);
		return NULL;
	}
	if (shm_segment_open(ts->name, &ts->want, ATTACH_WAIT_MS, &ts->seg, err, errlen) == -1) {
		free(ts);
		return NULL;
	}
	atomic_init(&ts->hdr, ts->seg.h);
	atomic_init(&ts->broken, 0);
	copy_hash_key(ts, ts->seg.h);
	sigbus_install();
	return &ts->base;
}

size_t throttle_shm_size(const struct throttle *t)
{
	return ((const struct throttle_shm *)t)->seg.size;
}

uint32_t throttle_shm_entry_size(const struct throttle *t, enum throttle_scope scope)
{
	return ((const struct throttle_shm *)t)->sets[scope].entry_size;
}

uint64_t throttle_shm_recoveries(const struct throttle *t)
{
	struct throttle_stats st;
	uint64_t n = 0;
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++)
		if (shm_stats(t, (enum throttle_scope)s, &st) == 0)
			n += st.recoveries;
	return n;
}

void throttle_shm_hold_lock_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_header *h = ts->seg.h;
	struct shm_place p;
	shm_place(ts, &h->scopes[scope], key, &p);
	shm_stripe_enter(ts, h, scope, p.stripe);
}

int throttle_shm_lock_free_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_header *h = ts->seg.h;
	struct shm_place p;
	shm_place(ts, &h->scopes[scope], key, &p);
	pthread_mutex_t *m = &stripe_lock(h, &h->scopes[scope], p.stripe)->mutex;
	int rc = pthread_mutex_trylock(m);
	if (rc == 0 || rc == EOWNERDEAD) {
		if (rc == EOWNERDEAD)
			pthread_mutex_consistent(m);
		pthread_mutex_unlock(m);
		return 1;
	}
	return 0;
}

uint64_t throttle_shm_break_cluster_for_test(struct throttle *t, enum throttle_scope scope)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_header *h = ts->seg.h;
	struct shm_scope *sc = &h->scopes[scope];

	for (uint32_t stripe = 0; stripe < sc->nstripes; stripe++) {
		for (uint32_t i = 0; i < sc->stripe_slots; i++) {
			struct window_entry *e = entry_at(h, sc, stripe, i);
			if (e->key == 0)
				continue;
			uint32_t home = shm_home_slot(ts, sc, e->key);
			if (home == i)
				continue;
			uint64_t key = e->key;
			shm_stripe_enter(ts, h, scope, stripe);
			entry_at(h, sc, stripe, home)->key = 0; /* a shift's first step */
			return key;
		}
	}
	return 0;
}

uint32_t throttle_shm_home_stripe_for_test(const struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	struct shm_place p;
	shm_place(ts, &ts->seg.h->scopes[scope], key, &p);
	return p.stripe;
}
