/*
 * throttle_shm.c: the rate-limit windows in a POSIX shared-memory segment.
 *
 * Layout: a header (magic, layout version, size, capacity, boot id, the
 * hash key, and per scope its rate and table geometry), then per scope an
 * array of stripe locks and a table of fixed-size entries
 * (throttle_window.h). Entry size depends on the scope's rate, so the
 * header records the rates, and a segment made for other rates is refused.
 *
 * THREAD SAFETY (threads and processes): each scope's table is split in
 * stripes of stripe_slots entries; a stripe's entries are read and written
 * only under its lock, a robust process-shared mutex. A process that dies
 * holding one leaves it EOWNERDEAD: the next locker repairs that stripe's
 * entries (window_repair) and marks the mutex consistent. One lock is held
 * at a time, never nested. The header is written once by the creator before
 * `state` is set READY (release) and only read afterwards (acquire); the
 * counters in it are atomics.
 *
 * Times are CLOCK_MONOTONIC milliseconds, valid for the life of the segment
 * since /dev/shm and the monotonic clock both end at reboot; the boot id in
 * the header guards against a segment that somehow survived one.
 */
#include "throttle_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "throttle_window.h"

#define SHM_MAGIC "KGTHRTL"
#define SHM_LAYOUT 2u
#define SHM_READY 0x52454459u
#define STRIPES_MAX 256u
#define STRIPE_MIN_SLOTS 16u
#define PROBE_MAX 16u
#define ATTACH_WAIT_MS 5000

struct shm_lock {
	alignas(64) pthread_mutex_t mutex;
};

struct shm_scope {
	uint32_t slots;      /* ring times or bucket counters per entry */
	uint32_t bucketed;
	uint64_t bucket_ms;  /* bucketed: the width the counters were laid out for */
	uint32_t entry_size;
	uint32_t nstripes;
	uint32_t stripe_slots;
	uint64_t locks_off;
	uint64_t table_off;
	_Atomic uint64_t evictions;  /* live windows dropped to make room */
	_Atomic uint64_t full;       /* requests refused: no room at all */
	_Atomic uint64_t recoveries; /* stripes repaired after a dead holder */
	_Atomic uint64_t used;       /* entries ever given a key (slots never empty again) */
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

struct throttle_shm {
	struct throttle base;
	struct shm_header *hdr;
	size_t size;
	struct window_shape shapes[SCOPE_COUNT];
};

static void read_boot_id(char out[40])
{
	memset(out, 0, 40);
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f == NULL)
		return;
	if (fgets(out, 40, f) != NULL)
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The header this configuration wants: geometry and total size. */
static void layout_compute(const struct config *cfg, struct shm_header *h, struct window_shape *shapes)
{
	uint64_t off = (sizeof(*h) + 63) & ~(uint64_t)63;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SHM_MAGIC, sizeof(h->magic));
	h->layout = SHM_LAYOUT;
	h->capacity = cfg->capacity;
	read_boot_id(h->boot_id);
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
		struct shm_scope *sc = &h->scopes[s];
		struct window_shape *ws = &shapes[s];
		window_shape_init(ws, throttle_rate(cfg, (enum throttle_scope)s));
		sc->slots = ws->slots;
		sc->bucketed = (uint32_t)ws->bucketed;
		sc->bucket_ms = ws->bucket_ms;
		sc->entry_size = ws->entry_size;
		sc->nstripes = cfg->capacity / STRIPE_MIN_SLOTS;
		if (sc->nstripes > STRIPES_MAX)
			sc->nstripes = STRIPES_MAX;
		if (sc->nstripes == 0)
			sc->nstripes = 1;
		sc->stripe_slots = (cfg->capacity + sc->nstripes - 1) / sc->nstripes;
		sc->locks_off = off;
		off += (uint64_t)sc->nstripes * sizeof(struct shm_lock);
		sc->table_off = off;
		off += (uint64_t)sc->nstripes * sc->stripe_slots * sc->entry_size;
		off = (off + 63) & ~(uint64_t)63;
	}
	h->size = off;
}

static struct shm_lock *stripe_lock(struct shm_header *h, const struct shm_scope *sc, uint32_t stripe)
{
	return (struct shm_lock *)((char *)h + sc->locks_off) + stripe;
}

static struct window_entry *entry_at(struct shm_header *h, const struct shm_scope *sc, uint32_t stripe, uint32_t i)
{
	uint64_t idx = (uint64_t)stripe * sc->stripe_slots + i;
	return (struct window_entry *)((char *)h + sc->table_off + idx * sc->entry_size);
}

static int init_locks(struct shm_header *h)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++)
		for (uint32_t i = 0; i < h->scopes[s].nstripes; i++)
			if (pthread_mutex_init(&stripe_lock(h, &h->scopes[s], i)->mutex, &attr) != 0) {
				pthread_mutexattr_destroy(&attr);
				return -1;
			}
	pthread_mutexattr_destroy(&attr);
	return 0;
}

