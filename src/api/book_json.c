/* book_json.c: books as JSON text (book_json.h). */
#include "api/book_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void book_json_init(struct book_json *j)
{
	memset(j, 0, sizeof(*j));
}

void book_json_free(struct book_json *j)
{
	free(j->text);
	book_json_init(j);
}

static int room(struct book_json *j, size_t n)
{
	if (j->failed)
		return 0;
	if (j->len + n + 1 <= j->cap)
		return 1;
	size_t cap = j->cap != 0 ? j->cap : 256;
	while (cap < j->len + n + 1)
		cap *= 2;
	char *t = realloc(j->text, cap);
	if (t == NULL) {
		j->failed = 1;
		return 0;
	}
	j->text = t;
	j->cap = cap;
	return 1;
}

static void put(struct book_json *j, const char *s, size_t n)
{
	if (!room(j, n))
		return;
	memcpy(j->text + j->len, s, n);
	j->len += n;
	j->text[j->len] = '\0';
}

static void put_str(struct book_json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void put_int(struct book_json *j, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);
	put(j, num, (size_t)n);
}

/* A JSON string: the text is UTF-8 already (validated on the way in). */
static void put_quoted(struct book_json *j, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	put(j, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c != '\0' && c != '"' && c != '\\' && c >= 0x20)
			continue;
		put(j, run, (size_t)(s - run));
		if (c == '\0')
			break;
		run = s + 1;
		switch (c) {
		case '"': put(j, "\\\"", 2); break;
		case '\\': put(j, "\\\\", 2); break;
		case '\b': put(j, "\\b", 2); break;
		case '\f': put(j, "\\f", 2); break;
		case '\n': put(j, "\\n", 2); break;
		case '\r': put(j, "\\r", 2); break;
		case '\t': put(j, "\\t", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(j, u, sizeof(u));
		}
		}
	}
	put(j, "\"", 1);
}

static void put_book(struct book_json *j, const struct store_book *b)
{
	put_str(j, "{\"id\":");
	put_int(j, b->id);
	put_str(j, ",\"title\":");
	put_quoted(j, b->title);
	put_str(j, ",\"author\":");
	put_int(j, b->author);
	put_str(j, ",\"publication_date\":");
	put_quoted(j, b->publication_date);
	put(j, "}", 1);
}

int book_json_one(struct book_json *j, const struct store_book *b)
{
	j->len = 0;
	put_str(j, "{\"message\":\"successful\",\"data\":");
	put_book(j, b);
	put(j, "}", 1);
	return j->failed ? -1 : 0;
}

void book_json_list_begin(struct book_json *j)
{
	j->len = 0;
	put_str(j, "{\"message\":\"successful\",\"data\":[");
}

void book_json_list_add(struct book_json *j, const struct store_book *b)
{
	if (j->text != NULL && j->len > 0 && j->text[j->len - 1] != '[')
		put(j, ",", 1);
	put_book(j, b);
}

int book_json_list_end(struct book_json *j)
{
	put(j, "]}", 2);
	return j->failed ? -1 : 0;
}
