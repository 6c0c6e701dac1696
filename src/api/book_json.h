#ifndef KEYGATE_BOOK_JSON_H
#define KEYGATE_BOOK_JSON_H

#include <stddef.h>

#include "store/store.h"

/*
 * The one definition of a book's JSON, and of the replies made of books:
 * {"message":"successful","data":BOOK} and, for a list,
 * {"message":"successful","data":[BOOK,...]}, where BOOK is
 * {"id":1,"title":"...","author":2,"publication_date":"YYYY-MM-DD"}
 * (compact, the contract's order; strings escaped as jansson does:
 * '"', '\\' and control characters, the rest as UTF-8).
 * Written straight into a growing buffer: a JSON tree per book was a
 * sixth of a GET's CPU.
 */
struct book_json {
	char *text;
	size_t len, cap;
	int failed; /* out of memory: the text is incomplete */
};

void book_json_init(struct book_json *j);
void book_json_free(struct book_json *j);
/* The reply for one book. 0, or -1 out of memory. */
int book_json_one(struct book_json *j, const struct store_book *b);
/* A list reply: begin, add each book, end (0, or -1 out of memory). */
void book_json_list_begin(struct book_json *j);
void book_json_list_add(struct book_json *j, const struct store_book *b);
int book_json_list_end(struct book_json *j);

#endif
