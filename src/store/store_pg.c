/*
 * store_pg.c: the PostgreSQL backend of store.h ([database] url), for
 * keygate on several hosts.
 *
 * THREAD SAFETY: each thread gets its own connection (a pthread key),
 * opened on first use with every statement prepared once; a broken
 * connection is dropped and reopened on the thread's next call. Nothing
 * else is shared but read-only settings. Migrations run at open under a
 * transaction-scoped advisory lock, so two processes never both apply one.
 */
#include "store/store_pg.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_epoch.h"
#include "store/store_pg_listen.h"

#define MIGRATION_LOCK 0x6b657967 /* "keyg" */

enum pg_stmt {
	P_USER_INSERT,
	P_KEY_INSERT,
	P_USER_BY_NAME,
	P_USER_BY_ID,
	P_KEY_GET,
	P_KEY_REPLACE,
	P_KEY_FIND,
	P_USERS_LIST,
	P_USER_SET_ACTIVE,
	P_USER_SET_TIER,
	P_BOOKS_LIST,
	P_BOOK_INSERT,
	P_BOOK_GET,
	P_BOOK_UPDATE,
	P_BOOK_DELETE,
	P_EPOCH_READ,
	P_COUNT
};

#define USER_COLS "id, username, email, password_hash, is_active::int, date_joined, tier"
#define BOOK_COLS "id, title, author_id, to_char(publication_date, 'YYYY-MM-DD')"

static const struct {
	const char *sql;
	int nparams;
} stmts[P_COUNT] = {
	[P_USER_INSERT] = { "INSERT INTO users (username, email, password_hash, date_joined) "
			    "VALUES ($1, $2, $3, $4) RETURNING id",
	    4 },
	[P_KEY_INSERT] = { "INSERT INTO api_keys (user_id, key_hash, key_box, created_at) VALUES ($1, $2, $3, $4)", 4 },
	[P_USER_BY_NAME] = { "SELECT " USER_COLS " FROM users WHERE username = $1", 1 },
	[P_USER_BY_ID] = { "SELECT " USER_COLS " FROM users WHERE id = $1", 1 },
	[P_KEY_GET] = { "SELECT key_hash, key_box FROM api_keys WHERE user_id = $1", 1 },
	[P_KEY_REPLACE] = { "UPDATE api_keys SET key_hash = $2, key_box = $3, created_at = $4 WHERE user_id = $1", 4 },
	[P_KEY_FIND] = { "SELECT k.user_id FROM api_keys k JOIN users u ON u.id = k.user_id "
			 "WHERE k.key_hash = $1 AND u.is_active",
	    1 },
	[P_USERS_LIST] = { "SELECT " USER_COLS " FROM users ORDER BY id", 0 },
	[P_USER_SET_ACTIVE] = { "UPDATE users SET is_active = ($2::int <> 0) WHERE username = $1 RETURNING id", 2 },
	[P_USER_SET_TIER] = { "UPDATE users SET tier = $2 WHERE username = $1 RETURNING id", 2 },
	[P_BOOKS_LIST] = { "SELECT " BOOK_COLS " FROM books WHERE author_id = $1 ORDER BY id", 1 },
	[P_BOOK_INSERT] = { "INSERT INTO books (title, author_id, publication_date) VALUES ($1, $2, $3::date) "
			    "RETURNING " BOOK_COLS,
	    3 },
	[P_BOOK_GET] = { "SELECT " BOOK_COLS " FROM books WHERE id = $1 AND author_id = $2", 2 },
	[P_BOOK_UPDATE] = { "UPDATE books SET title = coalesce($3, title), publication_date = $4::date "
			    "WHERE id = $1 AND author_id = $2 RETURNING " BOOK_COLS,
	    4 },
	[P_BOOK_DELETE] = { "DELETE FROM books WHERE id = $1 AND author_id = $2", 2 },
	[P_EPOCH_READ] = { "SELECT id, n FROM keygate_epoch WHERE id < $1", 1 },
};

struct store_pg {
	struct store base;
	char url[CONFIG_SECRET_MAX];
	pthread_key_t key;
	struct store_epoch epoch;
	/* The thread that feeds the epoch's hints from PostgreSQL's
	 * notifications (store_pg_listen.c), started by the first read of an
	 * epoch (so the admin CLI never starts it). */
	struct pg_listener *listener;
	atomic_int listening;
};

