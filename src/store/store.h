#ifndef KEYGATE_STORE_H
#define KEYGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/apikey.h"
#include "base/password.h"

/*
 * Storage behind one interface. Handlers call store_*; only the backends
 * (store_sqlite*.c, store_pg*.c) know their engine, and only store_open.c
 * knows the backends. Every function may be called from
 * any thread at once: the backend keeps per-thread connections.
 *
 * Return codes: STORE_OK, or one of the negative codes below. A store error
 * never carries client data into a log line.
 */
enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1, /* the engine failed: answer 500 */
	STORE_NOT_FOUND = -2,
	STORE_CONFLICT = -3, /* a unique value is taken */
	STORE_UNAVAILABLE = -4, /* busy or cannot be opened: answer 503 */
	STORE_FULL = -5, /* disk full or read-only: writes wait, 503 */
};

#define STORE_USERNAME_MAX 600 /* 150 characters of up to 4 bytes */
#define STORE_EMAIL_MAX 1024
#define STORE_TIER_MAX 32 /* bytes of a tier's name; "" is the default */

struct store_user {
	int64_t id;
	char username[STORE_USERNAME_MAX + 1];
	char email[STORE_EMAIL_MAX + 1];
	char password_hash[PASSWORD_HASH_MAX];
	int is_active;
	char tier[STORE_TIER_MAX + 1];
};

/* Called for each user of a listing; return -1 to stop. */
typedef int (*store_user_fn)(const struct store_user *user, int64_t date_joined, void *arg);

struct store_apikey {
	uint8_t hash[APIKEY_HASH_BYTES];
	uint8_t box[APIKEY_BOX_BYTES];
};

#define STORE_TITLE_MAX 400 /* 100 characters of up to 4 bytes */

struct store_book {
	int64_t id;
	int64_t author;
	char title[STORE_TITLE_MAX + 1];
	char publication_date[11]; /* YYYY-MM-DD */
};

/* Called for each book of a listing; return -1 to stop (the listing then
 * returns STORE_ERR). */
typedef int (*store_book_fn)(const struct store_book *book, void *arg);

struct store;
struct store_epoch;

struct store_ops {
	void (*close)(struct store *st);
	int (*ping)(struct store *st);
	/* Optional (NULL: every call is its own transaction). */
	int (*read_begin)(struct store *st);
	void (*read_end)(struct store *st);
	int (*user_create)(struct store *st, const char *username, const char *email, const char *password_hash,
	    const struct store_apikey *key, int64_t *id);
	int (*user_by_name)(struct store *st, const char *username, struct store_user *out);
	int (*user_by_id)(struct store *st, int64_t id, struct store_user *out);
	int (*apikey_get)(struct store *st, int64_t user_id, struct store_apikey *out);
	int (*apikey_replace)(struct store *st, int64_t user_id, const struct store_apikey *key);
	int (*apikey_find)(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id);
	int (*users_list)(struct store *st, store_user_fn each, void *arg);
	int (*user_set_active)(struct store *st, const char *username, int active, int64_t *id);
	int (*user_set_tier)(struct store *st, const char *username, const char *tier, int64_t *id);
	int (*books_list)(struct store *st, int64_t author, store_book_fn each, void *arg);
	int (*book_create)(
	    struct store *st, int64_t author, const char *title, const char *date, struct store_book *out);
	int (*book_get)(struct store *st, int64_t id, int64_t author, struct store_book *out);
	int (*book_update)(
	    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out);
	int (*book_delete)(struct store *st, int64_t id, int64_t author);
};

struct store {
	const struct store_ops *ops;
	struct store_epoch *epoch; /* the backend's (store_epoch.h) */
};

struct config;

/* Open the configured backend and bring its schema up to date (a schema
 * newer than this binary is refused). NULL with a reason in err. Start-up
 * only. Defined in store_open.c. */
struct store *store_open(const struct config *cfg, char *err, size_t errlen);
void store_close(struct store *st);

int store_ping(struct store *st);
/* A read pass: this thread's reads until store_read_end share one
 * transaction (one snapshot, one lock). Reads only: a write ends the pass
 * first. STORE_OK when a pass is open (end it), else the store's code;
 * reads still work either way. */
int store_read_begin(struct store *st);
void store_read_end(struct store *st);
/* The user and their API key, in one transaction. STORE_CONFLICT when the
 * username is taken. */
int store_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id);
int store_user_by_name(struct store *st, const char *username, struct store_user *out);
int store_user_by_id(struct store *st, int64_t id, struct store_user *out);
int store_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out);
/* Every user, by id (the admin CLI). */
int store_users_list(struct store *st, store_user_fn each, void *arg);
/* Enable or disable a user by name; *id gets theirs. A disabled user's
 * tokens and key are refused from the next request on. */
int store_user_set_active(struct store *st, const char *username, int active, int64_t *id);
/* Put a user by name in a tier ("" for the default); *id gets theirs. It
 * moves the keys epoch, as a disable does: every host's next request of
 * the user is decided by the tier's windows (store_keys_epoch). */
int store_user_set_tier(struct store *st, const char *username, const char *tier, int64_t *id);
/* Replace hash and sealed copy at once: the old key stops working. */
int store_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key);
/* The active user who owns the key with this hash. */
int store_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id);

/*
 * Epochs for caches kept above the store. What a caller reads after
 * loading an epoch may be kept under it for as long as the epoch stays
 * the same: it changes once any change to keys or users (store_keys_epoch)
 * or to the author's books (store_books_epoch) commits, made by this
 * process at once, by another keygate process or host as soon as it
 * learns of it (its shared hints on one host, PostgreSQL's notifications
 * across hosts), and by anything else (an SQL shell, a process killed
 * after its commit) within STORE_EPOCH_CONFIRM_MS (one second): each
 * thread reads the truth, counters the changing transaction bumps, that
 * often. Cheap: a memory load, and a read of the database once a second
 * per thread. 0 when the truth cannot be read: keep nothing then.
 * A new user's key changes no epoch (it was never cached).
 */
uint64_t store_keys_epoch(struct store *st);
uint64_t store_books_epoch(struct store *st, int64_t author);

/* Books belong to their author: every call names the author, and another
 * author's book is STORE_NOT_FOUND, exactly like a missing one. */
/* The author's books, oldest first. */
int store_books_list(struct store *st, int64_t author, store_book_fn each, void *arg);
int store_book_create(struct store *st, int64_t author, const char *title, const char *date, struct store_book *out);
int store_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out);
/* title NULL keeps the title (PATCH without one); date is always set. */
int store_book_update(
    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out);
int store_book_delete(struct store *st, int64_t id, int64_t author);

#endif
