#ifndef KEYGATE_THROTTLE_SHM_H
#define KEYGATE_THROTTLE_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "throttle/throttle.h"

struct config;

/*
 * The shared-memory backend: one POSIX shm segment per host, shared by
 * every thread and every keygate process, outliving restarts (not
 * reboots). Created on first open, attached afterwards; a segment of
 * another layout, size or set of rates is refused with a clear message.
 */
struct throttle *throttle_shm_open(const struct config *cfg, char *err, size_t errlen);

/* The segment's size in bytes and one scope's bytes per tracked key, for
 * the start-up log and the documentation. */
size_t throttle_shm_size(const struct throttle *t);
uint32_t throttle_shm_entry_size(const struct throttle *t, enum throttle_scope scope);

/* Tests only: take the stripe lock of key and return holding it, so that
 * a test can kill the process that holds it. */
void throttle_shm_hold_lock_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key);
/* Tests only: whether the stripe lock of key is free (taken and given
 * back at once), and which stripe key lives in. */
int throttle_shm_lock_free_for_test(struct throttle *t, enum throttle_scope scope, uint64_t key);
/* Take the lock of a stripe where some key K lives past its home, empty
 * K's home slot as a backward shift's first step does, and keep the lock
 * (the caller then dies, as a writer killed mid-shift); returns K, or 0
 * when no key lives past its home. */
uint64_t throttle_shm_break_cluster_for_test(struct throttle *t, enum throttle_scope scope);
uint32_t throttle_shm_home_stripe_for_test(const struct throttle *t, enum throttle_scope scope, uint64_t key);
/* Tests and metrics: how many dead holders' stripes were repaired. */
uint64_t throttle_shm_recoveries(const struct throttle *t);

#endif