/* Parameters: text, or binary with a length (blobs). */
struct params {
	const char *v[4];
	int len[4];
	int fmt[4];
	char num[4][24];
	int n;
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_int(struct params *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p_text(p, p->num[p->n]);
}

static void p_blob(struct params *p, const uint8_t *b, size_t len)
{
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
}

static void conn_free(void *arg)
{
	if (arg != NULL)
		PQfinish(arg);
}

static int prepare_all(PGconn *c)
{
	for (int i = 0; i < P_COUNT; i++) {
		char name[16];
		snprintf(name, sizeof(name), "k%d", i);
		PGresult *r = PQprepare(c, name, stmts[i].sql, stmts[i].nparams, NULL);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			log_warnx("database: prepare: %s", PQresultErrorMessage(r));
		PQclear(r);
		if (!ok)
			return -1;
	}
	return 0;
}

/* This thread's connection, or NULL (logged). A broken one is replaced. */
static PGconn *conn_get(struct store_pg *s)
{
	PGconn *c = pthread_getspecific(s->key);

	if (c != NULL && PQstatus(c) == CONNECTION_OK)
		return c;
	if (c != NULL) {
		PQfinish(c);
		pthread_setspecific(s->key, NULL);
	}
	c = PQconnectdb(s->url);
	if (PQstatus(c) != CONNECTION_OK || prepare_all(c) == -1) {
		log_warnx("database: cannot connect: %s", PQerrorMessage(c));
		metrics_store_error(1);
		PQfinish(c);
		return NULL;
	}
	pthread_setspecific(s->key, c);
	return c;
}

static struct store_pg *to_pg(struct store *st)
{
	return (struct store_pg *)st;
}

/* A failed result as a store code (logged here). */
static int map_result(PGconn *c, PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (state != NULL && (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0))
		return STORE_CONFLICT;
	log_warnx("database error: %s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
	if (state != NULL && (strcmp(state, "53100") == 0 || strcmp(state, "25006") == 0)) {
		metrics_store_error(1);
		return STORE_FULL;
	}
	metrics_store_error(PQstatus(c) != CONNECTION_OK);
	return PQstatus(c) != CONNECTION_OK ? STORE_UNAVAILABLE : STORE_ERR;
}

/* Run a prepared statement (blob parameters binary, results text). The
 * result, or NULL with *rc set. */
static PGresult *run(struct store *st, enum pg_stmt id, const struct params *p, int *rc)
{
	PGconn *c = conn_get(to_pg(st));
	char name[16];

	if (c == NULL) {
		*rc = STORE_UNAVAILABLE;
		return NULL;
	}
	snprintf(name, sizeof(name), "k%d", id);
	PGresult *r = PQexecPrepared(c, name, p->n, p->v, p->len, p->fmt, 0);
	ExecStatusType status = PQresultStatus(r);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
		*rc = STORE_OK;
		return r;
	}
	*rc = map_result(c, r);
	PQclear(r);
	return NULL;
}

static int64_t col_int(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void col_text(PGresult *r, int row, int col, char *dst, size_t cap)
{
	snprintf(dst, cap, "%s", PQgetvalue(r, row, col));
}

/* bytea in text results is hex ("\x0a1b..."). */
static int col_blob(PGresult *r, int row, int col, uint8_t *dst, size_t len)
{
	size_t n;
	unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	int ok = b != NULL && n == len;
	if (ok)
		memcpy(dst, b, len);
	PQfreemem(b);
	return ok ? 0 : -1;
}

static void user_row(PGresult *r, int row, struct store_user *u)
{
	u->id = col_int(r, row, 0);
	col_text(r, row, 1, u->username, sizeof(u->username));
	col_text(r, row, 2, u->email, sizeof(u->email));
	col_text(r, row, 3, u->password_hash, sizeof(u->password_hash));
	u->is_active = (int)col_int(r, row, 4);
	col_text(r, row, 6, u->tier, sizeof(u->tier));
}

static void book_row(PGresult *r, int row, struct store_book *b)
{
	b->id = col_int(r, row, 0);
	col_text(r, row, 1, b->title, sizeof(b->title));
	b->author = col_int(r, row, 2);
	col_text(r, row, 3, b->publication_date, sizeof(b->publication_date));
}

static int exec_simple(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		log_warnx("database: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static int pg_ping(struct store *st)
{
	PGconn *c = conn_get(to_pg(st));
	if (c == NULL)
		return STORE_UNAVAILABLE;
	PGresult *r = PQexec(c, "SELECT 1");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok ? STORE_OK : STORE_UNAVAILABLE;
}

static int pg_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id)
{
	PGconn *c = conn_get(to_pg(st));
	struct params u = { .n = 0 }, k = { .n = 0 };
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if (exec_simple(c, "BEGIN") == -1)
		return STORE_UNAVAILABLE;
	p_text(&u, username);
	p_text(&u, email);
	p_text(&u, password_hash);
	p_int(&u, now);
	PGresult *r = run(st, P_USER_INSERT, &u, &rc);
	if (r != NULL) {
		*id = col_int(r, 0, 0);
		PQclear(r);
		p_int(&k, *id);
		p_blob(&k, key->hash, sizeof(key->hash));
		p_blob(&k, key->box, sizeof(key->box));
		p_int(&k, now);
		if ((r = run(st, P_KEY_INSERT, &k, &rc)) != NULL)
			PQclear(r);
		else if (rc == STORE_CONFLICT)
			rc = STORE_ERR; /* a key hash collision: not the client's fault */
	}
	if (rc == STORE_OK && exec_simple(c, "COMMIT") == 0)
		return STORE_OK;
	exec_simple(c, "ROLLBACK");
	return rc == STORE_OK ? STORE_ERR : rc;
}

static int one_user(struct store *st, enum pg_stmt id, struct params *p, struct store_user *out)
{
	int rc;
	PGresult *r = run(st, id, p, &rc);
	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_OK)
		user_row(r, 0, out);
	PQclear(r);
	return rc;
}

static int pg_user_by_name(struct store *st, const char *username, struct store_user *out)
{
	struct params p = { .n = 0 };
	p_text(&p, username);
	return one_user(st, P_USER_BY_NAME, &p, out);
}

static int pg_user_by_id(struct store *st, int64_t id, struct store_user *out)
{
	struct params p = { .n = 0 };
	p_int(&p, id);
	return one_user(st, P_USER_BY_ID, &p, out);
}

static int pg_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out)
{
	struct params p = { .n = 0 };
	int rc;

	p_int(&p, user_id);
	PGresult *r = run(st, P_KEY_GET, &p, &rc);
	if (r == NULL)
		return rc;
	rc =
	    PQntuples(r) != 1 ? STORE_NOT_FOUND
	    : col_blob(r, 0, 0, out->hash, sizeof(out->hash)) == 0 && col_blob(r, 0, 1, out->box, sizeof(out->box)) == 0
		? STORE_OK
		: STORE_ERR;
	PQclear(r);
	return rc;
}

/* A statement that changes rows: STORE_NOT_FOUND when it changed none. */
static int changed(struct store *st, enum pg_stmt id, struct params *p, PGresult **keep)
{
	int rc;
	PGresult *r = run(st, id, p, &rc);
	if (r == NULL)
		return rc;
	rc = strcmp(PQcmdTuples(r), "0") == 0 ? STORE_NOT_FOUND : STORE_OK;
	if (keep != NULL && rc == STORE_OK)
		*keep = r;
	else
		PQclear(r);
	return rc;
}

static int pg_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key)
{
	struct params p = { .n = 0 };
	p_int(&p, user_id);
	p_blob(&p, key->hash, sizeof(key->hash));
	p_blob(&p, key->box, sizeof(key->box));
	p_int(&p, (int64_t)time(NULL));
	int rc = changed(st, P_KEY_REPLACE, &p, NULL);
	store_epoch_keys_changed(&to_pg(st)->epoch); /* at once here; other processes are notified */
	return rc == STORE_CONFLICT ? STORE_ERR : rc;
}

