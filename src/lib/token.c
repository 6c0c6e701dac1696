/* token.c: JWT issue and verify (libjwt), HS256 pinned. */
#include "lib/token.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = { [TOKEN_ACCESS] = "access", [TOKEN_REFRESH] = "refresh" };

int token_signer_init(
    struct token_signer *ts, const unsigned char *key, size_t keylen, uint64_t access_ttl_s, uint64_t refresh_ttl_s)
{
	/* libjwt with an empty key verifies nothing: never let a short one in. */
	if (keylen < 32 || keylen > sizeof(ts->key))
		return -1;
	memcpy(ts->key, key, keylen);
	ts->keylen = keylen;
	ts->access_ttl_s = access_ttl_s;
	ts->refresh_ttl_s = refresh_ttl_s;
	return 0;
}

char *token_issue(const struct token_signer *ts, enum token_type type, int64_t user_id, time_t now)
{
	unsigned char raw[16];
	char jti[33];
	jwt_t *j = NULL;
	char *out = NULL;
	uint64_t ttl = type == TOKEN_ACCESS ? ts->access_ttl_s : ts->refresh_ttl_s;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(jti, sizeof(jti), raw, sizeof(raw));
	if (jwt_new(&j) != 0)
		return NULL;
	if (jwt_add_grant(j, "token_type", type_names[type]) != 0 ||
	    jwt_add_grant_int(j, "exp", (long)(now + (time_t)ttl)) != 0 ||
	    jwt_add_grant_int(j, "iat", (long)now) != 0 || jwt_add_grant(j, "jti", jti) != 0 ||
	    jwt_add_grant_int(j, "user_id", (long)user_id) != 0 ||
	    jwt_set_alg(j, JWT_ALG_HS256, ts->key, (int)ts->keylen) != 0)
		goto done;
	out = jwt_encode_str(j);
done:
	jwt_free(j);
	return out;
}

/* An integer claim that is present and a JSON integer (not a string or
 * real, which libjwt reports as 0 with errno 0). */
static int claim_int(jwt_t *j, const char *name, long *out)
{
	errno = 0;
	long v = jwt_get_grant_int(j, name);
	if (errno != 0 || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static int check_claims(jwt_t *j, enum token_type want, time_t now, struct token_claims *out)
{
	const char *alg = jwt_get_header(j, "alg");
	const char *type = jwt_get_grant(j, "token_type");
	const char *jti = jwt_get_grant(j, "jti");
	long exp, iat, uid;

	/* libjwt picks the algorithm from the header, case-insensitively, and
	 * accepts HS384/HS512 with our key: insist on HS256, spelled so. */
	if (jwt_get_alg(j) != JWT_ALG_HS256 || alg == NULL || strcmp(alg, "HS256") != 0)
		return -1;
	if (type == NULL || strcmp(type, type_names[want]) != 0)
		return -1;
	if (jti == NULL || jti[0] == '\0' || strlen(jti) >= sizeof(out->jti))
		return -1;
	if (claim_int(j, "exp", &exp) == -1 || claim_int(j, "iat", &iat) == -1 || claim_int(j, "user_id", &uid) == -1)
		return -1;
	if (now >= (time_t)exp)
		return -1;
	out->exp = (time_t)exp;
	out->iat = (time_t)iat;
	out->user_id = uid;
	memcpy(out->jti, jti, strlen(jti) + 1);
	return 0;
}

int token_verify(const struct token_signer *ts, const char *tok, size_t len, enum token_type want, time_t now,
    struct token_claims *out)
{
	char buf[TOKEN_MAX_LEN + 1];
	jwt_t *j = NULL;

	/* Bounded before libjwt, which alloca()s each segment. */
	if (len == 0 || len > TOKEN_MAX_LEN || memchr(tok, '\0', len) != NULL)
		return -1;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	if (jwt_decode(&j, buf, ts->key, (int)ts->keylen) != 0 || j == NULL)
		return -1;
	int rc = check_claims(j, want, now, out);
	jwt_free(j);
	return rc;
}
