/* store.c: the storage interface; dispatches to the backend it was opened
 * with (store_open.c, the one file that knows the backends). */
#include "store/store.h"

#include "store/store_epoch.h"

void store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

int store_ping(struct store *st)
{
	return st->ops->ping(st);
}

int store_read_begin(struct store *st)
{
	return st->ops->read_begin != NULL ? st->ops->read_begin(st) : STORE_ERR;
}

void store_read_end(struct store *st)
{
	if (st->ops->read_end != NULL)
		st->ops->read_end(st);
}

int store_user_create(struct store *st, const char *username, const char *email, const char *password_hash,
    const struct store_apikey *key, int64_t *id)
{
	return st->ops->user_create(st, username, email, password_hash, key, id);
}

int store_user_by_name(struct store *st, const char *username, struct store_user *out)
{
	return st->ops->user_by_name(st, username, out);
}

int store_user_by_id(struct store *st, int64_t id, struct store_user *out)
{
	return st->ops->user_by_id(st, id, out);
}

int store_apikey_get(struct store *st, int64_t user_id, struct store_apikey *out)
{
	return st->ops->apikey_get(st, user_id, out);
}

int store_apikey_replace(struct store *st, int64_t user_id, const struct store_apikey *key)
{
	return st->ops->apikey_replace(st, user_id, key);
}

int store_apikey_find(struct store *st, const uint8_t hash[APIKEY_HASH_BYTES], int64_t *user_id)
{
	return st->ops->apikey_find(st, hash, user_id);
}

int store_books_list(struct store *st, int64_t author, store_book_fn each, void *arg)
{
	return st->ops->books_list(st, author, each, arg);
}

uint64_t store_keys_epoch(struct store *st)
{
	return st->epoch != NULL ? store_epoch_keys(st->epoch, st) : 0;
}

uint64_t store_books_epoch(struct store *st, int64_t author)
{
	return st->epoch != NULL ? store_epoch_books(st->epoch, st, author) : 0;
}

int store_book_create(struct store *st, int64_t author, const char *title, const char *date, struct store_book *out)
{
	return st->ops->book_create(st, author, title, date, out);
}

int store_book_get(struct store *st, int64_t id, int64_t author, struct store_book *out)
{
	return st->ops->book_get(st, id, author, out);
}

int store_book_update(
    struct store *st, int64_t id, int64_t author, const char *title, const char *date, struct store_book *out)
{
	return st->ops->book_update(st, id, author, title, date, out);
}

int store_book_delete(struct store *st, int64_t id, int64_t author)
{
	return st->ops->book_delete(st, id, author);
}

int store_users_list(struct store *st, store_user_fn each, void *arg)
{
	return st->ops->users_list(st, each, arg);
}

int store_user_set_active(struct store *st, const char *username, int active, int64_t *id)
{
	return st->ops->user_set_active(st, username, active, id);
}

int store_user_set_tier(struct store *st, const char *username, const char *tier, int64_t *id)
{
	return st->ops->user_set_tier(st, username, tier, id);
}
