#ifndef KEYGATE_TOKEN_H
#define KEYGATE_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * JWTs as Simple JWT makes them: HS256, claims token_type ("access" or
 * "refresh"), exp, iat, jti, user_id. Verification pins the algorithm and
 * checks every claim itself (libjwt 1.10 checks none). Thread-safe: the
 * signer is read-only after token_signer_init.
 */
#define TOKEN_MAX_LEN 4096 /* longer tokens are refused before libjwt sees them */

enum token_type { TOKEN_ACCESS, TOKEN_REFRESH };

struct token_signer {
	unsigned char key[512];
	size_t keylen;
	uint64_t access_ttl_s;
	uint64_t refresh_ttl_s;
};

/* key must be at least 32 bytes (SECRET_MIN); returns -1 otherwise. */
int token_signer_init(
    struct token_signer *ts, const unsigned char *key, size_t keylen, uint64_t access_ttl_s, uint64_t refresh_ttl_s);

/* A new signed token; the caller frees it with free(). NULL on failure. */
char *token_issue(const struct token_signer *ts, enum token_type type, int64_t user_id, time_t now);

struct token_claims {
	int64_t user_id;
	time_t exp;
	time_t iat;
	char jti[65];
};
/* 0 when tok (len bytes, need not be NUL-terminated) is a valid, unexpired
 * token of the wanted type signed by ts; -1 for anything else. */
int token_verify(const struct token_signer *ts, const char *tok, size_t len, enum token_type want, time_t now,
    struct token_claims *out);

#endif
