/* migrate.c: apply the embedded migrations to a SQLite database. */
#include "store/migrate.h"

#include <stdio.h>

#include "base/log.h"

int migrate_latest(void)
{
	int v = 0;
	for (int i = 0; i < migrations_count; i++)
		if (migrations[i].version > v)
			v = migrations[i].version;
	return v;
}

static int user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc;
}

static int apply_one(sqlite3 *db, const struct migration *m, int *applied, char *err, size_t errlen)
{
	char setver[64];
	int current;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	/* Read the version inside the write lock: another process may have
	 * migrated while we waited. */
	if (user_version(db, &current) == -1)
		goto fail;
	if (current >= m->version) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	/* PRAGMA takes no bound parameters; the number is ours, not a client's. */
	snprintf(setver, sizeof(setver), "PRAGMA user_version = %d", m->version);
	if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, setver, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	log_info("database: applied migration %s", m->name);
	(*applied)++;
	return 0;
fail:
	snprintf(err, errlen, "migration %s: %s", m->name, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int migrate_sqlite(sqlite3 *db, char *err, size_t errlen)
{
	int current, applied = 0, latest = migrate_latest();

	if (user_version(db, &current) == -1) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (current > latest) {
		snprintf(err, errlen,
		    "the database schema is version %d, newer than this keygate knows (%d); run a newer keygate",
		    current, latest);
		return -1;
	}
	for (int i = 0; i < migrations_count; i++)
		if (migrations[i].version > current && apply_one(db, &migrations[i], &applied, err, errlen) == -1)
			return -1;
	return 0;
}
