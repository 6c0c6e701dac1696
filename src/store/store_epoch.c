/*
 * store_epoch.c: the epochs the caches are kept under (see
 * store_epoch.h for what they mean and why they hold).
 *
 * Order, for a reader: the epoch is loaded before the data it guards is
 * read, so data read before a change is kept under the epoch that the
 * change's bump (hint or truth row) leaves behind. A writer's bump of the
 * hint follows its commit; the truth row commits with the change itself.
 */
#include "store/store_epoch.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "base/log.h"
#include "lib/mix64.h"

#define HINT_BYTES (STORE_EPOCH_HINTS * sizeof(uint32_t))

/* One thread's view of the truth. */
struct rows {
	uint64_t read_ms; /* when n was read; 0: never */
	int ok; /* the last read succeeded */
	uint64_t n[STORE_EPOCH_ROWS];
};

static _Atomic uint32_t *map_shared(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	/* Processes opening it at once all set the same size: no race. */
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    ((size_t)st.st_size < HINT_BYTES && ftruncate(fd, (off_t)HINT_BYTES) == -1)) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	void *p = mmap(NULL, HINT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int store_epoch_open(struct store_epoch *e, const char *shared, int (*read)(struct store *, uint64_t *))
{
	memset(e, 0, sizeof(*e));
	e->read = read;
	if (shared != NULL && (e->hint = map_shared(shared)) != NULL)
		e->mapped = 1;
	else if (shared != NULL)
		log_warn("database: %s: other processes' changes reach this one's caches within %u ms only", shared,
		    STORE_EPOCH_CONFIRM_MS);
	if (e->hint == NULL && (e->hint = calloc(STORE_EPOCH_HINTS, sizeof(uint32_t))) == NULL)
		return -1;
	if (pthread_key_create(&e->key, free) != 0) {
		store_epoch_close(e);
		return -1;
	}
	e->has_key = 1;
	return 0;
}

void store_epoch_close(struct store_epoch *e)
{
	if (e->has_key) {
		free(pthread_getspecific(e->key));
		pthread_setspecific(e->key, NULL);
		pthread_key_delete(e->key);
	}
	if (e->mapped)
		munmap((void *)(uintptr_t)e->hint, HINT_BYTES);
	else
		free((void *)(uintptr_t)e->hint);
	memset(e, 0, sizeof(*e));
}

unsigned store_epoch_book_slot(int64_t author)
{
	return 1u + (unsigned)(mix64((uint64_t)author) % (STORE_EPOCH_HINTS - 1u));
}

void store_epoch_keys_changed(struct store_epoch *e)
{
	if (e->hint != NULL)
		atomic_fetch_add_explicit(&e->hint[0], 1, memory_order_release);
}

void store_epoch_books_changed(struct store_epoch *e, int64_t author)
{
	if (e->hint != NULL)
		atomic_fetch_add_explicit(&e->hint[store_epoch_book_slot(author)], 1, memory_order_release);
}

/* This thread's truth rows, read again when STORE_EPOCH_CONFIRM_MS old;
 * NULL when they cannot be read. */
static const struct rows *rows_now(struct store_epoch *e, struct store *st)
{
	struct rows *r = pthread_getspecific(e->key);
	uint64_t now = clock_coarse_ms() + 1u; /* never 0, which read_ms keeps for "never read" */

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL || pthread_setspecific(e->key, r) != 0) {
			free(r);
			return NULL;
		}
	}
	if (r->read_ms == 0 || now - r->read_ms >= STORE_EPOCH_CONFIRM_MS || !r->ok) {
		r->ok = e->read(st, r->n) == 0;
		r->read_ms = now;
	}
	return r->ok ? r : NULL;
}

/* The truth row's count in the high half, the hint in the low, plus one
 * so that 0 stays "keep nothing": equal epochs mean neither moved (a count
 * would need 2^32 changes within one confirmation to come round). */
static uint64_t combine(uint64_t row, uint32_t hint)
{
	return ((row << 32) | hint) + 1;
}

uint64_t store_epoch_keys(struct store_epoch *e, struct store *st)
{
	/* The hint first: see the order at the top. */
	uint32_t h = atomic_load_explicit(&e->hint[0], memory_order_acquire);
	const struct rows *r = rows_now(e, st);
	return r != NULL ? combine(r->n[0], h) : 0;
}

uint64_t store_epoch_books(struct store_epoch *e, struct store *st, int64_t author)
{
	uint32_t h = atomic_load_explicit(&e->hint[store_epoch_book_slot(author)], memory_order_acquire);
	const struct rows *r = rows_now(e, st);
	return r != NULL ? combine(r->n[(uint64_t)author % STORE_EPOCH_BOOK_ROWS + 1], h) : 0;
}
