/*
 * Fill a keygate database with COUNT users, each with an API key, in one
 * transaction (a benchmark fixture: no Argon2 per user, one shared
 * password hash), track every user in the throttle segment, and write a
 * sample of the keys to a file for the load generator.
 * Usage: populate DATA_DIR SHM_NAME CAPACITY COUNT SAMPLE KEYS_FILE
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/apikey.h"
#include "base/config.h"
#include "base/password.h"
#include "base/secret.h"
#include "store/store.h"
#include "throttle/throttle.h"

static void die(const char *what, sqlite3 *db)
{
	fprintf(stderr, "populate: %s: %s\n", what, db != NULL ? sqlite3_errmsg(db) : "");
	exit(1);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct apikey_keys keys;
	unsigned char secret[SECRET_MAX];
	char err[512], path[CONFIG_PATH_MAX], hash[PASSWORD_HASH_MAX], text[APIKEY_TEXT_LEN + 1], name[32];
	size_t len;

	if (argc < 7 || sodium_init() < 0)
		return 2;
	long count = atol(argv[4]), sample = atol(argv[5]);
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", argv[1]);
	snprintf(cfg.shm_name, sizeof(cfg.shm_name), "%s", argv[2]);
	cfg.capacity = (unsigned)atol(argv[3]);
	cfg.rate_api_key = rate_set_of(1000000, 1);
	cfg.rate_login = cfg.rate_signup = cfg.rate_invalid_key = rate_set_of(1, 1);
	if (config_finish(&cfg, err, sizeof(err)) == -1)
		die(err, NULL);
	mkdir(cfg.data_dir, 0700);
	/* The store makes the schema; the rows go in with plain SQLite. */
	struct store *st = store_open(&cfg, err, sizeof(err));
	if (st == NULL)
		die(err, NULL);
	store_close(st);
	config_path(&cfg, cfg.key_secret_file, path, sizeof(path));
	if (secret_load(NULL, path, 1, secret, &len, err, sizeof(err)) == -1)
		die(err, NULL);
	apikey_keys_init(&keys, secret, len);
	struct throttle *thr = throttle_open(&cfg, err, sizeof(err));
	if (thr == NULL)
		die(err, NULL);
	if (password_hash_now("bench-password-1", 16, hash) == -1)
		die("hash", NULL);

	sqlite3 *db;
	sqlite3_stmt *u, *k;
	config_path(&cfg, cfg.db_path, path, sizeof(path));
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
		"INSERT INTO users (username, email, password_hash, date_joined) VALUES (?1, '', ?2, 0)", -1, &u,
		NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
		"INSERT INTO api_keys (user_id, key_hash, key_box, created_at) VALUES (?1, ?2, ?3, 0)", -1, &k,
		NULL) != SQLITE_OK)
		die("prepare", db);
	FILE *out = fopen(argv[6], "w");
	if (out == NULL)
		die(argv[6], NULL);
	uint64_t now = throttle_now_ms();
	for (long i = 0; i < count; i++) {
		uint8_t key[APIKEY_BYTES];
		struct store_apikey rec;
		struct throttle_decision d;
		snprintf(name, sizeof(name), "bench%ld", i);
		sqlite3_bind_text(u, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(u, 2, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(u) != SQLITE_DONE)
			die("insert user", db);
		sqlite3_reset(u);
		sqlite3_int64 id = sqlite3_last_insert_rowid(db);
		apikey_generate(key);
		apikey_hash(&keys, key, rec.hash);
		apikey_seal(&keys, key, rec.box);
		sqlite3_bind_int64(k, 1, id);
		sqlite3_bind_blob(k, 2, rec.hash, sizeof(rec.hash), SQLITE_STATIC);
		sqlite3_bind_blob(k, 3, rec.box, sizeof(rec.box), SQLITE_STATIC);
		if (sqlite3_step(k) != SQLITE_DONE)
			die("insert key", db);
		sqlite3_reset(k);
		/* Tracked in the throttle table, as an active user would be. */
		throttle_decide(thr, SCOPE_API_KEY, &cfg.rate_api_key, (uint64_t)id, now, 1, &d);
		if (i % (count / sample > 0 ? count / sample : 1) == 0) {
			apikey_format(key, text);
			fprintf(out, "%s\n", text);
		}
	}
	if (sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		die("commit", db);
	sqlite3_finalize(u);
	sqlite3_finalize(k);
	sqlite3_close(db);
	fclose(out);
	throttle_close(thr);
	printf("populate: %ld users\n", count);
	return 0;
}