/* A new segment: size it (failing now, not with SIGBUS later, when tmpfs
 * is too small), then lay it out and publish it. */
static struct shm_header *segment_create(int fd, const struct shm_header *want, char *err, size_t errlen)
{
	int rc;
	if (ftruncate(fd, (off_t)want->size) == -1) {
		snprintf(err, errlen, "cannot size the segment: %s", strerror(errno));
		return NULL;
	}
	if ((rc = posix_fallocate(fd, 0, (off_t)want->size)) != 0) {
		snprintf(err, errlen, "cannot reserve %llu bytes of shared memory: %s (too small a /dev/shm? "
				      "docker run --shm-size)", (unsigned long long)want->size, strerror(rc));
		return NULL;
	}
	struct shm_header *h = mmap(NULL, want->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return NULL;
	}
	memcpy(h, want, sizeof(*h));
	atomic_store_explicit(&h->state, 0, memory_order_relaxed);
	randombytes_buf(h->hash_key, sizeof(h->hash_key));
	if (init_locks(h) == -1) {
		snprintf(err, errlen, "cannot initialise the segment's locks");
		munmap(h, want->size);
		return NULL;
	}
	atomic_store_explicit(&h->state, SHM_READY, memory_order_release);
	return h;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Why an existing header does not fit this configuration, or NULL. */
static const char *header_mismatch(const struct shm_header *have, const struct shm_header *want, char *buf, size_t len)
{
	if (memcmp(have->magic, SHM_MAGIC, sizeof(have->magic)) != 0)
		return "it is not a keygate throttle segment";
	if (have->layout != want->layout) {
		snprintf(buf, len, "it has layout version %u, this keygate uses %u", have->layout, want->layout);
		return buf;
	}
	if (strcmp(have->boot_id, want->boot_id) != 0)
		return "it was made before the last reboot";
	if (have->capacity != want->capacity) {
		snprintf(buf, len, "it was made for capacity %llu, this configuration says %llu",
		    (unsigned long long)have->capacity, (unsigned long long)want->capacity);
		return buf;
	}
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
		const struct shm_scope *a = &have->scopes[s], *b = &want->scopes[s];
		const char *name = throttle_scope_name((enum throttle_scope)s);
		if (a->bucketed != b->bucketed || a->slots != b->slots || a->bucket_ms != b->bucket_ms) {
			if (!a->bucketed && !b->bucketed)
				snprintf(buf, len, "its %s entries hold %u times; this %s rate needs %u", name, a->slots,
				    name, b->slots);
			else
				snprintf(buf, len, "its %s entries are laid out for another kind of %s rate", name, name);
			return buf;
		}
		if (a->entry_size != b->entry_size || a->nstripes != b->nstripes || a->stripe_slots != b->stripe_slots ||
		    a->table_off != b->table_off) {
			snprintf(buf, len, "its %s table has another geometry", name);
			return buf;
		}
	}
	if (have->size != want->size)
		return "its size differs";
	return NULL;
}

/* Whether a header being written could still become ours: zeros, or our
 * magic (in part) followed by zeros. */
static int magic_so_far(const char magic[8])
{
	int i = 0;
	while (i < 8 && magic[i] == SHM_MAGIC[i] && magic[i] != '\0')
		i++;
	for (; i < 8; i++)
		if (magic[i] != '\0')
			return 0;
	return 1;
}

static struct shm_header *segment_attach(int fd, const struct shm_header *want, char *err, size_t errlen)
{
	struct stat st;
	char why[160];
	long waited = 0;

	/* The creator may still be sizing or initialising it. */
	for (;; waited += 10) {
		if (fstat(fd, &st) == -1) {
			snprintf(err, errlen, "fstat: %s", strerror(errno));
			return NULL;
		}
		if ((uint64_t)st.st_size >= sizeof(struct shm_header))
			break;
		if (waited >= ATTACH_WAIT_MS) {
			snprintf(err, errlen, "the segment exists but is empty (a keygate died creating it?)");
			return NULL;
		}
		sleep_ms(10);
	}
	size_t size = (size_t)st.st_size;
	struct shm_header *h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return NULL;
	}
	while (atomic_load_explicit(&h->state, memory_order_acquire) != SHM_READY) {
		if (!magic_so_far(h->magic)) {
			snprintf(err, errlen, "it is not a keygate throttle segment");
			goto fail;
		}
		if (waited >= ATTACH_WAIT_MS) {
			snprintf(err, errlen, "the segment was never initialised (a keygate died creating it?)");
			goto fail;
		}
		sleep_ms(10);
		waited += 10;
	}
	const char *bad = header_mismatch(h, want, why, sizeof(why));
	if (bad == NULL && size != want->size)
		bad = "its size differs";
	if (bad != NULL) {
		snprintf(err, errlen, "%s", bad);
		goto fail;
	}
	return h;
