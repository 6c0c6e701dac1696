/*
 * store_sqlite.c: the SQLite backend of store.h: its ops table, open
 * (settings, migrations, the epoch hints) and close, ping and the epoch
 * rows. The operations are in store_sqlite_users.c and
 * store_sqlite_books.c; the per-thread connection and the helpers they
 * all use, with the THREAD SAFETY block, in store_sqlite_conn.c, below
 * them all.
 */
#include "store/store_sqlite.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/config.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_sqlite_int.h"

static void sqlite_close(struct store *st)
{
	struct store_sqlite *s = to_sqlite(st);
	/* Worker threads closed theirs as they exited; this is the caller's. */
	sqlite_conn_free(pthread_getspecific(s->key));
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	fifo_lock_destroy(&s->write_lock);
	store_epoch_close(&s->epoch);
	free(s);
}

int sqlite_ping(struct store *st)
{
	struct conn *c = sqlite_conn(st);
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_PING];
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? STORE_OK : sqlite_map_rc(c, rc);
}

/* The truth rows of store_epoch.h, in one statement. Not inside a read
 * pass: its snapshot may be older than now, and the rows would then pass
 * for a second as current while older (the caller keeps nothing this
 * once, and reads them on its next call). */
static int sqlite_epoch_read(struct store *st, uint64_t n[STORE_EPOCH_ROWS])
{
	struct conn *c = sqlite_conn(st);
	int rc, seen = 0;

	if (c == NULL || c->reading)
		return -1;
	sqlite3_stmt *q = c->stmt[S_EPOCH_READ];
	sqlite3_bind_int(q, 1, STORE_EPOCH_ROWS);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(q, 0);
		if (id >= 0 && id < STORE_EPOCH_ROWS) {
			n[id] = (uint64_t)sqlite3_column_int64(q, 1);
			seen++;
		}
	}
	sqlite_done(q);
	if (rc != SQLITE_DONE)
		sqlite_map_rc(c, rc);
	return rc == SQLITE_DONE && seen == STORE_EPOCH_ROWS ? 0 : -1;
}

static const struct store_ops sqlite_ops = {
	.close = sqlite_close,
	.ping = sqlite_ping,
	.read_begin = sqlite_read_begin,
	.read_end = sqlite_read_end,
	.user_create = sqlite_user_create,
	.user_by_name = sqlite_user_by_name,
	.user_by_id = sqlite_user_by_id,
	.apikey_get = sqlite_apikey_get,
	.apikey_replace = sqlite_apikey_replace,
	.apikey_find = sqlite_apikey_find,
	.users_list = sqlite_users_list,
	.user_set_active = sqlite_user_set_active,
	.user_set_tier = sqlite_user_set_tier,
	.books_list = sqlite_books_list,
	.book_create = sqlite_book_create,
	.book_get = sqlite_book_get,
	.book_update = sqlite_book_update,
	.book_delete = sqlite_book_delete,
};

/* Process-wide SQLite settings, before any connection: connections are
 * never shared between threads (no per-connection mutex needed), and the
 * allocator's statistics would take one global mutex per allocation. */
static void sqlite_configure(void)
{
	static int done;
	if (done++)
		return;
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_sqlite_open(const struct config *cfg, char *err, size_t errlen)
{
	struct store_sqlite *s = calloc(1, sizeof(*s));
	struct conn *c = NULL;
	char hints[CONFIG_PATH_MAX + 8];

	sqlite_configure();
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.ops = &sqlite_ops;
	s->busy_timeout_ms = (int)cfg->busy_timeout_ms;
	s->synchronous_full = cfg->synchronous_full;
	s->mmap_size = cfg->mmap_size;
	if (config_path(cfg, cfg->db_path, s->path, sizeof(s->path)) == -1) {
		snprintf(err, errlen, "[database] path: too long");
		free(s);
		return NULL;
	}
	if (pthread_key_create(&s->key, sqlite_conn_free) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		free(s);
		return NULL;
	}
	fifo_lock_init(&s->write_lock);
	/* Migrate before preparing: the statements need the tables. */
	c = sqlite_conn_open(s, err, errlen);
	if (c == NULL || migrate_sqlite(c->db, err, errlen) == -1 || sqlite_conn_prepare(c, err, errlen) == -1) {
		sqlite_conn_free(c);
		pthread_key_delete(s->key);
		fifo_lock_destroy(&s->write_lock);
		free(s);
		return NULL;
	}
	pthread_setspecific(s->key, c);
	snprintf(hints, sizeof(hints), "%s-epochs", s->path);
	if (store_epoch_open(&s->epoch, hints, sqlite_epoch_read) == -1) {
		snprintf(err, errlen, "out of memory");
		sqlite_close(&s->base);
		return NULL;
	}
	s->base.epoch = &s->epoch;
	return &s->base;
}
