#ifndef KEYGATE_APIKEY_H
#define KEYGATE_APIKEY_H

#include <stddef.h>
#include <stdint.h>

/*
 * API keys: UUIDv4 strings, as in the tutorial, made from 16 bytes of
 * libsodium's randombytes_buf. The database never holds a key in clear:
 * it holds a keyed BLAKE2b hash (for lookup) and a secretbox-sealed copy
 * (so the owner can see the key again). Both keys derive from one server
 * secret kept outside the database. All functions are thread-safe once
 * apikey_keys_init has returned.
 */
#define APIKEY_BYTES 16
#define APIKEY_TEXT_LEN 36 /* without the NUL */
#define APIKEY_HASH_BYTES 32
#define APIKEY_BOX_BYTES (24 + 16 + APIKEY_BYTES) /* nonce, MAC, key */

struct apikey_keys {
	unsigned char lookup[32];
	unsigned char seal[32];
};

/* Derive the lookup and sealing keys from the server secret (>= 32 bytes). */
void apikey_keys_init(struct apikey_keys *keys, const unsigned char *secret, size_t len);

void apikey_generate(uint8_t key[APIKEY_BYTES]);
/* Canonical text: 36 lower-case characters and a NUL. */
void apikey_format(const uint8_t key[APIKEY_BYTES], char out[APIKEY_TEXT_LEN + 1]);
/* Every spelling Python's uuid.UUID accepts: any case, with or without
 * dashes, in braces, with "urn:uuid:". s need not be NUL-terminated.
 * Returns 0, or -1 when s names no UUID. */
int apikey_parse(const char *s, size_t len, uint8_t key[APIKEY_BYTES]);

void apikey_hash(const struct apikey_keys *keys, const uint8_t key[APIKEY_BYTES], uint8_t out[APIKEY_HASH_BYTES]);
void apikey_seal(const struct apikey_keys *keys, const uint8_t key[APIKEY_BYTES], uint8_t box[APIKEY_BOX_BYTES]);
/* -1 when the box was not sealed with these keys or was altered. */
int apikey_open(const struct apikey_keys *keys, const uint8_t box[APIKEY_BOX_BYTES], uint8_t key[APIKEY_BYTES]);

#endif
