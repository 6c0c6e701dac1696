/* parse.c: value syntaxes shared by the config file and the environment. */
#include "lib/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Leading digits of s as a number; *end points after them. -1 on overflow
 * or when there are no digits. */
static int leading_number(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

static int range_check(uint64_t v, uint64_t min, uint64_t max, char *err, size_t errlen)
{
	if (v < min || v > max) {
		snprintf(
		    err, errlen, "must be between %llu and %llu", (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const char *end;
	uint64_t v;

	if (leading_number(s, &v, &end) == -1 || *end != '\0') {
		snprintf(err, errlen, "not a whole number");
		return -1;
	}
	if (range_check(v, min, max, err, errlen) == -1)
		return -1;
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	uint64_t factor;
};

static int scaled(const char *s, const struct unit *units, uint64_t bare, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (leading_number(s, &v, &end) == -1)
		return -1;
	uint64_t f = 0;
	if (*end == '\0')
		f = bare;
	for (const struct unit *u = units; f == 0 && u->name != NULL; u++)
		if (strcasecmp(end, u->name) == 0)
			f = u->factor;
	if (f == 0 || (v != 0 && v > UINT64_MAX / f))
		return -1;
	*out = v * f;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out, char *err, size_t errlen)
{
	static const struct unit units[] = {
		{ "ms", 1 },
		{ "s", 1000 },
		{ "m", 60000 },
		{ "h", 3600000 },
		{ "d", 86400000 },
		{ NULL, 0 },
	};
	uint64_t v;

	if (scaled(s, units, 1000, &v) == -1) {
		snprintf(err, errlen, "not a duration (a number with ms, s, m, h or d)");
		return -1;
	}
	if (v < min_ms || v > max_ms) {
		snprintf(err, errlen, "must be between %llums and %llums", (unsigned long long)min_ms,
		    (unsigned long long)max_ms);
		return -1;
	}
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	static const struct unit units[] = {
		{ "k", 1024 },
		{ "kib", 1024 },
		{ "m", 1048576 },
		{ "mib", 1048576 },
		{ "g", 1073741824 },
		{ "gib", 1073741824 },
		{ NULL, 0 },
	};
	uint64_t v;

	if (scaled(s, units, 1, &v) == -1) {
		snprintf(err, errlen, "not a size (bytes, or a number with KiB, MiB or GiB)");
		return -1;
	}
	if (range_check(v, min, max, err, errlen) == -1)
		return -1;
	*out = v;
	return 0;
}

int parse_bool(const char *s, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(err, errlen, "not a boolean (yes/no, true/false, on/off, 1/0)");
	return -1;
}

int parse_rate(const char *s, struct rate *out, char *err, size_t errlen)
{
	static const struct unit periods[] = {
		{ "s", 1 },
		{ "sec", 1 },
		{ "second", 1 },
		{ "seconds", 1 },
		{ "m", 60 },
		{ "min", 60 },
		{ "minute", 60 },
		{ "minutes", 60 },
		{ "h", 3600 },
		{ "hour", 3600 },
		{ "hours", 3600 },
		{ "d", 86400 },
		{ "day", 86400 },
		{ "days", 86400 },
		{ NULL, 0 },
	};
	const char *slash = strchr(s, '/'), *end;
	uint64_t n, mult = 1, window;

	if (slash == NULL) {
		snprintf(err, errlen, "not a rate (N/period, e.g. 5/minute or 100/15m)");
		return -1;
	}
	if (leading_number(s, &n, &end) == -1 || end != slash) {
		snprintf(err, errlen, "the count before '/' must be a whole number");
		return -1;
	}
	if (n < 1 || n > RATE_LIMIT_MAX) {
		snprintf(err, errlen, "the count must be between 1 and %u", RATE_LIMIT_MAX);
		return -1;
	}
	const char *p = slash + 1;
	if (isdigit((unsigned char)*p)) {
		if (leading_number(p, &mult, &end) == -1 || mult == 0 || mult > RATE_WINDOW_MAX_S) {
			snprintf(err, errlen, "the period's multiple must be between 1 and %u", RATE_WINDOW_MAX_S);
			return -1;
		}
		p = end;
	}
	uint64_t unit = 0;
	for (const struct unit *u = periods; unit == 0 && u->name != NULL; u++)
		if (strcmp(p, u->name) == 0)
			unit = u->factor;
	if (unit == 0) {
		snprintf(err, errlen, "unknown period '%.16s' (use s, m, h or d, e.g. minute, 15m)", p);
		return -1;
	}
	window = mult * unit;
	if (window > RATE_WINDOW_MAX_S) {
		snprintf(err, errlen, "the window must be at most %u seconds", RATE_WINDOW_MAX_S);
		return -1;
	}
	out->limit = (uint32_t)n;
	out->window_s = (uint32_t)window;
	return 0;
}

int parse_rate_set(const char *s, struct rate_set *out, char *err, size_t errlen)
{
	struct rate_set set = { 0 };
	char item[64];

	for (const char *p = s;; p++) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (set.n == RATE_WINDOWS_MAX) {
			snprintf(err, errlen, "at most %u windows (N/period, N/period, ...)", RATE_WINDOWS_MAX);
			return -1;
		}
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "not a rate (N/period, e.g. 5/minute or 100/15m)");
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (parse_rate(item, &set.w[set.n], err, errlen) == -1)
			return -1;
		for (uint32_t i = 0; i < set.n; i++) {
			if (set.w[i].window_s == set.w[set.n].window_s) {
				snprintf(err, errlen, "two rates over the same window (%u seconds)", set.w[i].window_s);
				return -1;
			}
		}
		set.n++;
		p = strchr(p, ',');
		if (p == NULL)
			break;
	}
	*out = set;
	return 0;
}

const char *rate_set_format(const struct rate_set *set, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < set->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%u/%us", i > 0 ? ", " : "", set->w[i].limit, set->w[i].window_s);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}
