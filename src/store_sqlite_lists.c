/*
 * store_sqlite_lists.c: GET /books/ replies kept per thread.
 *
 * Reading and rendering a user's list was a third of a GET's CPU (a WAL
 * read transaction, the query, SQLite's JSON functions), for a reply that
 * changes only when that user writes a book. Each thread's connection
 * keeps the lists it rendered, each under the "epoch" of its author when
 * it was read: a counter in the file <database>-lists, mapped by every
 * keygate process on the database and bumped after each commit that
 * changes an author's books. A kept list is served while its author's
 * epoch is unchanged and for at most LIST_TTL_MS (which bounds what a
 * change made outside keygate, or a writer killed between its commit and
 * its bump, can leave stale).
 *
 * Correctness rests on one order. A writer commits, then bumps; a reader
 * loads the epoch (acquire), then reads: a reader that sees the bump reads
 * after the commit, and one that does not keeps its list under the old
 * epoch, which the bump has already (or will have) made stale. A list read
 * inside a read pass comes from a snapshot that may predate the epoch
 * loaded, so it is served but never kept.
 *
 * Epochs are per slot, not per author: authors that share one of the
 * 65,536 slots only invalidate each other's lists now and then.
 *
 * THREAD SAFETY: the epoch counters are atomics in shared memory (any
 * thread, any process); each list cache belongs to one connection, so to
 * one thread.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mix64.h"
#include "store_sqlite_int.h"

#define LIST_EPOCHS 65536u /* slots in the shared file: 256 KiB */
#define LIST_SLOTS 1024u /* lists kept per thread */
#define LIST_BODY_MAX 16384u /* longer lists are rendered every time */
#define LIST_TTL_MS 1000u

struct list_entry {
	int64_t author; /* 0: empty */
	uint32_t epoch;
	uint64_t kept_ms;
	size_t len;
	char *body;
};

struct list_cache {
	struct list_entry entry[LIST_SLOTS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lists_open(struct store_sqlite *s, const struct config *cfg)
{
	char path[CONFIG_PATH_MAX + 8];
	size_t size = LIST_EPOCHS * sizeof(uint32_t);
	struct stat st;

	s->epochs = NULL;
	if (!cfg->list_cache)
		return;
	snprintf(path, sizeof(path), "%s-lists", s->path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* Processes opening it at once all set the same size: no race. */
	if (fd == -1 || fstat(fd, &st) == -1 || ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) == -1)) {
		log_warn("database: %s: keeping no book lists", path);
		if (fd != -1)
			close(fd);
		return;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("database: mmap %s: keeping no book lists", path);
		return;
	}
	s->epochs = p;
}

void lists_close(struct store_sqlite *s)
{
	if (s->epochs != NULL)
		munmap((void *)(uintptr_t)s->epochs, LIST_EPOCHS * sizeof(uint32_t));
	s->epochs = NULL;
}

static _Atomic uint32_t *epoch_of(struct store_sqlite *s, int64_t author)
{
	return &s->epochs[mix64((uint64_t)author) & (LIST_EPOCHS - 1)];
}

void lists_changed(struct store_sqlite *s, int64_t author)
{
	if (s->epochs != NULL)
		atomic_fetch_add_explicit(epoch_of(s, author), 1, memory_order_release);
}

static struct list_entry *entry_of(struct conn *c, int64_t author)
{
	if (c->lists == NULL && (c->lists = calloc(1, sizeof(*c->lists))) == NULL)
		return NULL;
	return &c->lists->entry[mix64((uint64_t)author) & (LIST_SLOTS - 1)];
}

const char *lists_get(struct conn *c, int64_t author, uint32_t *epoch, size_t *len)
{
	struct store_sqlite *s = c->owner;

	if (s->epochs == NULL)
		return NULL;
	*epoch = atomic_load_explicit(epoch_of(s, author), memory_order_acquire);
	struct list_entry *e = entry_of(c, author);
	if (e == NULL || e->author != author || e->epoch != *epoch || now_ms() - e->kept_ms >= LIST_TTL_MS)
		return NULL;
	*len = e->len;
	return e->body;
}

void lists_keep(struct conn *c, int64_t author, uint32_t epoch, const char *text, size_t len)
{
	struct list_entry *e;

	if (c->owner->epochs == NULL || c->reading || len > LIST_BODY_MAX || (e = entry_of(c, author)) == NULL)
		return;
	if (e->body == NULL || len > e->len) {
		char *b = realloc(e->body, len);
		if (b == NULL)
			return;
		e->body = b;
	}
	memcpy(e->body, text, len);
	e->len = len;
	e->author = author;
	e->epoch = epoch;
	e->kept_ms = now_ms();
}

void lists_free(struct conn *c)
{
	if (c->lists == NULL)
		return;
	for (unsigned i = 0; i < LIST_SLOTS; i++)
		free(c->lists->entry[i].body);
	free(c->lists);
	c->lists = NULL;
}
