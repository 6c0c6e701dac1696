/*
 * throttle_shm.c: the rate-limit windows in a POSIX shared-memory segment.
 *
 * Layout (throttle_shm_int.h): a header (magic, layout version, size,
 * capacity, boot id, the hash key, and per scope its entry layout, table
 * geometry and rate), then per scope an array of stripe locks and a table
 * of fixed-size entries (throttle_window.h). Every decision uses the
 * segment's rate, within the layout (window_shape_with), so that every
 * process counts alike; a reload changes it for all (throttle_set_rate).
 *
 * A stripe is a small open-addressing table: a key's home slot and stripe
 * come from SipHash-1-3 of the key under the segment's hash key; a search
 * walks from home to the key or to an empty slot, deleting the expired
 * windows it meets (backward shift, so that no key is ever cut off from
 * its home). A window that holds an admission is never touched for room.
 *
 * THREAD SAFETY (threads and processes): each scope's table is split in
 * stripes of stripe_slots entries; a stripe's entries are read and written
 * only under its lock, a robust process-shared mutex. A process that dies
 * holding one leaves it EOWNERDEAD: the next locker repairs that stripe's
 * entries (window_repair) and marks the mutex consistent. One lock is held
 * at a time, never nested. Counters in the header are atomics.
 *
 * The segment can be removed or truncated under us. The main thread checks
 * it every second (throttle_check): then `broken` is set, decisions fail
 * (the caller applies [throttle] on_error), and the check re-creates or
 * re-attaches the segment by its name, publishing the new mapping through
 * `hdr` (an atomic pointer; old mappings stay mapped until close, as a
 * decision may still hold one). A decision that touches a truncated page
 * before the check notices gets SIGBUS; a handler turns that into a failed
 * decision instead of a crash.
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
#include "lib/siphash13.h"
#include "throttle/throttle_shm_int.h"

#define RETIRED_MAX 16

struct throttle_shm {
	struct throttle base;
	struct shm_header *_Atomic hdr; /* the mapping decisions use */
	atomic_int broken; /* the segment is gone: fail decisions */
	struct window_set sets[SCOPE_COUNT]; /* the layout's */
	/* Main thread only: */
	char name[64];
	struct shm_header want;
	struct shm_segment seg;
	struct shm_segment retired[RETIRED_MAX];
	int nretired;
	char last_err[512];
	int reported; /* the current incident has been logged */
	/* The live segment's hash key, copied so that hashing an address
	 * never touches shared memory. Written at open and re-attach. */
	_Atomic uint64_t hash_key[2];
	atomic_int full_incident[SCOPE_COUNT]; /* a full table was logged */
	uint64_t capacity; /* read-only after open */
	uint64_t id; /* unique to this open in the process (shape_now's cache) */
};

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

/* The stripe lock this thread holds, if any: a SIGBUS in the middle of a
 * decision must give it back (release_after_sigbus). */
static _Thread_local pthread_mutex_t *held_lock;

static void stripe_rebuild(const struct throttle_shm *ts, struct shm_header *h, struct shm_scope *sc, uint32_t stripe);

static int stripe_enter(struct throttle_shm *ts, struct shm_header *h, enum throttle_scope s, uint32_t stripe)
{
	struct shm_scope *sc = &h->scopes[s];
	pthread_mutex_t *m = &stripe_lock(h, sc, stripe)->mutex;

	int rc = pthread_mutex_lock(m);
	if (rc == EOWNERDEAD) {
		held_lock = m;
		/* Its holder died mid-update: make every entry consistent, and
		 * every key reachable again. */
		int fixed = 0;
		for (uint32_t i = 0; i < sc->stripe_slots; i++) {
			struct window_entry *e = entry_at(h, sc, stripe, i);
			if (e->key != 0)
				fixed += window_set_repair(&ts->sets[s], e);
		}
		stripe_rebuild(ts, h, sc, stripe);
		pthread_mutex_consistent(m);
		atomic_fetch_add_explicit(&sc->recoveries, 1, memory_order_relaxed);
		log_warnx("throttle: a process died holding a %s lock; recovered (%d entries repaired)",
		    throttle_scope_name(s), fixed);
		return 0;
	}
	if (rc == 0)
		held_lock = m;
	return rc == 0 ? 0 : -1;
}

