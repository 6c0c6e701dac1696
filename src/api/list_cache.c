/*
 * list_cache.c: GET /books/ replies kept per thread (list_cache.h).
 *
 * Reading and rendering a user's list was a third of a GET's CPU on
 * SQLite, and two round trips on PostgreSQL, for a reply that changes
 * only when that user's books do. One entry per slot (a hash of the
 * author): authors that share a slot only displace each other.
 */
#include "api/list_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mix64.h"

#define LIST_SLOTS 1024u /* lists kept per thread */

struct list_entry {
	int64_t author; /* 0: empty */
	uint64_t epoch;
	size_t len;
	char *body;
};

struct lists {
	struct list_entry entry[LIST_SLOTS];
};

static int enabled;
static pthread_key_t lists_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void lists_free(void *arg)
{
	struct lists *l = arg;
	if (l == NULL)
		return;
	for (unsigned i = 0; i < LIST_SLOTS; i++)
		free(l->entry[i].body);
	free(l);
}

static void make_key(void)
{
	pthread_key_create(&lists_key, lists_free);
}

void list_cache_init(int on)
{
	enabled = on;
	pthread_once(&once, make_key);
}

static struct list_entry *entry_of(int64_t author)
{
	struct lists *l = pthread_getspecific(lists_key);
	if (l == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			return NULL;
		if (pthread_setspecific(lists_key, l) != 0) {
			free(l);
			return NULL;
		}
	}
	return &l->entry[mix64((uint64_t)author) & (LIST_SLOTS - 1)];
}

const char *list_cache_get(int64_t author, uint64_t epoch, size_t *len)
{
	if (!enabled || epoch == 0)
		return NULL;
	const struct list_entry *e = entry_of(author);
	if (e == NULL || e->author != author || e->epoch != epoch)
		return NULL;
	*len = e->len;
	return e->body;
}

void list_cache_keep(int64_t author, uint64_t epoch, const char *text, size_t len)
{
	struct list_entry *e;

	if (!enabled || epoch == 0 || len > LIST_CACHE_BODY_MAX || (e = entry_of(author)) == NULL)
		return;
	if (e->body == NULL || len > e->len) {
		char *b = realloc(e->body, len);
		if (b == NULL)
			return;
		e->body = b;
	}
	memcpy(e->body, text, len);
	e->len = len;
	e->author = author;
	e->epoch = epoch;
}
