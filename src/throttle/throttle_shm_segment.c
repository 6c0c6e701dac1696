/*
 * throttle_shm_segment.c: the throttle's shared-memory segment as a file:
 * its layout, creating or attaching to it (refusing another layout), and
 * checking that it is still there and whole.
 *
 * THREAD SAFETY: called by the main thread only (start-up, and the
 * periodic check); the header is written once by the creator before
 * `state` is set READY (release) and only read afterwards (acquire).
 */
#include "throttle/throttle_shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"

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

/*
 * The entries of scope s hold every tier's windows: per window, the
 * largest N and W of the scope's own and its tiers'. -1 with err when
 * one of them cannot be decided on that layout (a tier that needs buckets
 * where the scope's own needs a ring, or buckets of another width).
 */
static int scope_layout(const struct config *cfg, enum throttle_scope s, struct window_set *set, char *err, size_t errlen)
{
	const struct rate_set *own = throttle_rate(cfg, s);
	struct rate_set most = *own;
	struct window_set check;

	for (unsigned t = 0; t < cfg->ntiers; t++) {
		const struct rate_set *r = throttle_rate_tier(cfg, s, (int)t);
		for (uint32_t i = 0; i < most.n && r->n == most.n; i++) {
			if (r->w[i].limit > most.w[i].limit)
				most.w[i].limit = r->w[i].limit;
			if (r->w[i].window_s > most.w[i].window_s)
				most.w[i].window_s = r->w[i].window_s;
		}
	}
	window_set_init(set, &most);
	for (int t = -1; t < (int)cfg->ntiers; t++) {
		if (window_set_with(set, throttle_rate_tier(cfg, s, t), &check) == -1) {
			snprintf(err, errlen,
			    "[throttle] %s: the windows of %s%s cannot share one table with the others' (a tier may not "
			    "move a window between exact and bucketed, nor change a bucketed window's W)",
			    throttle_scope_label(cfg, s), t < 0 ? "the scope" : "tier ", t < 0 ? "" : cfg->tiers[t].name);
			return -1;
		}
	}
	return 0;
}

/* The header this configuration wants: geometry and total size. 0, or -1
 * with err. */
int shm_layout_compute(const struct config *cfg, struct shm_header *h, struct window_set *sets, char *err, size_t errlen)
{
	uint64_t off = (sizeof(*h) + 63) & ~(uint64_t)63;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SHM_MAGIC, sizeof(h->magic));
	h->layout = SHM_LAYOUT;
	h->capacity = cfg->capacity;
	read_boot_id(h->boot_id);
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
		struct shm_scope *sc = &h->scopes[s];
		const struct rate_set *rates = throttle_rate(cfg, (enum throttle_scope)s);
		if (scope_layout(cfg, (enum throttle_scope)s, &sets[s], err, errlen) == -1)
			return -1;
		sc->nwindows = sets[s].n;
		for (uint32_t i = 0; i < sets[s].n; i++) {
			const struct window_shape *ws = &sets[s].w[i];
			sc->w[i].slots = ws->slots;
			sc->w[i].bucketed = (uint32_t)ws->bucketed;
			sc->w[i].bucket_ms = ws->bucket_ms;
			atomic_init(&sc->w[i].rate, shm_rate_pack(&rates->w[i]));
		}
		sc->entry_size = sets[s].entry_size;
		if (sets[s].n == 0)
			continue; /* a [policy] not configured: no table */
		sc->nstripes = (cfg->capacity + STRIPE_SLOTS_MAX - 1) / STRIPE_SLOTS_MAX;
		sc->stripe_slots = (cfg->capacity + sc->nstripes - 1) / sc->nstripes;
		sc->locks_off = off;
		off += (uint64_t)sc->nstripes * sizeof(struct shm_lock);
		sc->table_off = off;
		off += (uint64_t)sc->nstripes * sc->stripe_slots * sc->entry_size;
		off = (off + 63) & ~(uint64_t)63;
	}
	h->size = off;
	return 0;
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
		snprintf(err, errlen,
		    "cannot reserve %llu bytes of shared memory: %s (too small a /dev/shm? "
		    "docker run --shm-size)",
		    (unsigned long long)want->size, strerror(rc));
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

/* Why one window of a scope's entries does not fit, or NULL. */
static const char *window_mismatch(
    const struct shm_window *a, const struct shm_window *b, const char *name, char *buf, size_t len)
{
	if (a->bucketed != b->bucketed || a->slots != b->slots || a->bucket_ms != b->bucket_ms) {
		if (!a->bucketed && !b->bucketed)
			snprintf(buf, len, "its %s entries hold %u times; this %s rate needs %u", name, a->slots, name,
			    b->slots);
		else
			snprintf(buf, len, "its %s entries are laid out for another kind of %s rate", name, name);
		return buf;
	}
	struct rate ra = shm_rate_unpack(atomic_load(&a->rate)), rb = shm_rate_unpack(atomic_load(&b->rate));
	if (ra.limit != rb.limit || ra.window_s != rb.window_s) {
		/* Two rates on one table would admit by the larger. */
		snprintf(buf, len,
		    "its %s windows count %u per %us and this configuration says %u per %us (every process "
		    "sharing a segment counts alike: give them one [throttle] %s)",
		    name, ra.limit, ra.window_s, rb.limit, rb.window_s, name);
		return buf;
	}
	return NULL;
}

