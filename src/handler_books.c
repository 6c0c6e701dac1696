/* handler_books.c: /books/ and /books/{id}/ — the key owner's books. */
#include <string.h>
#include <time.h>

#include "app.h"
#include "handlers.h"
#include "http_reply.h"
#include "store.h"
#include "validate.h"

static json_t *book_json(const struct store_book *b)
{
	json_t *o = json_object();

	/* Fields in the contract's order; the store's text is UTF-8 already
	 * (titles were validated on the way in). */
	json_object_set_new_nocheck(o, "id", json_integer(b->id));
	json_object_set_new_nocheck(o, "title", json_stringn_nocheck(b->title, strlen(b->title)));
	json_object_set_new_nocheck(o, "author", json_integer(b->author));
	json_object_set_new_nocheck(o, "publication_date", json_string_nocheck(b->publication_date));
	return o;
}

static enum handler_rc reply_book(struct request *req, unsigned status, const struct store_book *b)
{
	http_reply_json(req, status, json_pack("{s:s, s:o}", "message", "successful", "data", book_json(b)));
	return HANDLER_DONE;
}

/* Django's auto_now for a DateField: today, here in UTC. */
static void today(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * The title from the body, trimmed as DRF's CharField does, into buf.
 * Returns 1 with a title, 0 when absent and not required, -1 after
 * replying 400. id, author and publication_date in the body are ignored.
 */
static int title_from_body(struct request *req, int required, char buf[STORE_TITLE_MAX + 1])
{
	json_t *errors = json_object();
	size_t len;

	if (!required && json_object_get(req->json, "title") == NULL) {
		json_decref(errors);
		return 0;
	}
	const char *s = validate_string(req->json, "title", VALIDATE_REQUIRED, errors, &len);
	if (s != NULL) {
		while (len > 0 && strchr(" \t\n\r\f\v", *s) != NULL) {
			s++;
			len--;
		}
		while (len > 0 && strchr(" \t\n\r\f\v", s[len - 1]) != NULL)
			len--;
		if (len == 0)
			validate_fail(errors, "title", "This field may not be blank.");
		else if (validate_title(s, len, errors) == 0) {
			memcpy(buf, s, len); /* at most 100 characters: fits */
			buf[len] = '\0';
		}
	}
	if (json_object_size(errors) > 0) {
		http_reply_invalid(req, "Failed", errors);
		return -1;
	}
	json_decref(errors);
	return 1;
}

static int append_book(const struct store_book *b, void *arg)
{
	return json_array_append_new(arg, book_json(b)) == 0 ? 0 : -1;
}

static int reply_body(const char *text, size_t len, void *arg)
{
	http_reply_json_text(arg, 200, text, len);
	return 0;
}

enum handler_rc handler_books_list(struct request *req)
{
	/* The engine renders the body where it can (SQLite): a JSON tree of
	 * every book per request was a sixth of a GET's CPU. */
	int rc = store_books_list_body(req->app->store, req->user_id, reply_body, req);
	if (rc == 1) {
		json_t *list = json_array();
		rc = store_books_list(req->app->store, req->user_id, append_book, list);
		if (rc == STORE_OK)
			http_reply_json(req, 200, json_pack("{s:s, s:o}", "message", "successful", "data", list));
		else
			json_decref(list);
	}
	return rc == STORE_OK ? HANDLER_DONE : handler_store_failed(req, rc);
}

enum handler_rc handler_books_create(struct request *req)
{
	char title[STORE_TITLE_MAX + 1], date[11];
	struct store_book b;

	if (title_from_body(req, 1, title) == -1)
		return HANDLER_DONE;
	today(date);
	int rc = store_book_create(req->app->store, req->user_id, title, date, &b);
	if (rc != STORE_OK)
		return handler_store_failed(req, rc);
	return reply_book(req, 201, &b);
}

enum handler_rc handler_book_get(struct request *req)
{
	struct store_book b;
	int rc = store_book_get(req->app->store, req->path_id, req->user_id, &b);

	if (rc != STORE_OK) /* another user's book is not found either */
		return handler_store_failed(req, rc);
	return reply_book(req, 200, &b);
}

/* PUT replaces (title required), PATCH amends (title optional); both set
 * publication_date to today, as Django's auto_now does on every save. */
enum handler_rc handler_book_update(struct request *req)
{
	char title[STORE_TITLE_MAX + 1], date[11];
	struct store_book b;

	int has = title_from_body(req, req->method == HTTP_PUT, title);
	if (has == -1)
		return HANDLER_DONE;
	today(date);
	int rc = store_book_update(req->app->store, req->path_id, req->user_id, has ? title : NULL, date, &b);
	if (rc != STORE_OK) /* another user's book is not found either */
		return handler_store_failed(req, rc);
	return reply_book(req, 200, &b);
}

enum handler_rc handler_book_delete(struct request *req)
{
	int rc = store_book_delete(req->app->store, req->path_id, req->user_id);

	if (rc != STORE_OK) /* another user's book is not found either */
		return handler_store_failed(req, rc);
	http_reply_empty(req, 204);
	return HANDLER_DONE;
}
