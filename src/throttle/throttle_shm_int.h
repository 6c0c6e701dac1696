#ifndef KEYGATE_THROTTLE_SHM_INT_H
#define KEYGATE_THROTTLE_SHM_INT_H

/*
 * Internal to the shared-memory throttle (throttle_shm*.c): the segment's
 * layout; opening, checking and closing a segment (throttle_shm_segment.c);
 * a scope's table, stripe by stripe (throttle_shm_table.c). See the
 * comments at the top of throttle_shm.c and throttle_shm_table.c.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "throttle/throttle.h"
#include "throttle/throttle_window_set.h"

#define SHM_MAGIC "KGTHRTL"
#define SHM_LAYOUT 6u /* 6: several windows per scope */
#define SHM_READY 0x52454459u
/* A stripe is one lock over a small open-addressing table (linear
 * probing, placement keyed by the segment's hash key). 512 slots make a
 * stripe that overflows at 75% fill a once-in-billions event (its keys are
 * Poisson, mean 384, sd 20) while 128 locks for 65,536 keys keep threads
 * apart. */
#define STRIPE_SLOTS_MAX 512u
#define ATTACH_WAIT_MS 5000

struct shm_lock {
	alignas(64) pthread_mutex_t mutex;
};

/* One window of a scope's entries. */
struct shm_window {
	uint32_t slots; /* ring times or bucket counters */
	uint32_t bucketed;
	uint64_t bucket_ms; /* bucketed: the width the counters were laid out for */
	/* The rate every process decides by (shm_rate_pack): set by the
	 * creator, checked by every process that attaches, changed by a
	 * reload (throttle_set_rate). */
	_Atomic uint64_t rate;
};

struct shm_scope {
	uint32_t nwindows;
	uint32_t entry_size; /* all windows' entries, side by side */
	uint32_t nstripes;
	uint32_t stripe_slots;
	uint64_t locks_off;
	uint64_t table_off;
	struct shm_window w[RATE_WINDOWS_MAX];
	_Atomic uint64_t full; /* requests refused: no room at all */
	_Atomic uint64_t recoveries; /* stripes repaired after a dead holder */
	_Atomic uint64_t used; /* slots that hold a key */
};

struct shm_header {
	char magic[8];
	uint32_t layout;
	_Atomic uint32_t state;
	uint64_t size;
	uint64_t capacity;
	char boot_id[40];
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	struct shm_scope scopes[SCOPE_COUNT];
};

/* One mapping of a segment, and what identifies the file it maps. */
struct shm_segment {
	struct shm_header *h;
	size_t size;
	dev_t dev;
	ino_t ino;
};

struct config;

/* The header (and window sets, sized for every tier) this configuration
 * wants: 0, or -1 with err. */
int shm_layout_compute(
    const struct config *cfg, struct shm_header *h, struct window_set *sets, char *err, size_t errlen);

/* Create the named segment laid out as want, or attach to it and check
 * that its layout is want's, waiting up to wait_ms for its creator to
 * finish. 0, or -1 with the reason in err. */
int shm_segment_open(
    const char *name, const struct shm_header *want, long wait_ms, struct shm_segment *out, char *err, size_t errlen);
void shm_segment_close(struct shm_segment *seg);

/* Whether the name still holds this very segment, whole: 0, or -1 with
 * why (removed, replaced, truncated). For a periodic check. */
int shm_segment_intact(const struct shm_segment *seg, const char *name, char *why, size_t len);

/* N and W (seconds) in one word, so that a decision reads them at once. */
static inline uint64_t shm_rate_pack(const struct rate *r)
{
	return (uint64_t)r->limit << 32 | r->window_s;
}

static inline struct rate shm_rate_unpack(uint64_t v)
{
	return (struct rate){ .limit = (uint32_t)(v >> 32), .window_s = (uint32_t)v };
}

static inline struct shm_lock *stripe_lock(struct shm_header *h, const struct shm_scope *sc, uint32_t stripe)
{
	return (struct shm_lock *)((char *)h + sc->locks_off) + stripe;
}

static inline struct window_entry *entry_at(
    struct shm_header *h, const struct shm_scope *sc, uint32_t stripe, uint32_t i)
{
	uint64_t idx = (uint64_t)stripe * sc->stripe_slots + i;
	return (struct window_entry *)((char *)h + sc->table_off + idx * sc->entry_size);
}

#define RETIRED_MAX 16

/* One open of the segment, the throttle handle throttle_shm.c makes; the
 * table (throttle_shm_table.c) reads its hash key and window sets. */
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

/* Where a key lives: its stripe, and its home slot in the stripe; keyed,
 * so that nobody can aim keys at one stripe. Multiply-shift, not modulo:
 * no division on the decision's path. */
struct shm_place {
	uint32_t stripe;
	uint32_t home;
};

void shm_place(const struct throttle_shm *ts, const struct shm_scope *sc, uint64_t key, struct shm_place *p);
/* The slot of its stripe a key's search starts at. */
uint32_t shm_home_slot(const struct throttle_shm *ts, const struct shm_scope *sc, uint64_t key);

/* Take stripe's lock (repairing the stripe if its holder died) and note
 * it as this thread's: 0, or -1 when it cannot be had. */
int shm_stripe_enter(struct throttle_shm *ts, struct shm_header *h, enum throttle_scope s, uint32_t stripe);
void shm_stripe_leave(pthread_mutex_t *m);
/* The stripe lock this thread holds, if any (else NULL), no longer noted
 * as held: after a SIGBUS, for the caller to unlock under its guard. */
pthread_mutex_t *shm_stripe_abandon(void);

/* The entry of key under its stripe lock, in the live mapping. */
struct shm_locked {
	struct shm_header *h;
	struct shm_scope *sc;
	struct shm_place p;
	struct window_entry *e;
	uint64_t wait_ms;
	int created; /* e was given to the key just now */
};

/* Lock key's stripe in the live mapping and find its entry (given the
 * empty slot its search ends at when create; e NULL when it has none and
 * cannot have one, wait_ms then the time until a live window there
 * expires). 0, or -1 when the lock cannot be had. */
int shm_entry_lock(struct throttle_shm *ts, const struct window_set *ws, enum throttle_scope s, uint64_t key,
    uint64_t now, int create, struct shm_locked *l);
void shm_entry_unlock(struct shm_locked *l);

#endif
