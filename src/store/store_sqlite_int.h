#ifndef KEYGATE_STORE_SQLITE_INT_H
#define KEYGATE_STORE_SQLITE_INT_H

/*
 * Internal to the SQLite backend (store_sqlite*.c): the statement table,
 * the per-thread connection and the helpers every operation uses
 * (store_sqlite_conn.c, with the THREAD SAFETY block), and the operations
 * of store_sqlite_users.c and store_sqlite_books.c that store_sqlite.c's
 * ops table names. Calls go one way: store_sqlite.c -> users, books ->
 * conn.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdint.h>

#include "base/config.h"
#include "lib/fifo_lock.h"
#include "store/store.h"
#include "store/store_epoch.h"

enum stmt_id {
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_PING,
	S_USER_INSERT,
	S_KEY_INSERT,
	S_USER_BY_NAME,
	S_USER_BY_ID,
	S_KEY_GET,
	S_KEY_REPLACE,
	S_KEY_FIND,
	S_USERS_LIST,
	S_USER_SET_ACTIVE,
	S_USER_SET_TIER,
	S_BOOKS_LIST,
	S_BOOK_INSERT,
	S_BOOK_GET,
	S_BOOK_UPDATE,
	S_BOOK_DELETE,
	S_EPOCH_READ,
	S_COUNT
};

struct store_sqlite {
	struct store base;
	char path[CONFIG_PATH_MAX];
	int busy_timeout_ms;
	int synchronous_full;
	uint64_t mmap_size;
	pthread_key_t key;
	/* Held from BEGIN IMMEDIATE to COMMIT: this process's writers queue
	 * here in arrival order and each is handed the lock as the one before
	 * ends, instead of polling the file lock in SQLite's busy handler
	 * (sleeps of up to 100 ms, which one thread could lose for seconds:
	 * POST's p99 was over a second). Other processes still meet the file
	 * lock and busy_timeout. */
	struct fifo_lock write_lock;
	/* What the caches above are kept under; its hints are shared with
	 * every process on the database through <database>-epochs. */
	struct store_epoch epoch;
	/* Bumped when a connection finds the file read-only: every thread
	 * then reopens its connection before its next use, so that writing
	 * works again once the file is writable. */
	atomic_uint generation;
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	struct store_sqlite *owner;
	unsigned generation; /* of owner, when opened */
	int readonly; /* the file could not be opened for writing */
	int reading; /* in a read pass (store_read_begin) */
};

static inline struct store_sqlite *to_sqlite(struct store *st)
{
	return (struct store_sqlite *)st;
}

/* A connection to s's file, its pragmas set, no statement prepared yet
 * (store open migrates first); NULL with the reason in err. */
struct conn *sqlite_conn_open(struct store_sqlite *s, char *err, size_t errlen);
/* Prepare every statement of the table: 0, or -1 with the reason in err. */
int sqlite_conn_prepare(struct conn *c, char *err, size_t errlen);
/* Finalize and close a connection (NULL: nothing); the pthread key's
 * destructor. */
void sqlite_conn_free(void *arg);
/* This thread's connection, opened on first use; NULL if it cannot be. */
struct conn *sqlite_conn(struct store *st);
/* The read pass of store.h (store_read_begin, store_read_end). */
int sqlite_read_begin(struct store *st);
void sqlite_read_end(struct store *st);
/* An SQLite result as a store code; engine failures are logged here. */
int sqlite_map_rc(struct conn *c, int rc);
/* Step a statement whose rows are not wanted, then reset it. */
int sqlite_exec_stmt(struct conn *c, enum stmt_id id);
/* A write: this thread's connection in a BEGIN IMMEDIATE transaction
 * (which waits for the write lock up front, so a write never fails with
 * SQLITE_BUSY_SNAPSHOT half-way). STORE_OK and *c, or the failure. */
int sqlite_write_begin(struct store *st, struct conn **c);
/* Commit when rc is STORE_OK, else roll back; returns the final code. */
int sqlite_write_end(struct conn *c, int rc);
/* Reads a statement's current row into arg: 0, or -1 when the row is
 * unusable (a failure of the store's: STORE_ERR). */
typedef int sqlite_row_fn(sqlite3_stmt *q, void *arg);
/* Step a statement that reads at most one row, bound already; row(q, arg)
 * sees it. STORE_OK, STORE_NOT_FOUND when there is none, or the failure.
 * The statement is reset and its bindings dropped. */
int sqlite_read_row(struct conn *c, enum stmt_id id, sqlite_row_fn *row, void *arg);
/* Step a statement that writes and may return one row (RETURNING) to its
 * end; row(q, arg) sees the row (row may be NULL). STORE_OK,
 * STORE_NOT_FOUND when it changed nothing, or the failure. The statement
 * is reset. */
int sqlite_write_stmt(struct conn *c, enum stmt_id id, sqlite_row_fn *row, void *arg);
/* Copy a TEXT column into dst (cap bytes with the NUL). */
void sqlite_copy_text(char *dst, size_t cap, sqlite3_stmt *q, int col);
/* Reset a statement and drop its bindings. */
void sqlite_done(sqlite3_stmt *q);

int sqlite_ping(struct store *st);
int sqlite_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id);
int sqlite_user_by_name(struct store *st, const char *username, struct store_user *out);
int sqlite_user_by_id(struct store *st, int64_t id, struct store_user *out);
int sqlite_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out);
int sqlite_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key);
int sqlite_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id);
int sqlite_users_list(struct store *st, store_user_fn each, void *arg);
int sqlite_user_set_active(struct store *st, const char *username, int active, int64_t *id);
int sqlite_user_set_tier(struct store *st, const char *username, const char *tier, int64_t *id);
int sqlite_books_list(struct store *st, int64_t author, store_book_fn each, void *arg);
int sqlite_book_create(struct store *st, int64_t author, const char *title, const char *date, struct store_book *out);
int sqlite_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out);
int sqlite_book_update(
    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out);
int sqlite_book_delete(struct store *st, int64_t id, int64_t author);

#endif
