/*
 * store_sqlite_conn.c: the SQLite backend's per-thread connection (its
 * statements, its read pass, its write transaction) and the helpers every
 * operation uses (store_sqlite_int.h). Below store_sqlite.c (the ops
 * table, open and close) and the operations of store_sqlite_users.c and
 * store_sqlite_books.c, and calls neither.
 *
 * THREAD SAFETY: each thread gets its own connection (opened on first use,
 * SQLITE_OPEN_NOMUTEX) with every statement prepared once, found through a
 * pthread key; it is closed when the thread exits, or by store close for
 * the thread that closes. Nothing else is shared between threads but the
 * read-only path and settings, `generation` (an atomic: a thread that
 * finds the file read-only bumps it, and every thread reopens) and
 * `write_lock`, which this process's writers take in turn. Processes on
 * one host share the file; WAL lets readers and the one writer run at
 * once. Every write transaction is BEGIN IMMEDIATE, so it waits
 * (busy_timeout) for other processes instead of failing with
 * SQLITE_BUSY_SNAPSHOT. Statements are reset right after use so no reader
 * pins the WAL.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "lib/fifo_lock.h"
#include "store/store.h"
#include "store/store_sqlite_int.h"

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN", /* deferred: the first read takes the snapshot */
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PING] = "SELECT 1",
	[S_USER_INSERT] = "INSERT INTO users (username, email, password_hash, date_joined) VALUES (?1, ?2, ?3, ?4)",
	[S_KEY_INSERT] = "INSERT INTO api_keys (user_id, key_hash, key_box, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_USER_BY_NAME] = "SELECT id, username, email, password_hash, is_active, tier FROM users WHERE username = ?1",
	[S_USER_BY_ID] = "SELECT id, username, email, password_hash, is_active, tier FROM users WHERE id = ?1",
	[S_KEY_GET] = "SELECT key_hash, key_box FROM api_keys WHERE user_id = ?1",
	[S_KEY_REPLACE] = "UPDATE api_keys SET key_hash = ?2, key_box = ?3, created_at = ?4 WHERE user_id = ?1",
	[S_KEY_FIND] = "SELECT k.user_id FROM api_keys k JOIN users u ON u.id = k.user_id "
		       "WHERE k.key_hash = ?1 AND u.is_active = 1",
	[S_USERS_LIST] =
	    "SELECT id, username, email, password_hash, is_active, tier, date_joined FROM users ORDER BY id",
	[S_USER_SET_ACTIVE] = "UPDATE users SET is_active = ?2 WHERE username = ?1 RETURNING id",
	[S_USER_SET_TIER] = "UPDATE users SET tier = ?2 WHERE username = ?1 RETURNING id",
	[S_BOOKS_LIST] = "SELECT id, title, author_id, publication_date FROM books WHERE author_id = ?1 ORDER BY id",
	[S_BOOK_INSERT] = "INSERT INTO books (title, author_id, publication_date) VALUES (?1, ?2, ?3)",
	[S_BOOK_GET] = "SELECT id, title, author_id, publication_date FROM books WHERE id = ?1 AND author_id = ?2",
	[S_BOOK_UPDATE] = "UPDATE books SET title = coalesce(?3, title), publication_date = ?4 "
			  "WHERE id = ?1 AND author_id = ?2 RETURNING id, title, author_id, publication_date",
	[S_BOOK_DELETE] = "DELETE FROM books WHERE id = ?1 AND author_id = ?2",
	[S_EPOCH_READ] = "SELECT id, n FROM keygate_epoch WHERE id < ?1",
};

void sqlite_conn_free(void *arg)
{
	struct conn *c = arg;
	if (c == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

struct conn *sqlite_conn_open(struct store_sqlite *s, char *err, size_t errlen)
{
	struct conn *c = calloc(1, sizeof(*c));
	char pragmas[256];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->owner = s;
	c->generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
	if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	/* Pragmas are per connection; Debian's defaults are not ours. The
	 * values are constants, not client data. */
	snprintf(pragmas, sizeof(pragmas),
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; PRAGMA mmap_size=%llu;",
	    s->synchronous_full ? "FULL" : "NORMAL", (unsigned long long)s->mmap_size);
	if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	c->readonly = sqlite3_db_readonly(c->db, "main") == 1;
	return c;
fail:
	snprintf(err, errlen, "%s: %s", s->path, c->db != NULL ? sqlite3_errmsg(c->db) : "cannot open");
	sqlite_conn_free(c);
	return NULL;
}

int sqlite_conn_prepare(struct conn *c, char *err, size_t errlen)
{
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[i], NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(c->db));
			return -1;
		}
	}
	return 0;
}

/* This thread's connection, opened on first use. NULL if it cannot be. */
static struct conn *conn_get(struct store_sqlite *s)
{
	struct conn *c = pthread_getspecific(s->key);
	char err[256];

	/* A read-only connection is tried afresh each time, so that it writes
	 * as soon as the file lets it. */
	if (c != NULL && !c->readonly && c->generation == atomic_load_explicit(&s->generation, memory_order_relaxed))
		return c;
	if (c != NULL) {
		sqlite_conn_free(c);
		pthread_setspecific(s->key, NULL);
	}
	c = sqlite_conn_open(s, err, sizeof(err));
	if (c != NULL && sqlite_conn_prepare(c, err, sizeof(err)) == -1) {
		sqlite_conn_free(c);
		c = NULL;
	}
	if (c == NULL) {
		log_warnx("database: %s", err);
		return NULL;
	}
	pthread_setspecific(s->key, c);
	return c;
}