static void stripe_leave(pthread_mutex_t *m)
{
	held_lock = NULL;
	pthread_mutex_unlock(m);
}

/* After a SIGBUS: unlock what the interrupted decision held (the lock
 * lives in the header's pages, which may still be there), so that no
 * other thread or process waits on it for ever. Guarded: if the lock's
 * page is gone too, there is nobody left to wait on it. */
static void release_after_sigbus(void)
{
	sigjmp_buf env;
	pthread_mutex_t *m = held_lock;

	held_lock = NULL;
	if (m == NULL)
		return;
	if (sigsetjmp(env, 0) == 0) {
		sigbus_guard = &env;
		pthread_mutex_unlock(m);
	}
	sigbus_guard = NULL;
}

/* Where a key lives: its stripe, and its home slot in the stripe; keyed,
 * so that nobody can aim keys at one stripe. Multiply-shift, not modulo:
 * no division on the decision's path. */
struct place {
	uint32_t stripe;
	uint32_t home;
};

static uint32_t scale32(uint32_t x, uint32_t n)
{
	return (uint32_t)(((uint64_t)x * n) >> 32);
}

static uint64_t place_hash(const struct throttle_shm *ts, uint64_t key)
{
	return siphash13_u64(atomic_load_explicit(&ts->hash_key[0], memory_order_relaxed),
	    atomic_load_explicit(&ts->hash_key[1], memory_order_relaxed), key);
}

static void place_of(const struct throttle_shm *ts, const struct shm_scope *sc, uint64_t key, struct place *p)
{
	uint64_t h = place_hash(ts, key);
	p->stripe = scale32((uint32_t)(h >> 32), sc->nstripes);
	p->home = scale32((uint32_t)h, sc->stripe_slots);
}

static uint32_t slot_next(const struct shm_scope *sc, uint32_t i)
{
	return i + 1 == sc->stripe_slots ? 0 : i + 1;
}

/* Steps from a to b going forward in a stripe of n slots. */
static uint32_t slot_dist(uint32_t a, uint32_t b, uint32_t n)
{
	return b >= a ? b - a : b + n - a;
}

/*
 * Place every key of the stripe again, each at the first free slot from
 * its home: after a writer died in the middle of a backward shift (which
 * empties a slot before the next move fills it), keys behind that empty
 * slot cannot be found from their homes, and their owners would be given
 * fresh windows. A key found twice (a move's copy and its original) is
 * kept once. Runs under the stripe lock, only when its holder died; the
 * stripe's entries are copied aside first (on no memory, the stripe stays
 * as it is, as before this repair existed).
 */
static void stripe_rebuild(const struct throttle_shm *ts, struct shm_header *h, struct shm_scope *sc, uint32_t stripe)
{
	size_t size = sc->entry_size;
	char *copy = malloc((size_t)sc->stripe_slots * size);

	if (copy == NULL) {
		log_warnx("throttle: no memory to rebuild a stripe a dead process left; some keys may be unreachable");
		return;
	}
	for (uint32_t i = 0; i < sc->stripe_slots; i++) {
		memcpy(copy + i * size, entry_at(h, sc, stripe, i), size);
		entry_at(h, sc, stripe, i)->key = 0;
	}
	uint32_t kept = 0, had = 0;
	for (uint32_t i = 0; i < sc->stripe_slots; i++) {
		const struct window_entry *old = (const struct window_entry *)(void *)(copy + i * size);
		if (old->key == 0)
			continue;
		had++;
		uint32_t j = scale32((uint32_t)place_hash(ts, old->key), sc->stripe_slots);
		while (entry_at(h, sc, stripe, j)->key != 0 && entry_at(h, sc, stripe, j)->key != old->key)
			j = slot_next(sc, j);
		if (entry_at(h, sc, stripe, j)->key == old->key)
			continue; /* the other copy is there already */
		memcpy(entry_at(h, sc, stripe, j), old, size);
		kept++;
	}
	free(copy);
	atomic_fetch_sub_explicit(&sc->used, had - kept, memory_order_relaxed);
}