fail:
	munmap(h, size);
	return NULL;
}

/* Mix the key so that user ids 1, 2, 3... spread over stripes and slots. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static int stripe_enter(struct throttle_shm *ts, enum throttle_scope s, uint32_t stripe)
{
	struct shm_header *h = ts->hdr;
	struct shm_scope *sc = &h->scopes[s];
	pthread_mutex_t *m = &stripe_lock(h, sc, stripe)->mutex;

	int rc = pthread_mutex_lock(m);
	if (rc == EOWNERDEAD) {
		/* Its holder died mid-update: make every entry consistent. */
		int fixed = 0;
		for (uint32_t i = 0; i < sc->stripe_slots; i++)
			fixed += window_repair(&ts->shapes[s], entry_at(h, sc, stripe, i));
		pthread_mutex_consistent(m);
		atomic_fetch_add_explicit(&sc->recoveries, 1, memory_order_relaxed);
		log_warnx("throttle: a process died holding a %s lock; recovered (%d entries repaired)",
		    throttle_scope_name(s), fixed);
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

/*
 * Find key's entry in its stripe, or make one: an unused slot, else one
 * whose window has expired, else the least recently used that is not
 * refusing anyone (its window is forgotten: counted in `evictions`). A key
 * being refused is never evicted. NULL when every candidate is refusing.
 */
static struct window_entry *entry_find(struct throttle_shm *ts, const struct window_shape *ws,
    enum throttle_scope s, uint32_t stripe, uint32_t start, uint64_t key, uint64_t now, int create, uint64_t *wait_ms)
{
	struct shm_scope *sc = &ts->hdr->scopes[s];
	struct window_entry *empty = NULL, *expired = NULL, *lru = NULL;
	uint32_t probe = sc->stripe_slots < PROBE_MAX ? sc->stripe_slots : PROBE_MAX;

	*wait_ms = UINT64_MAX;
	for (uint32_t i = 0; i < probe; i++) {
		struct window_entry *e = entry_at(ts->hdr, sc, stripe, (start + i) % sc->stripe_slots);
		if (e->key == key)
			return e;
		if (e->key == 0) {
			empty = e; /* slots are never emptied: key cannot be further on */
			break;
		}
		if (expired == NULL && window_expired(ws, e, now))
			expired = e;
		else if (now >= e->blocked_until && (lru == NULL || e->last_ms < lru->last_ms))
			lru = e;
		else if (e->blocked_until > now && e->blocked_until - now < *wait_ms)
			*wait_ms = e->blocked_until - now;
	}
	if (!create)
		return NULL;
	struct window_entry *e = empty != NULL ? empty : expired != NULL ? expired : lru;
	if (e == NULL)
		return NULL;
	if (e == empty)
		atomic_fetch_add_explicit(&sc->used, 1, memory_order_relaxed);
	else if (e == lru && expired == NULL)
		atomic_fetch_add_explicit(&sc->evictions, 1, memory_order_relaxed);
	window_reset(ws, e, key);
	return e;
}

static int shm_fits(const struct throttle *t, enum throttle_scope s, const struct rate *rate)
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	struct window_shape ws;
	return window_shape_with(&ts->shapes[s], rate, &ws);
}

static int shm_decide(struct throttle *t, enum throttle_scope s, const struct rate *rate, uint64_t key,
    uint64_t now_ms, int spend, struct throttle_decision *out)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct window_shape shape;
	const struct window_shape *ws = &shape;
	struct window_result r;
	uint64_t h = mix(key), wait_ms;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || key == 0 || window_shape_with(&ts->shapes[s], rate, &shape) == -1)
		return -1;
	struct shm_scope *sc = &ts->hdr->scopes[s];
	uint32_t stripe = (uint32_t)(h % sc->nstripes);
	if (stripe_enter(ts, s, stripe) == -1)
		return -1;
	struct window_entry *e =
	    entry_find(ts, ws, s, stripe, (uint32_t)((h >> 32) % sc->stripe_slots), key, now_ms, spend, &wait_ms);
	if (e != NULL) {
		window_decide(ws, e, now_ms, spend, &r);
	} else if (!spend) { /* never seen: the whole quota */
		r = (struct window_result){ .admitted = 1, .remaining = ws->limit, .reset_ms = 0 };
	} else { /* no room: refuse rather than forget a refused key */
		atomic_fetch_add_explicit(&sc->full, 1, memory_order_relaxed);
		r = (struct window_result){ .admitted = 0, .remaining = 0,
			.reset_ms = wait_ms == UINT64_MAX ? 1000 : wait_ms };
	}
	pthread_mutex_unlock(&stripe_lock(ts->hdr, sc, stripe)->mutex);
	out->admitted = r.admitted;
	out->limit = rate->limit;
	out->window_s = rate->window_s;
	out->remaining = r.remaining;
	out->reset_ms = r.reset_ms;
	return 0;
}

