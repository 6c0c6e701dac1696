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

static inline void siphash13_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = siphash13_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = siphash13_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = siphash13_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = siphash13_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = siphash13_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = siphash13_rotl(v[2], 32);
}

static inline uint64_t siphash13_u64(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
		k1 ^ 0x7465646279746573ull };
	const uint64_t last = (uint64_t)8 << 56; /* the length, 8 bytes */

	v[3] ^= m;
	siphash13_round(v);
	v[0] ^= m;
	v[3] ^= last;
	siphash13_round(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	siphash13_round(v);
	siphash13_round(v);
	siphash13_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#endif
