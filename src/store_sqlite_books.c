/* store_sqlite_books.c: books in SQLite, always scoped to their author. */
#include <sqlite3.h>
#include <string.h>

#include "store_sqlite_int.h"

static void book_row(sqlite3_stmt *q, struct store_book *out)
{
	out->id = sqlite3_column_int64(q, 0);
	sqlite_copy_text(out->title, sizeof(out->title), q, 1);
	out->author = sqlite3_column_int64(q, 2);
	sqlite_copy_text(out->publication_date, sizeof(out->publication_date), q, 3);
}

int sqlite_books_list(struct store *st, int64_t author, store_book_fn each, void *arg)
{
	struct conn *c = sqlite_conn(st);
	struct store_book b;
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_BOOKS_LIST];
	sqlite3_bind_int64(q, 1, author);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		book_row(q, &b);
		if (each(&b, arg) == -1) {
			sqlite_done(q);
			return STORE_ERR;
		}
	}
	sqlite_done(q);
	return rc == SQLITE_DONE ? STORE_OK : sqlite_map_rc(c, rc);
}

int sqlite_book_create(struct store *st, int64_t author, const char *title, const char *date, struct store_book *out)
{
	struct conn *c = sqlite_conn(st);
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = sqlite_begin(c)) != STORE_OK)
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_INSERT];
	sqlite3_bind_text(q, 1, title, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, author);
	sqlite3_bind_text(q, 3, date, -1, SQLITE_STATIC);
	rc = sqlite_exec_stmt(c, S_BOOK_INSERT);
	if (rc == STORE_OK) {
		out->id = sqlite3_last_insert_rowid(c->db);
		rc = sqlite_commit(c);
	}
	if (rc != STORE_OK) {
		sqlite_rollback(c);
		return rc == STORE_CONFLICT ? STORE_ERR : rc; /* the author vanished */
	}
	out->author = author;
	snprintf(out->title, sizeof(out->title), "%s", title);
	snprintf(out->publication_date, sizeof(out->publication_date), "%s", date);
	return STORE_OK;
}

int sqlite_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out)
{
	struct conn *c = sqlite_conn(st);

	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_BOOK_GET];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		book_row(q, out);
	sqlite_done(q);
	return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_map_rc(c, rc);
}

int sqlite_book_update(struct store *st, int64_t id, int64_t author, const char *title, const char *date,
    struct store_book *out)
{
	struct conn *c = sqlite_conn(st);
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = sqlite_begin(c)) != STORE_OK)
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_UPDATE];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	if (title != NULL)
		sqlite3_bind_text(q, 3, title, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, date, -1, SQLITE_STATIC);
	int step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		book_row(q, out);
	/* Run the statement to its end so RETURNING completes the update. */
	while (step == SQLITE_ROW)
		step = sqlite3_step(q);
	sqlite_done(q);
	rc = step == SQLITE_DONE ? (sqlite3_changes(c->db) > 0 ? STORE_OK : STORE_NOT_FOUND) : sqlite_map_rc(c, step);
	if (rc == STORE_OK && (rc = sqlite_commit(c)) == STORE_OK)
		return STORE_OK;
	sqlite_rollback(c);
	return rc;
}

int sqlite_book_delete(struct store *st, int64_t id, int64_t author)
{
	struct conn *c = sqlite_conn(st);
	int rc;

	if (c == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = sqlite_begin(c)) != STORE_OK)
		return rc == STORE_CONFLICT ? STORE_ERR : rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_DELETE];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	rc = sqlite_exec_stmt(c, S_BOOK_DELETE);
	if (rc == STORE_OK && sqlite3_changes(c->db) == 0)
		rc = STORE_NOT_FOUND;
	if (rc == STORE_OK && (rc = sqlite_commit(c)) == STORE_OK)
		return STORE_OK;
	sqlite_rollback(c);
	return rc;
}
