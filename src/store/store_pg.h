#ifndef KEYGATE_STORE_PG_H
#define KEYGATE_STORE_PG_H

#include <stddef.h>

struct config;
struct store;

/* The PostgreSQL backend ([database] url = postgresql://...): a connection
 * per thread with prepared statements; migrates on open. */
struct store *store_pg_open(const struct config *cfg, char *err, size_t errlen);

#endif