/*
 * Empty slot i, whose window has expired, and close the gap behind it
 * (linear probing's backward shift): every key stays reachable from its
 * home without crossing an empty slot, so a search may stop at one. A
 * moved entry is written before its old slot is emptied, its key last.
 * Each step still empties a slot before the next move fills it: a writer
 * that dies midway leaves keys behind an empty slot, and the next locker
 * places the stripe again (stripe_rebuild).
 */
static void slot_delete(
    const struct throttle_shm *ts, struct shm_header *h, struct shm_scope *sc, uint32_t stripe, uint32_t i)
{
	const size_t head = offsetof(struct window_entry, last_ms);
	struct window_entry *hole = entry_at(h, sc, stripe, i);

	hole->key = 0;
	for (uint32_t j = slot_next(sc, i);; j = slot_next(sc, j)) {
		struct window_entry *e = entry_at(h, sc, stripe, j);
		if (e->key == 0)
			break;
		uint32_t home = scale32((uint32_t)place_hash(ts, e->key), sc->stripe_slots);
		if (slot_dist(home, j, sc->stripe_slots) < slot_dist(i, j, sc->stripe_slots))
			continue; /* its home lies after the hole: it stays */
		memcpy((char *)hole + head, (char *)e + head, sc->entry_size - head);
		hole->key = e->key;
		e->key = 0;
		hole = e;
		i = j;
	}
	atomic_fetch_sub_explicit(&sc->used, 1, memory_order_relaxed);
}

/*
 * Find key's entry in its stripe, or give it the empty slot its search
 * ends at. Entries whose windows have expired are deleted on the way; one
 * that still holds an admission is never touched. NULL when the key has
 * no entry and cannot have one (not create, or the stripe holds nothing
 * but live windows); then *wait_ms is the time until one of them expires.
 */
