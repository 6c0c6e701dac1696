#ifndef KEYGATE_KEYCACHE_H
#define KEYGATE_KEYCACHE_H

#include <stdint.h>

#include "lib/apikey.h"

/*
 * A per-thread cache of API key -> user id (0: no such key), so that the
 * common request needs no database round trip. It is valid for one value
 * of the store's key epoch (store_keys_epoch): every change of a key or of
 * a user's standing, wherever it is made, changes the epoch, and each
 * thread drops its cache on seeing a new one. "No such key" is kept for
 * one second at most. Each thread owns its table; nothing is shared, no
 * lock is taken.
 */

/* Size the tables (entries per thread; 0 disables the cache). Start-up. */
void keycache_init(unsigned entries);

/* 1 and *user_id (0 = known unknown) when cached under epoch, else 0. */
int keycache_get(const uint8_t key[APIKEY_BYTES], uint64_t epoch, int64_t *user_id);
void keycache_put(const uint8_t key[APIKEY_BYTES], uint64_t epoch, int64_t user_id);

#endif
