/*
 * namecache.c: per-thread user id -> username tables.
 *
 * THREAD SAFETY: each thread has its own table (a pthread key, freed at
 * thread exit); the only shared datum is the configured size, written once
 * at start-up. Ids are not chosen by clients (the store assigns them), so
 * an unkeyed mix places them.
 */
#include "auth/namecache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mix64.h"

/* 64 bytes: one cache line a name. */
struct slot {
	int64_t user_id;
	uint64_t epoch; /* 0: empty */
	uint8_t len; /* NAME_UNKEPT: too long to keep */
	int8_t tier;
	char name[NAMECACHE_NAME_MAX + 1];
};

#define NAME_UNKEPT 0xff
_Static_assert(sizeof(struct slot) == 64, "a slot is a cache line");

static unsigned capacity; /* a power of two, or 0 */
static pthread_key_t table_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_key(void)
{
	pthread_key_create(&table_key, free);
}

void namecache_init(unsigned entries)
{
	capacity = 0;
	if (entries > 0) {
		capacity = 1;
		while (capacity < entries)
			capacity <<= 1;
	}
	pthread_once(&once, make_key);
	/* A table made before, on this thread, has the old size. */
	free(pthread_getspecific(table_key));
	pthread_setspecific(table_key, NULL);
}

/* This thread's slot for user_id, or NULL (no cache, no memory). Slots
 * carry their own epoch, so a new epoch empties nothing: stale slots
 * simply stop matching. */
static struct slot *slot_of(int64_t user_id)
{
	struct slot *t;

	if (capacity == 0)
		return NULL;
	t = pthread_getspecific(table_key);
	if (t == NULL) {
		t = calloc(capacity, sizeof(*t));
		if (t == NULL)
			return NULL;
		pthread_setspecific(table_key, t);
	}
	return &t[mix64((uint64_t)user_id) & (capacity - 1)];
}

int namecache_get(int64_t user_id, uint64_t epoch, char *out, size_t size)
{
	const struct slot *s = slot_of(user_id);

	if (s == NULL || epoch == 0 || s->epoch != epoch || s->user_id != user_id || s->len == NAME_UNKEPT ||
	    s->len >= size)
		return 0;
	memcpy(out, s->name, (size_t)s->len + 1);
	return 1;
}

int namecache_get_tier(int64_t user_id, uint64_t epoch, int *tier)
{
	const struct slot *s = slot_of(user_id);

	if (s == NULL || epoch == 0 || s->epoch != epoch || s->user_id != user_id)
		return 0;
	*tier = s->tier;
	return 1;
}

void namecache_put(int64_t user_id, uint64_t epoch, const char *name, int tier)
{
	size_t len = strlen(name);
	struct slot *s;

	if (epoch == 0 || (s = slot_of(user_id)) == NULL)
		return;
	s->user_id = user_id;
	s->epoch = epoch;
	s->tier = (int8_t)tier;
	s->len = len > NAMECACHE_NAME_MAX ? NAME_UNKEPT : (uint8_t)len;
	if (len <= NAMECACHE_NAME_MAX)
		memcpy(s->name, name, len + 1);
}
