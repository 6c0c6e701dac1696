/* store_sqlite_books.c: books in SQLite, always scoped to their author. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/store_sqlite_int.h"

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
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_INSERT];
	sqlite3_bind_text(q, 1, title, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, author);
	sqlite3_bind_text(q, 3, date, -1, SQLITE_STATIC);
	rc = sqlite_write_stmt(c, S_BOOK_INSERT, NULL, NULL);
	out->id = sqlite3_last_insert_rowid(c->db);
	rc = sqlite_write_end(c, rc == STORE_NOT_FOUND ? STORE_ERR : rc);
	store_epoch_books_changed(&c->owner->epoch, author);
	if (rc != STORE_OK)
		return rc == STORE_CONFLICT ? STORE_ERR : rc; /* the author vanished */
	out->author = author;
	snprintf(out->title, sizeof(out->title), "%s", title);
	snprintf(out->publication_date, sizeof(out->publication_date), "%s", date);
	return STORE_OK;
}

static int book_row_cb(sqlite3_stmt *q, void *arg)
{
	book_row(q, arg);
	return 0;
}

int sqlite_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out)
{
	struct conn *c = sqlite_conn(st);

	if (c == NULL)
		return STORE_UNAVAILABLE;
	sqlite3_stmt *q = c->stmt[S_BOOK_GET];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	return sqlite_read_row(c, S_BOOK_GET, book_row_cb, out);
}

int sqlite_book_update(
    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out)
{
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_UPDATE];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	if (title != NULL)
		sqlite3_bind_text(q, 3, title, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, date, -1, SQLITE_STATIC);
	rc = sqlite_write_end(c, sqlite_write_stmt(c, S_BOOK_UPDATE, book_row_cb, out));
	store_epoch_books_changed(&c->owner->epoch, author);
	return rc;
}

int sqlite_book_delete(struct store *st, int64_t id, int64_t author)
{
	struct conn *c;
	int rc = sqlite_write_begin(st, &c);

	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *q = c->stmt[S_BOOK_DELETE];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, author);
	rc = sqlite_write_end(c, sqlite_write_stmt(c, S_BOOK_DELETE, NULL, NULL));
	store_epoch_books_changed(&c->owner->epoch, author);
	return rc;
}