/* Map an SQLite result to a store code; log engine failures once here. */
int sqlite_map_rc(struct conn *c, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return STORE_OK;
	case SQLITE_CONSTRAINT: return STORE_CONFLICT;
	case SQLITE_READONLY:
		atomic_fetch_add_explicit(&c->owner->generation, 1, memory_order_relaxed);
		/* fall through */
	case SQLITE_FULL:
		log_warnx("database cannot store: %s", sqlite3_errmsg(c->db));
		metrics_store_error(1);
		return STORE_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		log_warnx("database unavailable: %s", sqlite3_errmsg(c->db));
		metrics_store_error(1);
		return STORE_UNAVAILABLE;
	default:
		log_warnx("database error: %s", sqlite3_errmsg(c->db));
		metrics_store_error(0);
		return STORE_ERR;
	}
}

/* Step a statement that returns no row we want, and reset it. */
int sqlite_exec_stmt(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt *st = c->stmt[id];
	int rc = sqlite3_step(st);
	sqlite_done(st);
	return sqlite_map_rc(c, rc);
}

struct conn *sqlite_conn(struct store *st)
{
	return conn_get(to_sqlite(st));
}

/*
 * A read pass: the reads of one request in one transaction. Each read
 * transaction in WAL mode takes and drops a lock on the WAL index (two
 * fcntl calls under a process-wide mutex); a GET that looks up its key and
 * then its data pays that once instead of twice.
 */
int sqlite_read_begin(struct store *st)
{
	struct conn *c = sqlite_conn(st);

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if (!c->reading && sqlite_exec_stmt(c, S_BEGIN_READ) == STORE_OK)
		c->reading = 1;
	return c->reading ? STORE_OK : STORE_ERR;
}

static void read_end(struct conn *c)
{
	c->reading = 0;
	/* A failed statement may have ended the transaction already. */
	if (!sqlite3_get_autocommit(c->db) && sqlite_exec_stmt(c, S_COMMIT) != STORE_OK)
		sqlite_exec_stmt(c, S_ROLLBACK);
}

void sqlite_read_end(struct store *st)
{
	/* Not conn_get: a connection reopened since the pass began has none. */
	struct conn *c = pthread_getspecific(to_sqlite(st)->key);

	if (c != NULL && c->reading)
		read_end(c);
}

/* This process's turn to write, waiting at most busy_timeout as SQLite
 * would. */
static int write_turn(struct store_sqlite *s)
{
	if (fifo_lock_acquire(&s->write_lock, s->busy_timeout_ms) == 0)
		return STORE_OK;
	log_warnx("database unavailable: waited %d ms behind this process's other writes", s->busy_timeout_ms);
	metrics_store_error(1);
	return STORE_UNAVAILABLE;
}

int sqlite_write_begin(struct store *st, struct conn **out)
{
	struct store_sqlite *s = to_sqlite(st);
	struct conn *c = sqlite_conn(st);

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if (c->reading) /* a write never joins a read pass */
		read_end(c);
	int rc = write_turn(s);
	if (rc != STORE_OK)
		return rc;
	rc = sqlite_exec_stmt(c, S_BEGIN);
	if (rc != STORE_OK) {
		fifo_lock_release(&s->write_lock);
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	}
	*out = c;
	return STORE_OK;
}

int sqlite_write_end(struct conn *c, int rc)
{
	if (rc != STORE_OK || (rc = sqlite_exec_stmt(c, S_COMMIT)) != STORE_OK)
		sqlite_exec_stmt(c, S_ROLLBACK);
	fifo_lock_release(&c->owner->write_lock);
	return rc;
}

int sqlite_read_row(struct conn *c, enum stmt_id id, sqlite_row_fn *row, void *arg)
{
	sqlite3_stmt *q = c->stmt[id];
	int step = sqlite3_step(q), rc;

	if (step == SQLITE_ROW)
		rc = row(q, arg) == 0 ? STORE_OK : STORE_ERR;
	else
		rc = step == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_map_rc(c, step);
	sqlite_done(q);
	return rc;
}

int sqlite_write_stmt(struct conn *c, enum stmt_id id, sqlite_row_fn *row, void *arg)
{
	sqlite3_stmt *q = c->stmt[id];
	int step = sqlite3_step(q), bad = 0;

	if (step == SQLITE_ROW && row != NULL)
		bad = row(q, arg) == -1;
	/* Run it to its end: RETURNING completes the change only then. */
	while (step == SQLITE_ROW)
		step = sqlite3_step(q);
	sqlite_done(q);
	if (step != SQLITE_DONE)
		return sqlite_map_rc(c, step);
	if (bad)
		return STORE_ERR;
	return sqlite3_changes(c->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

void sqlite_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

void sqlite_copy_text(char *dst, size_t cap, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	int n = sqlite3_column_bytes(q, col);
	if (t == NULL || n < 0 || (size_t)n >= cap)
		n = 0;
	if (n > 0)
		memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
}
