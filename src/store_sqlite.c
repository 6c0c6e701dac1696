/*
 * store_sqlite.c: the SQLite backend of store.h.
 *
 * THREAD SAFETY: each thread gets its own connection (opened on first use,
 * SQLITE_OPEN_NOMUTEX) with every statement prepared once, found through a
 * pthread key; it is closed when the thread exits, or by store close for
 * the thread that closes. Nothing else is shared between threads but the
 * read-only path and settings. Processes on one host share the file; WAL
 * lets readers and the one writer run at once. Every write transaction is
 * BEGIN IMMEDIATE, so it waits (busy_timeout) instead of failing with
 * SQLITE_BUSY_SNAPSHOT. Statements are reset right after use so no reader
 * pins the WAL.
 */
#include "store_sqlite.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "migrate.h"
#include "store.h"

enum stmt_id {
	S_BEGIN,
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
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_PING] = "SELECT 1",
	[S_USER_INSERT] = "INSERT INTO users (username, email, password_hash, date_joined) VALUES (?1, ?2, ?3, ?4)",
	[S_KEY_INSERT] = "INSERT INTO api_keys (user_id, key_hash, key_box, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_USER_BY_NAME] = "SELECT id, username, email, password_hash, is_active FROM users WHERE username = ?1",
	[S_USER_BY_ID] = "SELECT id, username, email, password_hash, is_active FROM users WHERE id = ?1",
	[S_KEY_GET] = "SELECT key_hash, key_box FROM api_keys WHERE user_id = ?1",
	[S_KEY_REPLACE] = "UPDATE api_keys SET key_hash = ?2, key_box = ?3, created_at = ?4 WHERE user_id = ?1",
	[S_KEY_FIND] = "SELECT k.user_id FROM api_keys k JOIN users u ON u.id = k.user_id "
		       "WHERE k.key_hash = ?1 AND u.is_active = 1",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
};

struct store_sqlite {
	struct store base;
	char path[CONFIG_PATH_MAX];
	int busy_timeout_ms;
	int synchronous_full;
	pthread_key_t key;
};

static void conn_free(void *arg)
{
	struct conn *c = arg;
	if (c == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

static struct conn *conn_open(struct store_sqlite *s, char *err, size_t errlen)
{
	struct conn *c = calloc(1, sizeof(*c));
	char pragmas[160];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	/* Pragmas are per connection; Debian's defaults are not ours. The
	 * values are constants, not client data. */
	snprintf(pragmas, sizeof(pragmas),
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON;",
	    s->synchronous_full ? "FULL" : "NORMAL");
	if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return c;
fail:
	snprintf(err, errlen, "%s: %s", s->path, c->db != NULL ? sqlite3_errmsg(c->db) : "cannot open");
	conn_free(c);
	return NULL;
}

static int conn_prepare(struct conn *c, char *err, size_t errlen)
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

	if (c != NULL)
		return c;
	c = conn_open(s, err, sizeof(err));
	if (c != NULL && conn_prepare(c, err, sizeof(err)) == -1) {
		conn_free(c);
		c = NULL;
	}
	if (c == NULL) {
		log_warnx("database: %s", err);
		return NULL;
	}
	pthread_setspecific(s->key, c);
	return c;
}

static struct store_sqlite *to_sqlite(struct store *st) { return (struct store_sqlite *)st; }

/* Map an SQLite result to a store code; log engine failures once here. */
static int map_rc(struct conn *c, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_CONSTRAINT:
		return STORE_CONFLICT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		log_warnx("database unavailable: %s", sqlite3_errmsg(c->db));
		return STORE_UNAVAILABLE;
	default:
		log_warnx("database error: %s", sqlite3_errmsg(c->db));
		return STORE_ERR;
	}
}

/* Step a statement that returns no row we want, and reset it. */
static int exec_stmt(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt *st = c->stmt[id];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return map_rc(c, rc);
}

static void sqlite_close(struct store *st)
{
	struct store_sqlite *s = to_sqlite(st);
	/* Worker threads closed theirs as they exited; this is the caller's. */
	conn_free(pthread_getspecific(s->key));
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	free(s);
}

static int sqlite_ping(struct store *st)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_PING];
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? STORE_OK : map_rc(c, rc);
}

