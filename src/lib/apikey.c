/* apikey.c: API key generation, parsing, keyed hashing and sealing. */
#include "lib/apikey.h"

#include <sodium.h>
#include <string.h>
#include <uuid/uuid.h>

_Static_assert(
    APIKEY_BOX_BYTES == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + APIKEY_BYTES, "box layout");

void apikey_keys_init(struct apikey_keys *keys, const unsigned char *secret, size_t len)
{
	unsigned char master[crypto_kdf_KEYBYTES];

	/* The secret file may hold any bytes; hash it to a KDF master key. */
	crypto_generichash(master, sizeof(master), secret, len, NULL, 0);
	crypto_kdf_derive_from_key(keys->lookup, sizeof(keys->lookup), 1, "kgapikey", master);
	crypto_kdf_derive_from_key(keys->seal, sizeof(keys->seal), 2, "kgapikey", master);
	sodium_memzero(master, sizeof(master));
}

void apikey_generate(uint8_t key[APIKEY_BYTES])
{
	/* Not uuid_generate(): it can fall back to time and MAC silently. */
	randombytes_buf(key, APIKEY_BYTES);
	key[6] = (uint8_t)((key[6] & 0x0f) | 0x40); /* version 4 */
	key[8] = (uint8_t)((key[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

void apikey_format(const uint8_t key[APIKEY_BYTES], char out[APIKEY_TEXT_LEN + 1])
{
	uuid_unparse_lower(key, out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int apikey_parse(const char *s, size_t len, uint8_t key[APIKEY_BYTES])
{
	size_t nhex = 0;

	/* uuid.UUID: drop "urn:" and "uuid:", strip braces, drop dashes. */
	if (len >= 4 && memcmp(s, "urn:", 4) == 0) {
		s += 4;
		len -= 4;
	}
	if (len >= 5 && memcmp(s, "uuid:", 5) == 0) {
		s += 5;
		len -= 5;
	}
	while (len > 0 && *s == '{') {
		s++;
		len--;
	}
	while (len > 0 && s[len - 1] == '}')
		len--;
	if (len > 64)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			continue;
		int v = hexval(s[i]);
		if (v < 0 || nhex == APIKEY_BYTES * 2)
			return -1;
		if (nhex % 2 == 0)
			key[nhex / 2] = (uint8_t)(v << 4);
		else
			key[nhex / 2] |= (uint8_t)v;
		nhex++;
	}
	return nhex == APIKEY_BYTES * 2 ? 0 : -1;
}

void apikey_hash(const struct apikey_keys *keys, const uint8_t key[APIKEY_BYTES], uint8_t out[APIKEY_HASH_BYTES])
{
	crypto_generichash(out, APIKEY_HASH_BYTES, key, APIKEY_BYTES, keys->lookup, sizeof(keys->lookup));
}

void apikey_seal(const struct apikey_keys *keys, const uint8_t key[APIKEY_BYTES], uint8_t box[APIKEY_BOX_BYTES])
{
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, key, APIKEY_BYTES, box, keys->seal);
}

int apikey_open(const struct apikey_keys *keys, const uint8_t box[APIKEY_BOX_BYTES], uint8_t key[APIKEY_BYTES])
{
	return crypto_secretbox_open_easy(key, box + crypto_secretbox_NONCEBYTES,
		   APIKEY_BOX_BYTES - crypto_secretbox_NONCEBYTES, box, keys->seal) == 0
		   ? 0
		   : -1;
}