/* Why an existing scope's table does not fit this configuration's, or NULL. */
static const char *scope_mismatch(
    const struct shm_scope *a, const struct shm_scope *b, enum throttle_scope s, char *buf, size_t len)
{
	const char *name = throttle_scope_name(s);

	if (a->nwindows != b->nwindows) {
		snprintf(buf, len, "its %s entries hold %u windows; this configuration has %u", name, a->nwindows,
		    b->nwindows);
		return buf;
	}
	for (uint32_t i = 0; i < a->nwindows && i < RATE_WINDOWS_MAX; i++) {
		const char *why = window_mismatch(&a->w[i], &b->w[i], name, buf, len);
		if (why != NULL)
			return why;
	}
	if (a->entry_size != b->entry_size || a->nstripes != b->nstripes || a->stripe_slots != b->stripe_slots ||
	    a->table_off != b->table_off) {
		snprintf(buf, len, "its %s table has another geometry", name);
		return buf;
	}
	return NULL;
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
		const char *why = scope_mismatch(&have->scopes[s], &want->scopes[s], (enum throttle_scope)s, buf, len);
		if (why != NULL)
			return why;
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

static struct shm_header *segment_attach(int fd, const struct shm_header *want, long wait_ms, char *err, size_t errlen)
{
	struct stat st;
	char why[320];
	long waited = 0;

	/* The creator may still be sizing or initialising it. */
	for (;; waited += 10) {
		if (fstat(fd, &st) == -1) {
			snprintf(err, errlen, "fstat: %s", strerror(errno));
			return NULL;
		}
		if ((uint64_t)st.st_size >= sizeof(struct shm_header))
			break;
		if (waited >= wait_ms) {
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
		if (waited >= wait_ms) {
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

/* Another user's segment (typically root's, from a keygate run once as
 * root before the service): say whose it is and exactly what to do. */
static void refused_owner(const char *name, char *err, size_t errlen)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "shared memory %s: %s", name, strerror(EACCES));
		return;
	}
	char owner[64], me[64];
	struct passwd *pw = getpwuid(st.st_uid);
	snprintf(owner, sizeof(owner), "%s", pw != NULL ? pw->pw_name : "another user");
	pw = getpwuid(geteuid());
	snprintf(me, sizeof(me), "%s", pw != NULL ? pw->pw_name : "another user");
	snprintf(err, errlen,
	    "shared memory %s: permission denied: %s belongs to %s (uid %u, mode %04o) and this keygate runs as "
	    "%s (uid %u); once no keygate uses it, remove it (rm %s) or hand it over (chown %u %s), "
	    "or give this keygate its own [throttle] shm_name",
	    name, path, owner, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), me, (unsigned)geteuid(), path,
	    (unsigned)geteuid(), path);
}

int shm_segment_open(
    const char *name, const struct shm_header *want, long wait_ms, struct shm_segment *out, char *err, size_t errlen)
{
	struct stat st;
	char why[384];
	int created = 1;

	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST) {
		created = 0;
		fd = shm_open(name, O_RDWR | O_CLOEXEC, 0600);
	}
	if (fd == -1) {
		if (errno == EACCES)
			refused_owner(name, err, errlen);
		else
			snprintf(err, errlen, "shared memory %s: %s", name, strerror(errno));
		return -1;
	}
	out->h =
	    created ? segment_create(fd, want, why, sizeof(why)) : segment_attach(fd, want, wait_ms, why, sizeof(why));
	if (out->h != NULL && fstat(fd, &st) == 0) {
		out->dev = st.st_dev;
		out->ino = st.st_ino;
	}
	close(fd);
	if (out->h == NULL) {
		if (created) {
			shm_unlink(name);
			snprintf(err, errlen, "shared memory %s: %s", name, why);
		} else {
			snprintf(err, errlen,
			    "shared memory %s: %s; stop the keygate processes using it and remove it "
			    "(rm /dev/shm%s), or set [throttle] shm_name",
			    name, why, name);
		}
		return -1;
	}
	out->size = want->size;
	return 0;
}

void shm_segment_close(struct shm_segment *seg)
{
	if (seg->h != NULL)
		munmap(seg->h, seg->size);
	seg->h = NULL;
}

int shm_segment_intact(const struct shm_segment *seg, const char *name, char *why, size_t len)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	if (stat(path, &st) == -1) {
		snprintf(why, len, "shared memory %s was removed", name);
		return -1;
	}
	if (st.st_dev != seg->dev || st.st_ino != seg->ino) {
		snprintf(why, len, "shared memory %s was replaced by another segment", name);
		return -1;
	}
	if ((uint64_t)st.st_size < seg->size) {
		snprintf(why, len, "shared memory %s was truncated to %lld bytes (of %zu)", name, (long long)st.st_size,
		    seg->size);
		return -1;
	}
	return 0;
}