static int pg_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id)
{
	struct params p = { .n = 0 };
	int rc;

	p_blob(&p, hash, APIKEY_HASH_BYTES);
	PGresult *r = run(st, P_KEY_FIND, &p, &rc);
	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_OK)
		*user_id = col_int(r, 0, 0);
	PQclear(r);
	return rc;
}

static int pg_users_list(struct store *st, store_user_fn each, void *arg)
{
	struct params p = { .n = 0 };
	struct store_user u;
	int rc;
	PGresult *r = run(st, P_USERS_LIST, &p, &rc);

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r) && rc == STORE_OK; i++) {
		user_row(r, i, &u);
		if (each(&u, col_int(r, i, 5), arg) == -1)
			rc = STORE_ERR;
	}
	PQclear(r);
	return rc;
}

/* An UPDATE of a user's standing (RETURNING id): the keys epoch moves. */
static int user_update(struct store *st, enum pg_stmt stmt, struct params *p, int64_t *id)
{
	PGresult *r = NULL;
	int rc = changed(st, stmt, p, &r);

	store_epoch_keys_changed(&to_pg(st)->epoch);
	if (rc == STORE_OK) {
		*id = col_int(r, 0, 0);
		PQclear(r);
	}
	return rc;
}

static int pg_user_set_active(struct store *st, const char *username, int active, int64_t *id)
{
	struct params p = { .n = 0 };

	p_text(&p, username);
	p_int(&p, active != 0);
	return user_update(st, P_USER_SET_ACTIVE, &p, id);
}

