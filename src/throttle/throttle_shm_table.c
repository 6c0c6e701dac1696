/*
 * throttle_shm_table.c: a scope's table in the segment, stripe by stripe
 * (throttle_shm_int.h): where a key lives, finding or placing its entry,
 * deleting expired ones, and repairing a stripe whose holder died.
 *
 * A stripe is a small open-addressing table: a key's home slot and stripe
 * come from SipHash-1-3 of the key under the segment's hash key; a search
 * walks from home to the key or to an empty slot, deleting the expired
 * windows it meets (backward shift, so that no key is ever cut off from
 * its home). A window that holds an admission is never touched for room.
 *
 * THREAD SAFETY (threads and processes): a stripe's entries are read and
 * written only under its lock, a robust process-shared mutex, taken by
 * shm_stripe_enter (or shm_entry_lock) and given back by shm_stripe_leave
 * (shm_entry_unlock); every other function here runs with it held. A
 * process that dies holding one leaves it EOWNERDEAD: the next locker
 * repairs that stripe's entries (window_set_repair), places its keys
 * again (stripe_rebuild) and marks the mutex consistent. One lock is held
 * at a time per thread, never nested; which one is this thread's
 * (held_lock), for the SIGBUS guard of throttle_shm.c to give back.
 */
#include "throttle/throttle_shm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "lib/siphash13.h"

static uint32_t scale32(uint32_t x, uint32_t n)
{
	return (uint32_t)(((uint64_t)x * n) >> 32);
}

static uint64_t place_hash(const struct throttle_shm *ts, uint64_t key)
{
	return siphash13_u64(atomic_load_explicit(&ts->hash_key[0], memory_order_relaxed),
	    atomic_load_explicit(&ts->hash_key[1], memory_order_relaxed), key);
}

void shm_place(const struct throttle_shm *ts, const struct shm_scope *sc, uint64_t key, struct shm_place *p)
{
	uint64_t h = place_hash(ts, key);
	p->stripe = scale32((uint32_t)(h >> 32), sc->nstripes);
	p->home = scale32((uint32_t)h, sc->stripe_slots);
}

uint32_t shm_home_slot(const struct throttle_shm *ts, const struct shm_scope *sc, uint64_t key)
{
	return scale32((uint32_t)place_hash(ts, key), sc->stripe_slots);
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
static struct window_entry *entry_find(const struct throttle_shm *ts, struct shm_header *h, const struct window_set *ws,
    enum throttle_scope s, const struct shm_place *p, uint64_t key, uint64_t now, int create, uint64_t *wait_ms,
    int *created)
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

/* The stripe lock this thread holds, if any: a SIGBUS in the middle of a
 * decision must give it back (shm_stripe_abandon). */
static _Thread_local pthread_mutex_t *held_lock;

int shm_stripe_enter(struct throttle_shm *ts, struct shm_header *h, enum throttle_scope s, uint32_t stripe)
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

void shm_stripe_leave(pthread_mutex_t *m)
{
	held_lock = NULL;
	pthread_mutex_unlock(m);
}

pthread_mutex_t *shm_stripe_abandon(void)
{
	pthread_mutex_t *m = held_lock;

	held_lock = NULL;
	return m;
}

int shm_entry_lock(struct throttle_shm *ts, const struct window_set *ws, enum throttle_scope s, uint64_t key,
    uint64_t now, int create, struct shm_locked *l)
{
	l->h = atomic_load_explicit(&ts->hdr, memory_order_acquire);
	l->sc = &l->h->scopes[s];
	shm_place(ts, l->sc, key, &l->p);
	if (shm_stripe_enter(ts, l->h, s, l->p.stripe) == -1)
		return -1;
	l->e = entry_find(ts, l->h, ws, s, &l->p, key, now, create, &l->wait_ms, &l->created);
	return 0;
}

void shm_entry_unlock(struct shm_locked *l)
{
	shm_stripe_leave(&stripe_lock(l->h, l->sc, l->p.stripe)->mutex);
}