static struct window_entry *entry_find(const struct throttle_shm *ts, struct shm_header *h,
    const struct window_set *ws, enum throttle_scope s, const struct place *p, uint64_t key, uint64_t now, int create,
    uint64_t *wait_ms, int *created)
{
	struct shm_scope *sc = &h->scopes[s];
	uint32_t i = p->home, live = 0;

	*created = 0;
	*wait_ms = UINT64_MAX;
	while (live < sc->stripe_slots) {
		struct window_entry *e = entry_at(h, sc, p->stripe, i);
		if (e->key == key)
			return e;
		if (e->key == 0) {
			if (!create)
				return NULL;
			window_set_reset(ws, e, key);
			atomic_fetch_add_explicit(&sc->used, 1, memory_order_relaxed);
			*created = 1;
			return e;
		}
		uint64_t left = window_set_expires_in(ws, e, now);
		if (left == 0) {
			/* The shift may have wrapped round a full stripe and left
			 * the empty slot behind us: search again from home. Each
			 * restart follows a deletion, so there are few. */
			slot_delete(ts, h, sc, p->stripe, i);
			i = p->home;
			live = 0;
			*wait_ms = UINT64_MAX;
			continue;
		}
		if (left < *wait_ms)
			*wait_ms = left;
		live++;
		i = slot_next(sc, i);
	}
	return NULL;
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

/* The entry of key under its stripe lock, in the live mapping. */
struct locked {
	struct shm_header *h;
	struct shm_scope *sc;
	struct place p;
	struct window_entry *e;
	uint64_t wait_ms;
	int created; /* e was given to the key just now */
};

static int lock_entry(struct throttle_shm *ts, const struct window_set *ws, enum throttle_scope s, uint64_t key,
    uint64_t now, int create, struct locked *l)
{
	l->h = atomic_load_explicit(&ts->hdr, memory_order_acquire);
	l->sc = &l->h->scopes[s];
	place_of(ts, l->sc, key, &l->p);
	if (stripe_enter(ts, l->h, s, l->p.stripe) == -1)
		return -1;
	l->e = entry_find(ts, l->h, ws, s, &l->p, key, now, create, &l->wait_ms, &l->created);
	return 0;
}

static void unlock_entry(struct locked *l)
{
	stripe_leave(&stripe_lock(l->h, l->sc, l->p.stripe)->mutex);
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

static void decide_locked(const struct window_set *ws, struct locked *l, uint64_t now_ms, uint32_t spend,
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
typedef void (*entry_op)(const struct window_set *ws, struct locked *l, void *arg);

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
	struct locked l;
	sigjmp_buf env;

	if (sigsetjmp(env, 0) != 0) {
		sigbus_guard = NULL;
		release_after_sigbus();
		atomic_store_explicit(&ts->broken, 1, memory_order_release);
		return -1;
	}
	sigbus_guard = &env;
	/* A tier's set is made here (into tier_ws); the scope's own is this
	 * thread's copy of the segment's. */
	if (tier != NULL)
		ws = window_set_with(&ts->sets[s], tier, tier_ws) == 0 ? tier_ws : NULL;
	else
		ws = shape_now(ts, atomic_load_explicit(&ts->hdr, memory_order_acquire), s);
	*shape = ws;
	if (ws == NULL || lock_entry(ts, ws, s, key, now_ms, create, &l) == -1) {
		sigbus_guard = NULL;
		return -1;
	}
	op(ws, &l, arg);
	unlock_entry(&l);
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

static void decide_on_entry(const struct window_set *ws, struct locked *l, void *arg)
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

static void refund_on_entry(const struct window_set *ws, struct locked *l, void *arg)
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
	if (sigsetjmp(env, 0) != 0) {
		sigbus_guard = NULL;
		atomic_store_explicit(&ts->broken, 1, memory_order_release);
		return -1;
	}
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
	struct locked l;

	if (!scope_has_table(ts, s) || key == 0 || atomic_load(&ts->broken))
		return -1;
	if (lock_entry(ts, &ts->sets[s], s, key, 0, 0, &l) == -1)
		return -1;
	if (l.e != NULL) /* keep the key in its slot: later keys probe past it */
		window_set_reset(&ts->sets[s], l.e, key);
	unlock_entry(&l);
	return 0;
}

static int shm_stats(const struct throttle *t, enum throttle_scope s, struct throttle_stats *out)
{
	struct throttle_shm *ts = (struct throttle_shm *)(uintptr_t)t;
	sigjmp_buf env;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || atomic_load(&ts->broken))
		return -1;
	if (sigsetjmp(env, 0) != 0) {
		sigbus_guard = NULL;
		atomic_store_explicit(&ts->broken, 1, memory_order_release);
		return -1;
	}
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
	struct place p;
	place_of(ts, &h->scopes[scope], key, &p);
	stripe_enter(ts, h, scope, p.stripe);
}

int throttle_shm_lock_free_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_header *h = ts->seg.h;
	struct place p;
	place_of(ts, &h->scopes[scope], key, &p);
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
			uint32_t home = scale32((uint32_t)place_hash(ts, e->key), sc->stripe_slots);
			if (home == i)
				continue;
			uint64_t key = e->key;
			stripe_enter(ts, h, scope, stripe);
			entry_at(h, sc, stripe, home)->key = 0; /* a shift's first step */
			return key;
		}
	}
	return 0;
}

uint32_t throttle_shm_home_stripe_for_test(const struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	struct place p;
	place_of(ts, &ts->seg.h->scopes[scope], key, &p);
	return p.stripe;
}