static int pg_user_set_tier(struct store *st, const char *username, const char *tier, int64_t *id)
{
	struct params p = { .n = 0 };

	p_text(&p, username);
	p_text(&p, tier);
	return user_update(st, P_USER_SET_TIER, &p, id);
}

static int pg_books_list(struct store *st, int64_t author, store_book_fn each, void *arg)
{
	struct params p = { .n = 0 };
	struct store_book b;
	int rc;

	p_int(&p, author);
	PGresult *r = run(st, P_BOOKS_LIST, &p, &rc);
	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r) && rc == STORE_OK; i++) {
		book_row(r, i, &b);
		if (each(&b, arg) == -1)
			rc = STORE_ERR;
	}
	PQclear(r);
	return rc;
}

static int book_result(struct store *st, enum pg_stmt id, struct params *p, struct store_book *out)
{
	int rc;
	PGresult *r = run(st, id, p, &rc);
	if (r == NULL)
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	rc = PQntuples(r) == 1 ? STORE_OK : STORE_NOT_FOUND;
	if (rc == STORE_OK)
		book_row(r, 0, out);
	PQclear(r);
	return rc;
}

static int pg_book_create(struct store *st, int64_t author, const char *title, const char *date, struct store_book *out)
{
	struct params p = { .n = 0 };
	p_text(&p, title);
	p_int(&p, author);
	p_text(&p, date);
	int rc = book_result(st, P_BOOK_INSERT, &p, out);
	store_epoch_books_changed(&to_pg(st)->epoch, author);
	return rc;
}

static int pg_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out)
{
	struct params p = { .n = 0 };
	p_int(&p, id);
	p_int(&p, author);
	return book_result(st, P_BOOK_GET, &p, out);
}

static int pg_book_update(
    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out)
{
	struct params p = { .n = 0 };
	p_int(&p, id);
	p_int(&p, author);
	p_text(&p, title); /* NULL: keep the title */
	p_text(&p, date);
	int rc = book_result(st, P_BOOK_UPDATE, &p, out);
	store_epoch_books_changed(&to_pg(st)->epoch, author);
	return rc;
}

static int pg_book_delete(struct store *st, int64_t id, int64_t author)
{
	struct params p = { .n = 0 };
	p_int(&p, id);
	p_int(&p, author);
	int rc = changed(st, P_BOOK_DELETE, &p, NULL);
	store_epoch_books_changed(&to_pg(st)->epoch, author);
	return rc;
}

/* The truth rows of store_epoch.h; the first read starts the listener. */
static int pg_epoch_read(struct store *st, uint64_t n[STORE_EPOCH_ROWS])
{
	struct store_pg *s = to_pg(st);
	struct params p = { .n = 0 };
	int rc, seen = 0;

	if (atomic_exchange_explicit(&s->listening, 1, memory_order_acq_rel) == 0) {
		s->listener = store_pg_listen_start(s->url, &s->epoch);
		if (s->listener == NULL)
			log_warnx("database: cannot listen for changes; other hosts' changes reach this one within %u ms",
			    STORE_EPOCH_CONFIRM_MS);
	}
	p_int(&p, STORE_EPOCH_ROWS);
	PGresult *r = run(st, P_EPOCH_READ, &p, &rc);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = col_int(r, i, 0);
		if (id >= 0 && id < STORE_EPOCH_ROWS) {
			n[id] = (uint64_t)col_int(r, i, 1);
			seen++;
		}
	}
	PQclear(r);
	return seen == STORE_EPOCH_ROWS ? 0 : -1;
}

