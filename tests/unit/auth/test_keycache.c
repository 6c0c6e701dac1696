/* Unit tests: the per-thread API key cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "auth/keycache.h"

static void key_of(uint8_t key[APIKEY_BYTES], uint8_t n)
{
	memset(key, 0, APIKEY_BYTES);
	key[0] = n;
}

static void test_found_unknown_and_missing(void **state)
{
	uint8_t a[APIKEY_BYTES], b[APIKEY_BYTES];
	int64_t uid = -1;
	(void)state;

	keycache_init(64);
	key_of(a, 1);
	key_of(b, 2);
	assert_int_equal(keycache_get(a, 7, &uid), 0);
	keycache_put(a, 7, 42);
	keycache_put(b, 7, 0); /* known not to exist */
	assert_int_equal(keycache_get(a, 7, &uid), 1);
	assert_int_equal(uid, 42);
	assert_int_equal(keycache_get(b, 7, &uid), 1);
	assert_int_equal(uid, 0);
}

static void test_new_epoch_forgets_everything(void **state)
{
	uint8_t a[APIKEY_BYTES];
	int64_t uid;
	(void)state;

	keycache_init(64);
	key_of(a, 3);
	keycache_put(a, 100, 5);
	assert_int_equal(keycache_get(a, 101, &uid), 0);
	assert_int_equal(keycache_get(a, 100, &uid), 0); /* the table was emptied */
}

/* With room for two, two keys are both kept whatever their hashes (a
 * direct-mapped table of two loses one of them half the time), and a third
 * drops the older one. */
static void test_a_set_holds_two(void **state)
{
	uint8_t k[3][APIKEY_BYTES];
	int64_t uid;
	(void)state;

	for (int round = 0; round < 50; round++) {
		keycache_init(2); /* a new hash key each time */
		for (uint8_t i = 0; i < 3; i++)
			key_of(k[i], (uint8_t)(10 + i));
		uint64_t epoch = 1000 + (uint64_t)round;
		keycache_put(k[0], epoch, 1);
		keycache_put(k[1], epoch, 2);
		assert_int_equal(keycache_get(k[0], epoch, &uid), 1);
		assert_int_equal(uid, 1);
		assert_int_equal(keycache_get(k[1], epoch, &uid), 1);
		assert_int_equal(uid, 2);
		keycache_put(k[1], epoch, 3); /* an update stays in place */
		keycache_put(k[2], epoch, 4);
		assert_int_equal(keycache_get(k[0], epoch, &uid), 0);
		assert_int_equal(keycache_get(k[1], epoch, &uid), 1);
		assert_int_equal(uid, 3);
		assert_int_equal(keycache_get(k[2], epoch, &uid), 1);
	}
}

static void test_off(void **state)
{
	uint8_t a[APIKEY_BYTES];
	int64_t uid;
	(void)state;

	keycache_init(0);
	key_of(a, 9);
	keycache_put(a, 1, 5);
	assert_int_equal(keycache_get(a, 1, &uid), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_unknown_and_missing),
		cmocka_unit_test(test_new_epoch_forgets_everything),
		cmocka_unit_test(test_a_set_holds_two),
		cmocka_unit_test(test_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
