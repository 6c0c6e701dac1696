#ifndef KEYGATE_STORE_SQLITE_H
#define KEYGATE_STORE_SQLITE_H

#include <stddef.h>

struct config;
struct store;

/* The SQLite backend: WAL, foreign keys on, one connection per thread with
 * its statements prepared once. Migrates on open. */
struct store *store_sqlite_open(const struct config *cfg, char *err, size_t errlen);

#endif
