/* Fuzz: JWT verification (libjwt behind our pinning and claim checks). */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct token_signer ts;
	static int ready;
	struct token_claims c;

	if (!ready) {
		static const unsigned char key[] = "fuzzing-secret-of-at-least-32-bytes!!";
		if (sodium_init() < 0 || token_signer_init(&ts, key, sizeof(key) - 1, 300, 86400) == -1)
			abort();
		ready = 1;
	}
	/* Nothing the fuzzer makes can carry our signature. */
	if (token_verify(&ts, (const char *)data, size, TOKEN_ACCESS, 1800000000, &c) == 0)
		abort();
	token_verify(&ts, (const char *)data, size, TOKEN_REFRESH, 1800000000, &c);
	return 0;
}
