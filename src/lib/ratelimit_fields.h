#ifndef KEYGATE_RATELIMIT_FIELDS_H
#define KEYGATE_RATELIMIT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The quota header fields of a throttled reply, in the form the operator
 * chose ([throttle] quota_headers), rendered from the windows of one
 * decision. Pure: no request, no clock (the caller passes the Unix time).
 *
 * - draft-11 (the default; drafts 08 to 11 of "RateLimit header fields
 *   for HTTP" share it): RateLimit-Policy: "api_key";q=5;w=60 and
 *   RateLimit: "api_key";r=4;t=60, one list item per window.
 * - draft-12: the parameters renamed (a = available, for r; w = the
 *   effective window, for t; c = what this request cost) and the
 *   partition key in a field of its own, RateLimit-Partition:
 *   "api_key";pk=:<base64>:, where the policy applies per partition.
 * - draft-7: the single Dictionary of draft 07, RateLimit: limit=5,
 *   remaining=4, reset=60 (the most restrictive window), RateLimit-Policy:
 *   5;w=60 (every window): what today's client parsers read.
 * - legacy: only X-RateLimit-Limit, -Remaining and -Reset, the reset as a
 *   Unix time (GitHub's and express-rate-limit's meaning).
 * With `legacy_extra` (legacy_headers = yes) the older RateLimit-Limit /
 * -Remaining / -Reset (seconds) and X-RateLimit-* trio are added to
 * draft-11, draft-12 and draft-7.
 */
enum ratelimit_form { RATELIMIT_DRAFT11, RATELIMIT_DRAFT12, RATELIMIT_DRAFT7, RATELIMIT_LEGACY, RATELIMIT_FORMS };

#define RATELIMIT_FIELDS_MAX 9
#define RATELIMIT_VALUE_MAX 192
#define RATELIMIT_PARTITION_MAX 32 /* bytes of a partition key */

struct ratelimit_window {
	const char *policy; /* the policy's name: a plain token, quoted here */
	uint64_t quota; /* q: requests per window */
	uint64_t window_s; /* w */
	uint64_t remaining; /* r */
	uint64_t reset_s; /* t: seconds until a slot frees */
};

struct ratelimit_state {
	const struct ratelimit_window *windows;
	size_t nwindows; /* at least 1 */
	uint64_t cost; /* what this request spent of each (0: only looked) */
	const uint8_t *partition; /* NULL: no partition */
	size_t partition_len;
	uint64_t now_unix; /* for the legacy reset */
	int legacy_extra;
};

struct ratelimit_field {
	const char *name; /* a string literal */
	char value[RATELIMIT_VALUE_MAX];
};

/* Fields into out (in the order to send them); how many. A field whose
 * value would not fit is left out. */
size_t ratelimit_fields_render(
    enum ratelimit_form form, const struct ratelimit_state *s, struct ratelimit_field out[RATELIMIT_FIELDS_MAX]);

/* Each form's word, by the enum ([throttle] quota_headers). */
extern const char *const ratelimit_fields_form_names[RATELIMIT_FORMS];
/* "draft-11", "draft-12", "draft-7", "legacy": 0, or -1. */
int ratelimit_fields_form_parse(const char *name, enum ratelimit_form *out);
const char *ratelimit_fields_form_name(enum ratelimit_form form);

#endif
