/* Fuzz: the API-key header parser (every UUID spelling). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/apikey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[APIKEY_BYTES], again[APIKEY_BYTES];
	char text[APIKEY_TEXT_LEN + 1];

	if (apikey_parse((const char *)data, size, key) == 0) {
		/* What parses has one canonical spelling, which parses the same. */
		apikey_format(key, text);
		if (apikey_parse(text, strlen(text), again) != 0 || memcmp(key, again, sizeof(key)) != 0)
			abort();
	}
	return 0;
}
