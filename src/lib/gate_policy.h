#ifndef KEYGATE_GATE_POLICY_H
#define KEYGATE_GATE_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/parse.h"

/*
 * The policies of a gated API ([policy NAME] sections): which requests
 * (method and path patterns) a policy covers, what one costs, and its
 * windows. /verify decides a request described by the proxy by the first
 * policy that matches, in the file's order; a request no policy matches
 * is decided by the api_key windows at cost 1, as books are.
 *
 *   [policy search]
 *   match = GET /search, GET /v1/search*
 *   cost = 5
 *   rate = 100/minute, 2000/day
 *
 * A pattern is an optional method (or *) and a path: exact, or a prefix
 * when it ends in '*'. Without `rate`, a policy has the api_key windows'
 * numbers (its own counts). Pure data and matching: thread-safe.
 */
#define GATE_POLICIES_MAX 8u
#define GATE_PATTERNS_MAX 8u
#define GATE_NAME_MAX 32u /* bytes of a name */
#define GATE_COST_MAX 1000u

struct gate_pattern {
	char method[16]; /* "" matches any */
	char path[112]; /* a trailing '*' matches any rest */
};

struct gate_policy {
	char name[GATE_NAME_MAX + 1];
	struct gate_pattern match[GATE_PATTERNS_MAX];
	uint32_t nmatch;
	uint32_t cost;
	struct rate_set rate; /* n == 0 until set (config_finish fills it) */
};

/* "search": a policy of that name, cost 1, matching nothing yet. -1 with
 * err if the name is not 1 to 32 of [a-z0-9_-]. */
int gate_policy_init(struct gate_policy *p, const char *name, char *err, size_t errlen);

/* One key of its section (match, cost, rate): 0, or -1 with err. */
int gate_policy_set(struct gate_policy *p, const char *key, const char *value, char *err, size_t errlen);

/* Whether the policy covers method (NULL: unknown) and path (the query,
 * if any, is not part of it). */
int gate_policy_covers(const struct gate_policy *p, const char *method, const char *path);

/* Print the section as INI. */
void gate_policy_print(const struct gate_policy *p, FILE *out);

/*
 * A tier ([tier NAME]): other numbers for a user's windows, by scope, for
 * the users the admin CLI puts in it (keygate user tier alice pro).
 *
 *   [tier pro]
 *   api_key = 50/minute, 10000/day
 *   search = 500/minute, 20000/day
 *
 * A key is api_key or a [policy]'s name; a scope the tier does not name
 * keeps its own windows. A tier changes N and W, not how many windows a
 * scope has. Names and order fixed while running, like policies'.
 */
#define GATE_TIERS_MAX 8u
#define GATE_TIER_KEYS (1u + GATE_POLICIES_MAX)

struct gate_tier {
	char name[GATE_NAME_MAX + 1];
	char key[GATE_TIER_KEYS][GATE_NAME_MAX + 1]; /* as read */
	struct rate_set rate[GATE_TIER_KEYS];
	uint32_t nkeys;
};

/* 0, or -1 with err (the name as for a policy). */
int gate_tier_init(struct gate_tier *t, const char *name, char *err, size_t errlen);
/* key = rates: 0, or -1 with err. */
int gate_tier_set(struct gate_tier *t, const char *key, const char *value, char *err, size_t errlen);
/* The tier's windows for key ("api_key", a policy's name), or NULL. */
const struct rate_set *gate_tier_rate(const struct gate_tier *t, const char *key);
void gate_tier_print(const struct gate_tier *t, FILE *out);

#endif
