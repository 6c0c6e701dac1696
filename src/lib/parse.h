#ifndef KEYGATE_PARSE_H
#define KEYGATE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parsers for the value syntaxes of the config file and environment. Pure
 * functions: each returns 0 and fills *out, or -1 and writes a reason (no
 * trailing period) into err. Thread-safe.
 */

/* Whole decimal number in [min, max]; no sign, no spaces. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* Duration: a number and a unit, "250ms", "30s", "5m", "2h", "1d"; a bare
 * number is seconds. Result in milliseconds, within [min_ms, max_ms]. */
int parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out, char *err, size_t errlen);

/* Size: "65536", "64k", "64KiB", "1M", "1MiB" (binary units). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* Boolean: yes/no, true/false, on/off, 1/0. */
int parse_bool(const char *s, int *out, char *err, size_t errlen);

/*
 * Rate in Django REST Framework syntax, "N/period": the period is a unit
 * word (s, sec, second(s), m, min, minute(s), h, hour(s), d, day(s)),
 * optionally preceded by a multiple ("100/15m", "1000/2h").
 * N in [1, RATE_LIMIT_MAX]; the window at most RATE_WINDOW_MAX_S seconds.
 */
#define RATE_LIMIT_MAX 1000000u
#define RATE_WINDOW_MAX_S (366u * 86400u)
struct rate {
	uint32_t limit; /* N requests ... */
	uint32_t window_s; /* ... per W seconds */
};
int parse_rate(const char *s, struct rate *out, char *err, size_t errlen);

/*
 * A scope's windows: one rate or several, comma-separated ("5/minute,
 * 100/day"), all of which must admit a request. At most RATE_WINDOWS_MAX,
 * no two with the same window (the shorter one would be a copy of a
 * stricter or laxer limit over the same span).
 */
#define RATE_WINDOWS_MAX 4u
struct rate_set {
	uint32_t n; /* windows in w[], at least 1 */
	struct rate w[RATE_WINDOWS_MAX];
};
int parse_rate_set(const char *s, struct rate_set *out, char *err, size_t errlen);

/* "5/60s, 100/86400s": the set as parse_rate_set reads it back; buf. */
#define RATE_SET_TEXT_MAX (RATE_WINDOWS_MAX * 24)
const char *rate_set_format(const struct rate_set *set, char *buf, size_t len);

/* A set of one window. */
static inline struct rate_set rate_set_of(uint32_t limit, uint32_t window_s)
{
	return (struct rate_set){ .n = 1, .w = { { limit, window_s } } };
}

#endif
