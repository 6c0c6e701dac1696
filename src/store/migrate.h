#ifndef KEYGATE_MIGRATE_H
#define KEYGATE_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

/* Schema migrations, embedded at build time from migrations/NNNN_*.sql. */
struct migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct migration migrations[];
extern const int migrations_count;
/* The same schema in PostgreSQL's dialect (migrations/postgresql/). */
extern const struct migration pg_migrations[];
extern const int pg_migrations_count;

/* Apply every migration newer than the database's user_version, each in its
 * own IMMEDIATE transaction (so two processes never both apply one).
 * Refuses a database newer than this binary. 0, or -1 with err. */
int migrate_sqlite(sqlite3 *db, char *err, size_t errlen);

/* The newest schema version this binary knows. */
int migrate_latest(void);

#endif
