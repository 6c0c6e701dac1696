/* store_open.c: the one place that knows the storage backends, so that
 * they depend on the interface (store.h) and the interface not on them. */
#include "store/store.h"

#include "base/config.h"
#include "store/store_pg.h"
#include "store/store_sqlite.h"

struct store *store_open(const struct config *cfg, char *err, size_t errlen)
{
	return cfg->db_url[0] != '\0' ? store_pg_open(cfg, err, errlen) : store_sqlite_open(cfg, err, errlen);
}
