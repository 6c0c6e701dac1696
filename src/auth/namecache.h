#ifndef KEYGATE_NAMECACHE_H
#define KEYGATE_NAMECACHE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A per-thread cache of user id -> username and tier, so that a
 * forward-auth answer (X-Keygate-Username) and a tier's windows cost no
 * database read for a user this thread has seen. Each entry is valid for the store's key epoch it was read under
 * (store_keys_epoch): a user's deletion or any change of their row changes
 * the epoch, so a reused id never shows an old name. Names longer than
 * NAMECACHE_NAME_MAX bytes are not kept (they are read each time). Each
 * thread owns its table; nothing is shared, no lock is taken.
 */
#define NAMECACHE_NAME_MAX 45

/* Size the tables (entries per thread, rounded up to a power of two; 0
 * disables the cache). Start-up, before any thread uses it. */
void namecache_init(unsigned entries);

/* 1 with the name in out (NUL-terminated; size > NAMECACHE_NAME_MAX) when
 * cached under epoch, else 0. epoch 0 never matches. */
int namecache_get(int64_t user_id, uint64_t epoch, char *out, size_t size);
/* 1 with the user's tier (a config_tier_index, -1 for none) when cached
 * under epoch, else 0: kept even when the name is too long to be. */
int namecache_get_tier(int64_t user_id, uint64_t epoch, int *tier);
void namecache_put(int64_t user_id, uint64_t epoch, const char *name, int tier);

#endif
