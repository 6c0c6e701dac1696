#ifndef KEYGATE_MIX64_H
#define KEYGATE_MIX64_H

#include <stdint.h>

/*
 * splitmix64's finalizer: spreads close integers (user ids 1, 2, 3...)
 * over all 64 bits. Not keyed, not for anything a client could choose to
 * collide (the throttle places keys with siphash13.h, keyed).
 */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

#endif
