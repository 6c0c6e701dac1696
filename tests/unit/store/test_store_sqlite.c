/* Unit tests: the SQLite store's read pass and the epochs the caches above
 * it are kept under. */
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
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "store/store.h"

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

/* A second store on the file stands for another process: its own
 * connections, its own mapping of <db>-epochs. */
static void test_epochs_follow_other_processes(void **state)
{
	struct store *st = *state;
	struct store *other = open_or_die();
	struct store_apikey key;
	struct store_book b;
	int64_t id, gone;

	uint64_t keys = store_keys_epoch(st), books = store_books_epoch(st, 1);
	assert_true(keys != 0 && books != 0);
	assert_int_equal(store_keys_epoch(st), keys);
	/* A signup changes nothing that was cached. */
	randombytes_buf(&key, sizeof(key));
	assert_int_equal(store_user_create(other, "third", "t@example.com", "not-a-hash", &key, &id), STORE_OK);
	assert_int_equal(store_keys_epoch(st), keys);
	assert_int_equal(store_books_epoch(st, 1), books);
	/* Another process's writes: at once. */
	assert_int_equal(store_book_create(other, 1, "Elsewhere", "2026-03-04", &b), STORE_OK);
	assert_true(store_books_epoch(st, 1) != books);
	randombytes_buf(&key, sizeof(key));
	assert_int_equal(store_apikey_replace(other, id, &key), STORE_OK);
	assert_true(store_keys_epoch(st) != keys);
	keys = store_keys_epoch(st);
	assert_int_equal(store_user_set_active(other, "third", 0, &gone), STORE_OK);
	assert_true(store_keys_epoch(st) != keys);
	store_close(other);
}

/* A change no keygate process signals (an SQL shell; a process killed
 * between its commit and its signal) reaches the epochs through the truth
 * rows, within a second. */
static void test_epochs_follow_sql_shell(void **state)
{
	struct store *st = *state;
	char path[512];
	sqlite3 *db;

	uint64_t keys = store_keys_epoch(st), books = store_books_epoch(st, 1);
	snprintf(path, sizeof(path), "%s/keygate.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "UPDATE users SET is_active = 1 WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM books WHERE author_id = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* Not signalled: the thread sees it once its rows are a second old. */
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	double waited;
	do {
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
	} while (store_keys_epoch(st) == keys && waited < 3);
	assert_true(waited <= 1.1);
	assert_true(store_books_epoch(st, 1) != books);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_pass_is_one_snapshot),
		cmocka_unit_test(test_write_ends_the_pass),
		cmocka_unit_test(test_epochs_follow_other_processes),
		cmocka_unit_test(test_epochs_follow_sql_shell),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
