#ifndef KEYGATE_LIST_CACHE_H
#define KEYGATE_LIST_CACHE_H

#include <stddef.h>
#include <stdint.h>

/*
 * GET /books/ replies kept per thread, each under the store's epoch of
 * its author's books (store_books_epoch) as loaded before the list was
 * read: a kept reply is served while that epoch is unchanged, which
 * store.h bounds (at once for this process's changes, within a second for
 * anyone's). Replies longer than LIST_CACHE_BODY_MAX are not kept.
 *
 * THREAD SAFETY: each thread has its own lists (a pthread key, freed at
 * thread exit); only the switch, set at start-up, is shared.
 */
#define LIST_CACHE_BODY_MAX 16384u

/* Start-up: keep lists (1) or not (0). */
void list_cache_init(int enabled);
/* The author's reply as kept under epoch, or NULL. */
const char *list_cache_get(int64_t author, uint64_t epoch, size_t *len);
void list_cache_keep(int64_t author, uint64_t epoch, const char *text, size_t len);

#endif
