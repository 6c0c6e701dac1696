/* Unit tests: JWT claims and algorithm pinning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/token.h"

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef-test-key";
#define KEYLEN (sizeof(KEY) - 1)
static struct token_signer ts;
static const time_t NOW = 1800000000;

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	return token_signer_init(&ts, KEY, KEYLEN, 300, 86400);
}

static int verify(const char *tok, enum token_type want, time_t now)
{
	struct token_claims c;
	return token_verify(&ts, tok, strlen(tok), want, now, &c);
}

static void test_roundtrip(void **state)
{
	struct token_claims c;
	(void)state;

	char *a = token_issue(&ts, TOKEN_ACCESS, 42, NOW);
	assert_non_null(a);
	assert_int_equal(token_verify(&ts, a, strlen(a), TOKEN_ACCESS, NOW + 10, &c), 0);
	assert_int_equal(c.user_id, 42);
	assert_int_equal(c.iat, NOW);
	assert_int_equal(c.exp, NOW + 300);
	assert_int_equal(strlen(c.jti), 32);
	/* An access token is not a refresh token. */
	assert_int_equal(verify(a, TOKEN_REFRESH, NOW), -1);
	/* Expired at exp exactly, and after. */
	assert_int_equal(verify(a, TOKEN_ACCESS, NOW + 299), 0);
	assert_int_equal(verify(a, TOKEN_ACCESS, NOW + 300), -1);
	free(a);

	char *r = token_issue(&ts, TOKEN_REFRESH, 7, NOW);
	assert_int_equal(verify(r, TOKEN_REFRESH, NOW + 86399), 0);
	assert_int_equal(verify(r, TOKEN_ACCESS, NOW), -1);
	assert_int_equal(verify(r, TOKEN_REFRESH, NOW + 86400), -1);
	free(r);
}

static void test_short_key_refused(void **state)
{
	struct token_signer weak;
	(void)state;
	assert_int_equal(token_signer_init(&weak, KEY, 0, 300, 300), -1);
	assert_int_equal(token_signer_init(&weak, KEY, 31, 300, 300), -1);
}

/* A token with the given algorithm and claims, signed by libjwt. */
static char *make(jwt_alg_t alg, const unsigned char *key, int keylen, const char *claims_json)
{
	jwt_t *j;
	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_add_grants_json(j, claims_json), 0);
	assert_int_equal(jwt_set_alg(j, alg, key, keylen), 0);
	char *t = jwt_encode_str(j);
	jwt_free(j);
	return t;
}

static void b64url(char *out, size_t cap, const void *in, size_t len)
{
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A hand-made HS256-signed token with an arbitrary header. */
static char *make_raw(const char *header, const char *payload)
{
	char h[256], p[512], sig[64];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	static char out[1024];
	crypto_auth_hmacsha256_state st;

	b64url(h, sizeof(h), header, strlen(header));
	b64url(p, sizeof(p), payload, strlen(payload));
	snprintf(out, sizeof(out), "%s.%s", h, p);
	crypto_auth_hmacsha256_init(&st, KEY, KEYLEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
	crypto_auth_hmacsha256_final(&st, mac);
	b64url(sig, sizeof(sig), mac, sizeof(mac));
	strcat(out, ".");
	strcat(out, sig);
	return out;
}

#define GOOD_CLAIMS "{\"token_type\":\"access\",\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}"

static void test_algorithm_pinned(void **state)
{
	(void)state;
	char *t;

	t = make(JWT_ALG_HS256, KEY, KEYLEN, GOOD_CLAIMS);
	assert_int_equal(verify(t, TOKEN_ACCESS, NOW), 0); /* the control: this one is good */
	free(t);
	t = make(JWT_ALG_HS512, KEY, KEYLEN, GOOD_CLAIMS);
	assert_int_equal(verify(t, TOKEN_ACCESS, NOW), -1);
	free(t);
	t = make(JWT_ALG_HS384, KEY, KEYLEN, GOOD_CLAIMS);
	assert_int_equal(verify(t, TOKEN_ACCESS, NOW), -1);
	free(t);
	t = make(JWT_ALG_NONE, NULL, 0, GOOD_CLAIMS);
	assert_int_equal(verify(t, TOKEN_ACCESS, NOW), -1);
	free(t);
	static const unsigned char other[] = "another-key-of-enough-length-0123456789";
	t = make(JWT_ALG_HS256, other, (int)sizeof(other) - 1, GOOD_CLAIMS);
	assert_int_equal(verify(t, TOKEN_ACCESS, NOW), -1);
	free(t);

	assert_int_equal(verify(make_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS), TOKEN_ACCESS, NOW), 0);
	assert_int_equal(verify(make_raw("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", GOOD_CLAIMS), TOKEN_ACCESS, NOW), -1);
	assert_int_equal(verify(make_raw("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS), TOKEN_ACCESS, NOW), -1);
	assert_int_equal(verify(make_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_CLAIMS), TOKEN_ACCESS, NOW), -1);
}

static void test_claims_checked(void **state)
{
	static const char *const bad[] = {
		"{\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1800000300,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1800000300,\"iat\":1800000000,\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\"}",
		"{\"token_type\":\"access\",\"exp\":\"1800000300\",\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1.8e9,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":\"1\"}",
		"{\"token_type\":\"access\",\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":0}",
		"{\"token_type\":\"Access\",\"exp\":1800000300,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
		"{\"token_type\":\"access\",\"exp\":1799999999,\"iat\":1800000000,\"jti\":\"abc\",\"user_id\":1}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *t = make(JWT_ALG_HS256, KEY, KEYLEN, bad[i]);
		if (verify(t, TOKEN_ACCESS, NOW) != -1)
			fail_msg("accepted claims %s", bad[i]);
		free(t);
	}
}

static void test_garbage(void **state)
{
	static const char *const bad[] = { "", "x", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9..", "\xff\xfe" };
	struct token_claims c;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify(bad[i], TOKEN_ACCESS, NOW), -1);
	/* Huge tokens never reach libjwt (it alloca()s segments). */
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	memset(big, 'A', n);
	big[n] = '\0';
	big[100] = '.';
	big[200] = '.';
	assert_int_equal(token_verify(&ts, big, n, TOKEN_ACCESS, NOW, &c), -1);
	free(big);
	/* An embedded NUL is refused, not truncated. */
	char *a = token_issue(&ts, TOKEN_ACCESS, 1, NOW);
	size_t len = strlen(a);
	char withnul[TOKEN_MAX_LEN];
	memcpy(withnul, a, len);
	withnul[len] = '\0';
	withnul[len + 1] = 'x';
	assert_int_equal(token_verify(&ts, withnul, len + 2, TOKEN_ACCESS, NOW, &c), -1);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_short_key_refused),
		cmocka_unit_test(test_algorithm_pinned),
		cmocka_unit_test(test_claims_checked),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
