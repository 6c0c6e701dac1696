#ifndef KEYGATE_SIPHASH13_H
#define KEYGATE_SIPHASH13_H

#include <stdint.h>

/*
 * SipHash-1-3 of one 64-bit word under a 128-bit key (k0, k1): a keyed
 * hash that nobody without the key can aim (Aumasson and Bernstein; the
 * 1-3 variant is the one Rust's and Python's hash tables used). It places
 * keys in the throttle table, on every decision, where libsodium's
 * SipHash-2-4 of a byte buffer costs twice as much.
 */
static inline uint64_t siphash13_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPHASH13_ROUND(v0, v1, v2, v3) \
	do { \
		v0 += v1; \
		v1 = siphash13_rotl(v1, 13); \
		v1 ^= v0; \
		v0 = siphash13_rotl(v0, 32); \
		v2 += v3; \
		v3 = siphash13_rotl(v3, 16); \
		v3 ^= v2; \
		v0 += v3; \
		v3 = siphash13_rotl(v3, 21); \
		v3 ^= v0; \
		v2 += v1; \
		v1 = siphash13_rotl(v1, 17); \
		v1 ^= v2; \
		v2 = siphash13_rotl(v2, 32); \
	} while (0)

static inline uint64_t siphash13_u64(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	const uint64_t last = (uint64_t)8 << 56; /* the length, 8 bytes */

	v3 ^= m;
	SIPHASH13_ROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= last;
	SIPHASH13_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIPHASH13_ROUND(v0, v1, v2, v3);
	SIPHASH13_ROUND(v0, v1, v2, v3);
	SIPHASH13_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

#endif
