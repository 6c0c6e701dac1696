/* store_sqlite_users.c: users and their API keys in SQLite. */
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include "store/store_sqlite_int.h"

int sqlite_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id)
{
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *u = c->stmt[S_USER_INSERT];
	sqlite3_bind_text(u, 1, username, -1, SQLITE_STATIC);
	sqlite3_bind_text(u, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(u, 3, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(u, 4, now);
	if ((rc = sqlite_exec_stmt(c, S_USER_INSERT)) != STORE_OK)
		return sqlite_write_end(c, rc); /* STORE_CONFLICT: the name is taken */
	*id = sqlite3_last_insert_rowid(c->db);
	sqlite3_stmt *k = c->stmt[S_KEY_INSERT];
	sqlite3_bind_int64(k, 1, *id);
	sqlite3_bind_blob(k, 2, key->hash, sizeof(key->hash), SQLITE_STATIC);
	sqlite3_bind_blob(k, 3, key->box, sizeof(key->box), SQLITE_STATIC);
	sqlite3_bind_int64(k, 4, now);
	rc = sqlite_exec_stmt(c, S_KEY_INSERT);
	/* A key hash collision is no conflict of the client's making. */
	return sqlite_write_end(c, rc == STORE_CONFLICT ? STORE_ERR : rc);
}

static int user_row(sqlite3_stmt *q, void *arg)
{
	struct store_user *out = arg;

	out->id = sqlite3_column_int64(q, 0);
	sqlite_copy_text(out->username, sizeof(out->username), q, 1);
	sqlite_copy_text(out->email, sizeof(out->email), q, 2);
	sqlite_copy_text(out->password_hash, sizeof(out->password_hash), q, 3);
	out->is_active = sqlite3_column_int(q, 4);
	sqlite_copy_text(out->tier, sizeof(out->tier), q, 5);
	return 0;
}

int sqlite_user_by_name(struct store *st, const char *username, struct store_user *out)
{
	struct conn *c = sqlite_conn(st);
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_text(c->stmt[S_USER_BY_NAME], 1, username, -1, SQLITE_STATIC);
	return sqlite_read_row(c, S_USER_BY_NAME, user_row, out);
}

int sqlite_user_by_id(struct store *st, int64_t id, struct store_user *out)
{
	struct conn *c = sqlite_conn(st);
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(c->stmt[S_USER_BY_ID], 1, id);
	return sqlite_read_row(c, S_USER_BY_ID, user_row, out);
}

static int blob_copy(sqlite3_stmt *q, int col, uint8_t *dst, size_t len)
{
	if ((size_t)sqlite3_column_bytes(q, col) != len)
		return -1;
	memcpy(dst, sqlite3_column_blob(q, col), len);
	return 0;
}

static int key_row(sqlite3_stmt *q, void *arg)
{
	struct store_apikey *out = arg;

	if (blob_copy(q, 0, out->hash, sizeof(out->hash)) == -1 || blob_copy(q, 1, out->box, sizeof(out->box)) == -1)
		return -1;
	return 0;
}

int sqlite_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out)
{
	struct conn *c = sqlite_conn(st);
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_int64(c->stmt[S_KEY_GET], 1, user_id);
	return sqlite_read_row(c, S_KEY_GET, key_row, out);
}

int sqlite_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key)
{
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	/* One UPDATE: hash and sealed copy change together. */
	sqlite3_stmt *q = c->stmt[S_KEY_REPLACE];
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_blob(q, 2, key->hash, sizeof(key->hash), SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, key->box, sizeof(key->box), SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
	rc = sqlite_write_end(c, sqlite_write_stmt(c, S_KEY_REPLACE, NULL, NULL));
	store_epoch_keys_changed(&c->owner->epoch); /* the old key dies in every cache */
	return rc == STORE_CONFLICT ? STORE_ERR : rc;
}

static int id_column(sqlite3_stmt *q, void *arg)
{
	*(int64_t *)arg = sqlite3_column_int64(q, 0);
	return 0;
}

int sqlite_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id)
{
	struct conn *c = sqlite_conn(st);
	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_bind_blob(c->stmt[S_KEY_FIND], 1, hash, APIKEY_HASH_BYTES, SQLITE_STATIC);
	return sqlite_read_row(c, S_KEY_FIND, id_column, user_id);
}

int sqlite_users_list(struct store *st, store_user_fn each, void *arg)
{
	struct conn *c = sqlite_conn(st);
	struct store_user u;
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_USERS_LIST];
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		user_row(q, &u);
		if (each(&u, sqlite3_column_int64(q, 6), arg) == -1) {
			sqlite_done(q);
			return STORE_ERR;
		}
	}
	sqlite_done(q);
	return rc == SQLITE_DONE ? STORE_OK : sqlite_map_rc(c, rc);
}

/* An UPDATE of a user's standing by name (RETURNING id): ?2 is text
 * when text is not NULL, else number. The keys epoch moves. */
static int user_update(struct store *st, enum stmt_id stmt, const char *username, const char *text, int number, int64_t *id)
{
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *q = c->stmt[stmt];
	sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(q, 2, number);
	rc = sqlite_write_end(c, sqlite_write_stmt(c, stmt, id_column, id));
	store_epoch_keys_changed(&c->owner->epoch);
	return rc;
}

int sqlite_user_set_active(struct store *st, const char *username, int active, int64_t *id)
{
	return user_update(st, S_USER_SET_ACTIVE, username, NULL, active != 0, id);
}

int sqlite_user_set_tier(struct store *st, const char *username, const char *tier, int64_t *id)
{
	return user_update(st, S_USER_SET_TIER, username, tier, 0, id);
}
