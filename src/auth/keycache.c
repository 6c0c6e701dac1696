/*
 * keycache.c: per-thread API key -> user id tables.
 *
 * THREAD SAFETY: each thread has its own table (a pthread key, freed at
 * thread exit); the only shared datum is the configured size, written once
 * at start-up. The slot index is a keyed hash of the key (a random key per
 * process) so that clients cannot aim keys at one slot.
 */
#include "lib/clock.h"
#include "auth/keycache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
	uint8_t key[APIKEY_BYTES];
	int64_t user_id;
	uint64_t until_ms; /* an unknown key's: when it stops counting */
	uint8_t used;
};

struct table {
	uint64_t epoch;
	unsigned mask;
	struct slot slots[];
};

/* Two-way sets: with a direct-mapped table, 10,000 active keys in 65,536
 * slots missed ~15% of lookups on collisions; a set of two overflows only
 * when three of them meet. */
#define WAYS 2

/* How long "no such key" is kept. A new user's key bumps no epoch (that
 * would empty every cache at each signup), so a key that was unknown and
 * is then created, which only an SQL shell could do (keygate's keys are
 * random), is found within this. */
#define UNKNOWN_TTL_MS 1000u

static unsigned capacity; /* a power of two >= WAYS, or 0 */
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
		capacity = WAYS;
		while (capacity < entries)
			capacity <<= 1;
	}
	randombytes_buf(index_key, sizeof(index_key));
	pthread_once(&once, make_key);
	/* A table made before, on this thread, has the old size. */
	free(pthread_getspecific(table_key));
	pthread_setspecific(table_key, NULL);
}

/* This thread's table for epoch, emptied if it was made for another. */
static struct table *table_for(uint64_t epoch)
{
	struct table *t = pthread_getspecific(table_key);

	if (t == NULL) {
		t = calloc(1, sizeof(*t) + capacity * sizeof(struct slot));
		if (t == NULL)
			return NULL;
		t->mask = capacity / WAYS - 1;
		t->epoch = epoch;
		pthread_setspecific(table_key, t);
	} else if (t->epoch != epoch) {
		memset(t->slots, 0, capacity * sizeof(struct slot));
		t->epoch = epoch;
	}
	return t;
}

/* The first slot of key's set. */
static struct slot *set_of(struct table *t, const uint8_t key[APIKEY_BYTES])
{
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, key, APIKEY_BYTES, index_key);
	return &t->slots[((unsigned)h & t->mask) * WAYS];
}

static struct slot *find(struct slot *set, const uint8_t key[APIKEY_BYTES])
{
	for (int i = 0; i < WAYS; i++)
		if (set[i].used && sodium_memcmp(set[i].key, key, APIKEY_BYTES) == 0)
			return &set[i];
	return NULL;
}

int keycache_get(const uint8_t key[APIKEY_BYTES], uint64_t epoch, int64_t *user_id)
{
	if (capacity == 0)
		return 0;
	struct table *t = table_for(epoch);
	if (t == NULL)
		return 0;
	const struct slot *s = find(set_of(t, key), key);
	if (s == NULL || (s->user_id == 0 && clock_coarse_ms() >= s->until_ms))
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
	struct slot *set = set_of(t, key), *s = find(set, key);
	if (s == NULL) { /* the newcomer goes first; the set's last is dropped */
		memmove(&set[1], &set[0], (WAYS - 1) * sizeof(*set));
		s = &set[0];
	}
	memcpy(s->key, key, APIKEY_BYTES);
	s->user_id = user_id;
	s->until_ms = user_id == 0 ? clock_coarse_ms() + UNKNOWN_TTL_MS : 0;
	s->used = 1;
}
