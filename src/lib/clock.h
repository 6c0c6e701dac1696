#ifndef KEYGATE_CLOCK_H
#define KEYGATE_CLOCK_H

#include <stdint.h>
#include <time.h>

/*
 * The one monotonic clock, in the units its callers count in. COARSE is
 * the kernel's tick (1-4 ms, no syscall cost worth naming): for caches
 * whose bounds are seconds, never for windows or deadlines.
 */
static inline uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_ms(void)
{
	return clock_ns() / 1000000u;
}

static inline uint64_t clock_coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
