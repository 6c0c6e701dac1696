/*
 * keycache.c: per-thread API key -> user id tables.
 *
 * THREAD SAFETY: each thread has its own table (a pthread key, freed at
 * thread exit); the only shared datum is the configured size, written once
 * at start-up. The slot index is a keyed hash of the key (a random key per
 * process) so that clients cannot aim keys at one slot.
 */
#include "keycache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint8_t key[APIKEY_BYTES];
	int64_t user_id;
	uint8_t used;
};

struct table {
	uint64_t epoch;
	unsigned mask;
	struct slot slots[];
};

static unsigned capacity; /* a power of two, or 0 */
static unsigned char index_key[crypto_shorthash_KEYBYTES];
static pthread_key_t table_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_key(void)
{
	pthread_key_create(&table_key, free);
}

void keycache_init(unsigned entries)
{
	capacity = 0;
	if (entries > 0) {
		capacity = 1;
		while (capacity < entries)
			capacity <<= 1;
	}
	randombytes_buf(index_key, sizeof(index_key));
	pthread_once(&once, make_key);
}

/* This thread's table for epoch, emptied if it was made for another. */
static struct table *table_for(uint64_t epoch)
{
	struct table *t = pthread_getspecific(table_key);

	if (t == NULL) {
		t = calloc(1, sizeof(*t) + capacity * sizeof(struct slot));
		if (t == NULL)
			return NULL;
		t->mask = capacity - 1;
		t->epoch = epoch;
		pthread_setspecific(table_key, t);
	} else if (t->epoch != epoch) {
		memset(t->slots, 0, capacity * sizeof(struct slot));
		t->epoch = epoch;
	}
	return t;
}

static unsigned slot_of(const struct table *t, const uint8_t key[APIKEY_BYTES])
{
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, key, APIKEY_BYTES, index_key);
	return (unsigned)h & t->mask;
}

int keycache_get(const uint8_t key[APIKEY_BYTES], uint64_t epoch, int64_t *user_id)
{
	if (capacity == 0)
		return 0;
	struct table *t = table_for(epoch);
	if (t == NULL)
		return 0;
	const struct slot *s = &t->slots[slot_of(t, key)];
	if (!s->used || sodium_memcmp(s->key, key, APIKEY_BYTES) != 0)
		return 0;
	*user_id = s->user_id;
	return 1;
}

void keycache_put(const uint8_t key[APIKEY_BYTES], uint64_t epoch, int64_t user_id)
{
	if (capacity == 0)
		return;
	struct table *t = table_for(epoch);
	if (t == NULL)
		return;
	/* Direct-mapped: a newcomer replaces whoever had its slot. */
	struct slot *s = &t->slots[slot_of(t, key)];
	memcpy(s->key, key, APIKEY_BYTES);
	s->user_id = user_id;
	s->used = 1;
}