static int shm_forget(struct throttle *t, enum throttle_scope s, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	uint64_t h = mix(key), wait_ms;

	if (s <= SCOPE_NONE || s >= SCOPE_COUNT || key == 0)
		return -1;
	struct shm_scope *sc = &ts->hdr->scopes[s];
	uint32_t stripe = (uint32_t)(h % sc->nstripes);
	if (stripe_enter(ts, s, stripe) == -1)
		return -1;
	struct window_entry *e = entry_find(ts, &ts->shapes[s], s, stripe, (uint32_t)((h >> 32) % sc->stripe_slots),
	    key, 0, 0, &wait_ms);
	if (e != NULL) /* keep the key in its slot: later keys probe past it */
		window_reset(&ts->shapes[s], e, key);
	pthread_mutex_unlock(&stripe_lock(ts->hdr, sc, stripe)->mutex);
	return 0;
}

static int shm_stats(const struct throttle *t, enum throttle_scope s, struct throttle_stats *out)
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	if (s <= SCOPE_NONE || s >= SCOPE_COUNT)
		return -1;
	struct shm_scope *sc = &ts->hdr->scopes[s];
	out->capacity = (uint64_t)sc->nstripes * sc->stripe_slots;
	out->used = atomic_load_explicit(&sc->used, memory_order_relaxed);
	out->evictions = atomic_load_explicit(&sc->evictions, memory_order_relaxed);
	out->full = atomic_load_explicit(&sc->full, memory_order_relaxed);
	out->recoveries = atomic_load_explicit(&sc->recoveries, memory_order_relaxed);
	return 0;
}

static uint64_t shm_key_addr(const struct throttle *t, const uint8_t addr[16])
{
	const struct throttle_shm *ts = (const struct throttle_shm *)t;
	uint64_t k;

	/* Keyed (per segment): nobody can aim addresses at one stripe. */
	crypto_shorthash((unsigned char *)&k, addr, 16, ts->hdr->hash_key);
	return k != 0 ? k : 1;
}

static void shm_close(struct throttle *t)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	/* The segment stays: windows outlive a restart. */
	munmap(ts->hdr, ts->size);
	free(ts);
}

static const struct throttle_ops shm_ops = {
	.decide = shm_decide,
	.fits = shm_fits,
	.forget = shm_forget,
	.stats = shm_stats,
	.key_addr = shm_key_addr,
	.close = shm_close,
};

struct throttle *throttle_shm_open(const struct config *cfg, char *err, size_t errlen)
{
	struct throttle_shm *ts = calloc(1, sizeof(*ts));
	struct shm_header want;
	char why[256];

	if (ts == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ts->base.ops = &shm_ops;
	layout_compute(cfg, &want, ts->shapes);
	int created = 1;
	int fd = shm_open(cfg->shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST) {
		created = 0;
		fd = shm_open(cfg->shm_name, O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd == -1) {
		snprintf(err, errlen, "shared memory %s: %s", cfg->shm_name, strerror(errno));
		free(ts);
		return NULL;
	}
	ts->hdr = created ? segment_create(fd, &want, why, sizeof(why)) : segment_attach(fd, &want, why, sizeof(why));
	close(fd);
	if (ts->hdr == NULL) {
		if (created)
			shm_unlink(cfg->shm_name);
		if (created)
			snprintf(err, errlen, "shared memory %s: %s", cfg->shm_name, why);
		else
			snprintf(err, errlen,
			    "shared memory %s: %s; stop the keygate processes using it and remove it "
			    "(rm /dev/shm%s), or set [throttle] shm_name",
			    cfg->shm_name, why, cfg->shm_name);
		free(ts);
		return NULL;
	}
	ts->size = want.size;
	return &ts->base;
}

size_t throttle_shm_size(const struct throttle *t) { return ((const struct throttle_shm *)t)->size; }

uint32_t throttle_shm_entry_size(const struct throttle *t, enum throttle_scope scope)
{
	return ((const struct throttle_shm *)t)->shapes[scope].entry_size;
}

uint64_t throttle_shm_recoveries(const struct throttle *t)
{
	const struct shm_header *h = ((const struct throttle_shm *)t)->hdr;
	uint64_t n = 0;
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++)
		n += atomic_load_explicit(&h->scopes[s].recoveries, memory_order_relaxed);
	return n;
}

void throttle_shm_hold_lock_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	struct throttle_shm *ts = (struct throttle_shm *)t;
	struct shm_scope *sc = &ts->hdr->scopes[scope];
	stripe_enter(ts, scope, (uint32_t)(mix(key) % sc->nstripes));
}