static int sqlite_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id)
{
	struct conn *c = conn_get(to_sqlite(st));
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = exec_stmt(c, S_BEGIN)) != STORE_OK)
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	sqlite3_stmt *u = c->stmt[S_USER_INSERT];
	sqlite3_bind_text(u, 1, username, -1, SQLITE_STATIC);
	sqlite3_bind_text(u, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(u, 3, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(u, 4, now);
	if ((rc = exec_stmt(c, S_USER_INSERT)) != STORE_OK)
		goto rollback;
	*id = sqlite3_last_insert_rowid(c->db);
	sqlite3_stmt *k = c->stmt[S_KEY_INSERT];
	sqlite3_bind_int64(k, 1, *id);
	sqlite3_bind_blob(k, 2, key->hash, sizeof(key->hash), SQLITE_STATIC);
	sqlite3_bind_blob(k, 3, key->box, sizeof(key->box), SQLITE_STATIC);
	sqlite3_bind_int64(k, 4, now);
	if ((rc = exec_stmt(c, S_KEY_INSERT)) != STORE_OK) {
		rc = rc == STORE_CONFLICT ? STORE_ERR : rc; /* a key hash collision: not the client's fault */
		goto rollback;
	}
	if ((rc = exec_stmt(c, S_COMMIT)) == STORE_OK)
		return STORE_OK;
rollback:
	exec_stmt(c, S_ROLLBACK);
	return rc;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	int n = sqlite3_column_bytes(q, col);
	if (t == NULL || n < 0 || (size_t)n >= cap)
		n = 0;
	if (n > 0)
		memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
}

static int user_row(struct conn *c, sqlite3_stmt *q, struct store_user *out)
{
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		copy_text(out->username, sizeof(out->username), q, 1);
		copy_text(out->email, sizeof(out->email), q, 2);
		copy_text(out->password_hash, sizeof(out->password_hash), q, 3);
		out->is_active = sqlite3_column_int(q, 4);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : map_rc(c, rc);
}

static int sqlite_user_by_name(struct store *st, const char *username, struct store_user *out)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_text(c->stmt[S_USER_BY_NAME], 1, username, -1, SQLITE_STATIC);
	return user_row(c, c->stmt[S_USER_BY_NAME], out);
}

static int sqlite_user_by_id(struct store *st, int64_t id, struct store_user *out)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(c->stmt[S_USER_BY_ID], 1, id);
	return user_row(c, c->stmt[S_USER_BY_ID], out);
}

static int blob_copy(sqlite3_stmt *q, int col, uint8_t *dst, size_t len)
{
	if ((size_t)sqlite3_column_bytes(q, col) != len)
		return -1;
	memcpy(dst, sqlite3_column_blob(q, col), len);
	return 0;
}

static int sqlite_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_KEY_GET];
	sqlite3_bind_int64(q, 1, user_id);
	int rc = sqlite3_step(q), ret;
	if (rc == SQLITE_ROW)
		ret = (blob_copy(q, 0, out->hash, sizeof(out->hash)) == 0 && blob_copy(q, 1, out->box, sizeof(out->box)) == 0)
		    ? STORE_OK
		    : STORE_ERR;
	else
		ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : map_rc(c, rc);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return ret;
}

static int sqlite_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	/* One UPDATE: hash and sealed copy change together, atomically. */
	sqlite3_stmt *q = c->stmt[S_KEY_REPLACE];
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_blob(q, 2, key->hash, sizeof(key->hash), SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, key->box, sizeof(key->box), SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
	int rc = exec_stmt(c, S_KEY_REPLACE);
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		return STORE_NOT_FOUND;
	return rc == STORE_CONFLICT ? STORE_ERR : rc;
}

static int sqlite_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id)
{
	struct conn *c = conn_get(to_sqlite(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_KEY_FIND];
	sqlite3_bind_blob(q, 1, hash, APIKEY_HASH_BYTES, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*user_id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : map_rc(c, rc);
}

static const struct store_ops sqlite_ops = {
	.close = sqlite_close,
	.ping = sqlite_ping,
	.user_create = sqlite_user_create,
	.user_by_name = sqlite_user_by_name,
	.user_by_id = sqlite_user_by_id,
	.apikey_get = sqlite_apikey_get,
	.apikey_replace = sqlite_apikey_replace,
	.apikey_find = sqlite_apikey_find,
};

struct store *store_sqlite_open(const struct config *cfg, char *err, size_t errlen)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));
	struct conn *c = NULL;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.ops = &sqlite_ops;
	s->busy_timeout_ms = (int)cfg->busy_timeout_ms;
	s->synchronous_full = cfg->synchronous_full;
	if (config_path(cfg, cfg->db_path, s->path, sizeof(s->path)) == -1) {
		snprintf(err, errlen, "[database] path: too long");
		free(s);
		return NULL;
	}
	if (pthread_key_create(&s->key, conn_free) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		free(s);
		return NULL;
	}
	/* Migrate before preparing: the statements need the tables. */
	c = conn_open(s, err, errlen);
	if (c == NULL || migrate_sqlite(c->db, err, errlen) == -1 || conn_prepare(c, err, errlen) == -1) {
		conn_free(c);
		pthread_key_delete(s->key);
		free(s);
		return NULL;
	}
	pthread_setspecific(s->key, c);
	return &s->base;
}
