/* Unit tests: the SQLite store's read pass, its rendered book list and the
 * lists it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "store.h"

static struct config cfg;
static char dir[] = "/tmp/kg-unit-store-XXXXXX";

static struct store *open_or_die(void)
{
	char err[512];
	struct store *st = store_open(&cfg, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	return st;
}

static int setup(void **state)
{
	char err[256];
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return -1;
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	if (config_finish(&cfg, err, sizeof(err)) != 0)
		return -1;
	struct store *st = open_or_die();
	struct store_apikey key;
	int64_t id;
	randombytes_buf(&key, sizeof(key));
	int rc = store_user_create(st, "reader", "r@example.com", "not-a-hash", &key, &id);
	*state = st;
	return rc == STORE_OK && id == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	store_close(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_book(const struct store_book *b, void *arg)
{
	(void)b;
	(*(int *)arg)++;
	return 0;
}

static int books_of_reader(struct store *st)
{
	int n = 0;
	assert_int_equal(store_books_list(st, 1, count_book, &n), STORE_OK);
	return n;
}

/* A write on another thread: its own connection, as an HTTP worker has. */
static void *add_book(void *arg)
{
	struct store_book b;
	return (void *)(intptr_t)store_book_create(arg, 1, "Another", "2026-01-01", &b);
}

static void write_elsewhere(struct store *st)
{
	pthread_t th;
	void *rc;
	assert_int_equal(pthread_create(&th, NULL, add_book, st), 0);
	assert_int_equal(pthread_join(th, &rc), 0);
	assert_int_equal((intptr_t)rc, STORE_OK);
}

static void test_read_pass_is_one_snapshot(void **state)
{
	struct store *st = *state;
	int before = books_of_reader(st);

	assert_int_equal(store_read_begin(st), STORE_OK);
	assert_int_equal(books_of_reader(st), before); /* the snapshot is taken here */
	write_elsewhere(st);
	assert_int_equal(books_of_reader(st), before); /* one transaction: same snapshot */
	store_read_end(st);
	assert_int_equal(books_of_reader(st), before + 1);
}

static void test_write_ends_the_pass(void **state)
{
	struct store *st = *state;
	struct store_book b;
	int before = books_of_reader(st);

	assert_int_equal(store_read_begin(st), STORE_OK);
	assert_int_equal(books_of_reader(st), before);
	assert_int_equal(store_book_create(st, 1, "Mine", "2026-01-02", &b), STORE_OK);
	assert_int_equal(books_of_reader(st), before + 1);
	store_read_end(st); /* nothing left to end: harmless */
	write_elsewhere(st);
	assert_int_equal(books_of_reader(st), before + 2);
}

struct body {
	char text[4096];
	size_t len;
};

static int keep_body(const char *text, size_t len, void *arg)
{
	struct body *b = arg;
	assert_true(len < sizeof(b->text));
	memcpy(b->text, text, len);
	b->text[len] = '\0';
	b->len = len;
	return 0;
}

static void test_list_body_is_the_reply(void **state)
{
	struct store *st = *state;
	struct store_book b;
	struct body body;
	char want[256];

	assert_int_equal(store_books_list_body(st, 2, keep_body, &body), STORE_OK);
	assert_string_equal(body.text, "{\"message\":\"successful\",\"data\":[]}");
	/* A title a JSON writer must escape; the author's books only. */
	struct store_apikey key;
	int64_t id;
	randombytes_buf(&key, sizeof(key));
	assert_int_equal(store_user_create(st, "second", "s@example.com", "not-a-hash", &key, &id), STORE_OK);
	assert_int_equal(store_book_create(st, id, "q\"\\\t\x01", "2026-02-03", &b), STORE_OK);
	assert_int_equal(store_books_list_body(st, id, keep_body, &body), STORE_OK);
	snprintf(want, sizeof(want),
	    "{\"message\":\"successful\",\"data\":[{\"id\":%lld,\"title\":\"q\\\"\\\\\\t\\u0001\",\"author\":%lld,"
	    "\"publication_date\":\"2026-02-03\"}]}",
	    (long long)b.id, (long long)id);
	assert_string_equal(body.text, want);
}

/* How many books the rendered list of author holds. */
static int ids_in_list(struct store *st, int64_t author)
{
	struct body body;
	int n = 0;

	assert_int_equal(store_books_list_body(st, author, keep_body, &body), STORE_OK);
	for (const char *p = body.text; (p = strstr(p, "{\"id\":")) != NULL; p++)
		n++;
	return n;
}

/* Kept lists: current after another process's write (a second store on
 * the file: its own connections, its own mapping of <db>-lists), and a
 * list read inside a read pass, from a snapshot older than the epoch it
 * would be kept under, not kept. */
static void test_kept_lists(void **state)
{
	struct store *st = *state;
	struct store *other = open_or_die();
	struct store_book b;
	int n = ids_in_list(st, 1);

	assert_int_equal(ids_in_list(st, 1), n); /* served as kept */
	assert_int_equal(store_book_create(other, 1, "Elsewhere", "2026-03-04", &b), STORE_OK);
	assert_int_equal(ids_in_list(st, 1), n + 1);
	assert_int_equal(store_read_begin(st), STORE_OK);
	assert_int_equal(books_of_reader(st), n + 1); /* the snapshot is taken here */
	assert_int_equal(store_book_create(other, 1, "Later", "2026-03-05", &b), STORE_OK);
	assert_int_equal(ids_in_list(st, 1), n + 1); /* the snapshot's */
	store_read_end(st);
	assert_int_equal(ids_in_list(st, 1), n + 2);
	store_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_pass_is_one_snapshot),
		cmocka_unit_test(test_write_ends_the_pass),
		cmocka_unit_test(test_list_body_is_the_reply),
		cmocka_unit_test(test_kept_lists),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
