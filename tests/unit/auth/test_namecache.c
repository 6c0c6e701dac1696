/* Unit tests: the per-thread user id -> username cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/namecache.h"

static void test_found_under_its_epoch_only(void **state)
{
	char name[NAMECACHE_NAME_MAX + 1];
	(void)state;

	namecache_init(64);
	assert_int_equal(namecache_get(7, 3, name, sizeof(name)), 0);
	namecache_put(7, 3, "alice", -1);
	assert_int_equal(namecache_get(7, 3, name, sizeof(name)), 1);
	assert_string_equal(name, "alice");
	/* Another user, another epoch (a deletion, an id reused): not found. */
	assert_int_equal(namecache_get(8, 3, name, sizeof(name)), 0);
	assert_int_equal(namecache_get(7, 4, name, sizeof(name)), 0);
	/* Epoch 0 means the truth could not be read: nothing is kept. */
	namecache_put(9, 0, "bob", -1);
	assert_int_equal(namecache_get(9, 0, name, sizeof(name)), 0);
}

static void test_long_names_and_small_buffers(void **state)
{
	char name[NAMECACHE_NAME_MAX + 2], small[4];
	(void)state;

	namecache_init(64);
	memset(name, 'x', NAMECACHE_NAME_MAX + 1);
	name[NAMECACHE_NAME_MAX + 1] = '\0';
	namecache_put(1, 5, name, -1); /* one byte too long: read each time */
	assert_int_equal(namecache_get(1, 5, name, sizeof(name)), 0);
	name[NAMECACHE_NAME_MAX] = '\0';
	namecache_put(1, 5, name, -1);
	assert_int_equal(namecache_get(1, 5, name, sizeof(name)), 1);
	assert_int_equal(strlen(name), NAMECACHE_NAME_MAX);
	assert_int_equal(namecache_get(1, 5, small, sizeof(small)), 0);
}

static void test_collisions_and_off(void **state)
{
	char name[NAMECACHE_NAME_MAX + 1];
	int found = 0;
	(void)state;

	namecache_init(4); /* ids 1..100 share 4 slots */
	for (int64_t id = 1; id <= 100; id++)
		namecache_put(id, 1, id % 2 ? "odd" : "even", -1);
	for (int64_t id = 1; id <= 100; id++) {
		if (!namecache_get(id, 1, name, sizeof(name)))
			continue;
		found++;
		assert_string_equal(name, id % 2 ? "odd" : "even"); /* never another id's */
	}
	assert_true(found >= 1 && found <= 4);
	namecache_init(0);
	namecache_put(1, 1, "alice", -1);
	assert_int_equal(namecache_get(1, 1, name, sizeof(name)), 0);
}

static void test_tier_kept_with_long_names(void **state)
{
	char name[NAMECACHE_NAME_MAX + 8];
	int tier = 99;
	(void)state;

	namecache_init(64);
	memset(name, 'x', NAMECACHE_NAME_MAX + 1);
	name[NAMECACHE_NAME_MAX + 1] = '\0';
	namecache_put(3, 7, name, 2); /* the name is too long to keep, the tier is not */
	assert_int_equal(namecache_get(3, 7, name, sizeof(name)), 0);
	assert_int_equal(namecache_get_tier(3, 7, &tier), 1);
	assert_int_equal(tier, 2);
	assert_int_equal(namecache_get_tier(3, 8, &tier), 0); /* another epoch */
	namecache_put(3, 8, "carol", -1);
	assert_int_equal(namecache_get_tier(3, 8, &tier), 1);
	assert_int_equal(tier, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tier_kept_with_long_names),
		cmocka_unit_test(test_found_under_its_epoch_only),
		cmocka_unit_test(test_long_names_and_small_buffers),
		cmocka_unit_test(test_collisions_and_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