static void pg_close(struct store *st)
{
	struct store_pg *s = to_pg(st);
	store_pg_listen_stop(s->listener);
	store_epoch_close(&s->epoch);
	conn_free(pthread_getspecific(s->key));
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	free(s);
}

static const struct store_ops pg_ops = {
	.close = pg_close,
	.ping = pg_ping,
	.user_create = pg_user_create,
	.user_by_name = pg_user_by_name,
	.user_by_id = pg_user_by_id,
	.apikey_get = pg_apikey_get,
	.apikey_replace = pg_apikey_replace,
	.apikey_find = pg_apikey_find,
	.users_list = pg_users_list,
	.user_set_active = pg_user_set_active,
	.user_set_tier = pg_user_set_tier,
	.books_list = pg_books_list,
	.book_create = pg_book_create,
	.book_get = pg_book_get,
	.book_update = pg_book_update,
	.book_delete = pg_book_delete,
};

/* Each migration newer than the database in its own transaction, under a
 * transaction-scoped advisory lock; a newer database is refused. */
static int pg_migrate(PGconn *c, char *err, size_t errlen)
{
	char sql[160];
	int latest = 0;

	for (int i = 0; i < pg_migrations_count; i++)
		if (pg_migrations[i].version > latest)
			latest = pg_migrations[i].version;
	if (exec_simple(c, "CREATE TABLE IF NOT EXISTS keygate_schema (version INT NOT NULL)") == -1)
		goto fail;
	for (int i = 0; i < pg_migrations_count; i++) {
		/* The lock id and version are ours: no client data in the SQL. */
		snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)", MIGRATION_LOCK);
		PGresult *r = PQexec(c, sql);
		PQclear(r);
		r = PQexec(c, "SELECT coalesce(max(version), 0) FROM keygate_schema");
		int current = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
		PQclear(r);
		if (current < 0 || current > latest) {
			exec_simple(c, "ROLLBACK");
			if (current > latest)
				snprintf(err, errlen,
				    "the database schema is version %d, newer than this keygate knows (%d); run a "
				    "newer keygate",
				    current, latest);
			else
				snprintf(err, errlen, "cannot read the schema version: %s", PQerrorMessage(c));
			return -1;
		}
		if (current >= pg_migrations[i].version) {
			exec_simple(c, "ROLLBACK");
			continue;
		}
		snprintf(
		    sql, sizeof(sql), "INSERT INTO keygate_schema (version) VALUES (%d)", pg_migrations[i].version);
		if (exec_simple(c, pg_migrations[i].sql) == -1 || exec_simple(c, "DELETE FROM keygate_schema") == -1 ||
		    exec_simple(c, sql) == -1 || exec_simple(c, "COMMIT") == -1) {
			exec_simple(c, "ROLLBACK");
			snprintf(err, errlen, "migration %s failed", pg_migrations[i].name);
			return -1;
		}
		log_info("database: applied migration %s (postgresql)", pg_migrations[i].name);
	}
	return 0;
fail:
	snprintf(err, errlen, "%s", PQerrorMessage(c));
	return -1;
}

struct store *store_pg_open(const struct config *cfg, char *err, size_t errlen)
{
	struct store_pg *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.ops = &pg_ops;
	snprintf(s->url, sizeof(s->url), "%s", cfg->db_url);
	if (pthread_key_create(&s->key, conn_free) != 0) {
		free(s);
		snprintf(err, errlen, "pthread_key_create failed");
		return NULL;
	}
	/* Migrate before preparing: the statements need the tables. */
	PGconn *c = PQconnectdb(s->url);
	if (PQstatus(c) != CONNECTION_OK) {
		/* The URL may hold a password: only libpq's message is shown. */
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
		goto fail;
	}
	if (pg_migrate(c, err, errlen) == -1 || prepare_all(c) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot prepare statements");
		goto fail;
	}
	pthread_setspecific(s->key, c);
	if (store_epoch_open(&s->epoch, NULL, pg_epoch_read) == -1) {
		snprintf(err, errlen, "out of memory");
		pg_close(&s->base);
		return NULL;
	}
	s->base.epoch = &s->epoch;
	return &s->base;
fail:
	PQfinish(c);
	pthread_key_delete(s->key);
	free(s);
	return NULL;
}
