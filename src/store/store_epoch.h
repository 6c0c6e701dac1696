#ifndef KEYGATE_STORE_EPOCH_H
#define KEYGATE_STORE_EPOCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Internal to the store backends: the epochs the caches above the store
 * are kept under (store_keys_epoch, store_books_epoch in store.h).
 *
 * The truth is the keygate_epoch table (migrations/0002_cache_epoch.sql):
 * counters that triggers bump in the transaction of each change, so that
 * no change, by keygate or an SQL shell, commits without its bump. Row 0
 * stands for keys and users, rows 1 to STORE_EPOCH_BOOK_ROWS for the books
 * of the authors with id % STORE_EPOCH_BOOK_ROWS + 1 = row.
 *
 * Reading the table for every request would cost what the caches save,
 * so each thread keeps the rows it read last and reads them again once
 * they are STORE_EPOCH_CONFIRM_MS old: nothing a cache holds outlives a
 * missed signal by more than that. The signal is the hint array, counters
 * bumped after each commit that readers load for free: shared by the
 * processes of one host for SQLite (a file mapped next to the database),
 * and fed from PostgreSQL's notifications for every host on PostgreSQL.
 * An epoch is the truth row and the hint slot together: it changes as
 * soon as either does.
 *
 * THREAD SAFETY: the hints are atomics (any thread, any process); each
 * thread's rows are its own (a pthread key).
 */
#define STORE_EPOCH_BOOK_ROWS 64
#define STORE_EPOCH_ROWS (STORE_EPOCH_BOOK_ROWS + 1)
#define STORE_EPOCH_HINTS 65536u /* slot 0: keys; the others: authors' books */
#define STORE_EPOCH_CONFIRM_MS 1000u

struct store;

struct store_epoch {
	_Atomic uint32_t *hint;
	int mapped; /* hint is a shared mapping (else this process's memory) */
	pthread_key_t key;
	int has_key;
	/* Reads the truth rows 0..STORE_EPOCH_ROWS-1 into n: 0 or -1. */
	int (*read)(struct store *st, uint64_t n[STORE_EPOCH_ROWS]);
};

/* shared: the file the processes of a host share the hints through, or
 * NULL (this process only). Falls back to this process's memory (logged)
 * when the file cannot be mapped. 0, or -1 when nothing can be kept. */
int store_epoch_open(struct store_epoch *e, const char *shared, int (*read)(struct store *, uint64_t *));
void store_epoch_close(struct store_epoch *e);

/* After a commit that changed keys or users / an author's books. */
void store_epoch_keys_changed(struct store_epoch *e);
void store_epoch_books_changed(struct store_epoch *e, int64_t author);
/* The hint slot of an author's books (1 .. STORE_EPOCH_HINTS-1). */
unsigned store_epoch_book_slot(int64_t author);

/* The current epoch of keys, or of an author's books: never 0, or 0 when
 * the truth cannot be read (then nothing may be cached). */
uint64_t store_epoch_keys(struct store_epoch *e, struct store *st);
uint64_t store_epoch_books(struct store_epoch *e, struct store *st, int64_t author);

#endif
