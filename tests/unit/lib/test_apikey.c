/* Unit tests: API key generation, spellings, keyed hashing and sealing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "lib/apikey.h"

static struct apikey_keys keys;

static int setup(void **state)
{
	static const unsigned char secret[] = "an-apikey-server-secret-of-32-bytes-or-more";
	(void)state;
	if (sodium_init() < 0)
		return -1;
	apikey_keys_init(&keys, secret, sizeof(secret) - 1);
	return 0;
}

static void test_generate_is_v4(void **state)
{
	uint8_t k1[APIKEY_BYTES], k2[APIKEY_BYTES];
	char text[APIKEY_TEXT_LEN + 1];
	(void)state;

	apikey_generate(k1);
	apikey_generate(k2);
	assert_memory_not_equal(k1, k2, APIKEY_BYTES);
	apikey_format(k1, text);
	assert_int_equal(strlen(text), 36);
	assert_int_equal(text[14], '4');
	assert_true(strchr("89ab", text[19]) != NULL);
	for (int i = 0; i < 36; i++)
		assert_true((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') || text[i] == '-');
}

static void test_spellings(void **state)
{
	static const char *const same[] = {
		"6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f",
		"6F1C2B1E-8C1D-4B7A-9F3E-2A1B3C4D5E6F",
		"6f1c2b1e8c1d4b7a9f3e2a1b3c4d5e6f",
		"{6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f}",
		"urn:uuid:6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f",
		"uuid:6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f",
		"6f1c2b1e-8c1d4b7a-9f3e2a1b3c4d5e6f",
	};
	uint8_t ref[APIKEY_BYTES], k[APIKEY_BYTES];
	char text[APIKEY_TEXT_LEN + 1];
	(void)state;

	assert_int_equal(apikey_parse(same[0], strlen(same[0]), ref), 0);
	apikey_format(ref, text);
	assert_string_equal(text, same[0]);
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(apikey_parse(same[i], strlen(same[i]), k), 0);
		assert_memory_equal(k, ref, APIKEY_BYTES);
	}
	static const char *const bad[] = {
		"",
		"6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6",
		"6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f0",
		"6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6g",
		" 6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f",
		"6f1c2b1e-8c1d-4b7a-9f3e-2a1b3c4d5e6f ",
		"'; DROP TABLE api_keys; --",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(apikey_parse(bad[i], strlen(bad[i]), k), -1);
}

static void test_hash_and_seal(void **state)
{
	uint8_t k[APIKEY_BYTES], k2[APIKEY_BYTES], out[APIKEY_BYTES];
	uint8_t h1[APIKEY_HASH_BYTES], h2[APIKEY_HASH_BYTES], h3[APIKEY_HASH_BYTES];
	uint8_t box[APIKEY_BOX_BYTES], box2[APIKEY_BOX_BYTES];
	struct apikey_keys other;
	static const unsigned char other_secret[] = "a-different-server-secret-of-32-bytes!!";
	(void)state;

	apikey_generate(k);
	apikey_generate(k2);
	apikey_hash(&keys, k, h1);
	apikey_hash(&keys, k, h2);
	apikey_hash(&keys, k2, h3);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_memory_not_equal(h1, h3, sizeof(h1));
	/* Keyed: another server secret gives another hash. */
	apikey_keys_init(&other, other_secret, sizeof(other_secret) - 1);
	apikey_hash(&other, k, h3);
	assert_memory_not_equal(h1, h3, sizeof(h1));

	apikey_seal(&keys, k, box);
	apikey_seal(&keys, k, box2);
	assert_memory_not_equal(box, box2, sizeof(box)); /* fresh nonce each time */
	assert_null(memmem(box, sizeof(box), k, sizeof(k)));
	assert_int_equal(apikey_open(&keys, box, out), 0);
	assert_memory_equal(out, k, sizeof(k));
	assert_int_equal(apikey_open(&other, box, out), -1);
	box[30] ^= 1;
	assert_int_equal(apikey_open(&keys, box, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_is_v4),
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_hash_and_seal),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
