/* handler_books.c: /books/ and /books/{id}/ — the key owner's books. */
#include <string.h>
#include <time.h>

#include "base/app.h"
#include "api/book_json.h"
#include "api/handlers.h"
#include "http/http_reply.h"
#include "api/list_cache.h"
#include "store/store.h"
#include "lib/validate.h"

static enum handler_rc reply_book(struct request *req, unsigned status, const struct store_book *b)
{
	struct book_json j;

	book_json_init(&j);
	if (book_json_one(&j, b) == 0)
		http_reply_json_text(req, status, j.text, j.len);
	else
		http_reply_error(req, HTTP_ERR_INTERNAL, NULL);
	book_json_free(&j);
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
	book_json_list_add(arg, b);
	return 0;
}

enum handler_rc handler_books_list(struct request *req)
{
	struct store *st = req->app->store;
	struct book_json j;
	size_t len;

	/* The epoch before the list: a change after this load changes it. A
	 * list read in a read pass comes from a snapshot that may be older
	 * than the epoch, so it is served but not kept. */
	uint64_t epoch = store_books_epoch(st, req->user_id);
	const char *kept = list_cache_get(req->user_id, epoch, &len);
	if (kept != NULL) {
		http_reply_json_text(req, 200, kept, len);
		return HANDLER_DONE;
	}
	book_json_init(&j);
	book_json_list_begin(&j);
	int rc = store_books_list(st, req->user_id, append_book, &j);
	int rendered = rc == STORE_OK && book_json_list_end(&j) == 0;
	if (rendered) {
		if (!req->read_pass)
			list_cache_keep(req->user_id, epoch, j.text, j.len);
		http_reply_json_text(req, 200, j.text, j.len);
	}
	book_json_free(&j);
	if (rc != STORE_OK)
		return handler_store_failed(req, rc);
	return rendered ? HANDLER_DONE : handler_internal_error(req, "books: rendering the list");
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
