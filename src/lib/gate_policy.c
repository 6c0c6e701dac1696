/* gate_policy.c: the [policy NAME] sections of a gated API. */
#include "lib/gate_policy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int name_ok(const char *what, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (len == 0 || len > GATE_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
		snprintf(err, errlen, "a %s name is 1 to %u of a-z, 0-9, _ and -", what, GATE_NAME_MAX);
		return -1;
	}
	return 0;
}

int gate_policy_init(struct gate_policy *p, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (name_ok("policy", name, err, errlen) == -1)
		return -1;
	memset(p, 0, sizeof(*p));
	memcpy(p->name, name, len + 1);
	p->cost = 1;
	return 0;
}

/* "GET /v1/search*", "/health", "* /x": one pattern of `match`. */
static int pattern_parse(const char *s, size_t len, struct gate_pattern *out, char *err, size_t errlen)
{
	const char *sp = memchr(s, ' ', len);
	size_t mlen = sp != NULL ? (size_t)(sp - s) : 0;
	const char *path = sp != NULL ? sp + 1 : s;
	size_t plen = len - (size_t)(path - s);

	memset(out, 0, sizeof(*out));
	if (mlen >= sizeof(out->method) || plen == 0 || plen >= sizeof(out->path) || path[0] != '/' ||
	    memchr(path, ' ', plen) != NULL) {
		snprintf(err, errlen, "a pattern is [METHOD] /path or [METHOD] /prefix* (e.g. GET /v1/search*)");
		return -1;
	}
	if (!(mlen == 1 && s[0] == '*'))
		for (size_t i = 0; i < mlen; i++)
			out->method[i] = (char)toupper((unsigned char)s[i]);
	memcpy(out->path, path, plen);
	return 0;
}

static int match_parse(struct gate_policy *p, const char *value, char *err, size_t errlen)
{
	p->nmatch = 0;
	for (const char *s = value;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strcspn(s, ",");
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (p->nmatch == GATE_PATTERNS_MAX) {
			snprintf(err, errlen, "at most %u patterns", GATE_PATTERNS_MAX);
			return -1;
		}
		if (pattern_parse(s, len, &p->match[p->nmatch], err, errlen) == -1)
			return -1;
		p->nmatch++;
		s = strchr(s, ',');
		if (s == NULL)
			return 0;
		s++;
	}
}

int gate_policy_set(struct gate_policy *p, const char *key, const char *value, char *err, size_t errlen)
{
	if (strcmp(key, "match") == 0)
		return match_parse(p, value, err, errlen);
	if (strcmp(key, "rate") == 0)
		return parse_rate_set(value, &p->rate, err, errlen);
	if (strcmp(key, "cost") == 0) {
		uint64_t v;
		if (parse_uint(value, 1, GATE_COST_MAX, &v, err, errlen) == -1)
			return -1;
		p->cost = (uint32_t)v;
		return 0;
	}
	snprintf(err, errlen, "unknown key (match, cost or rate)");
	return -1;
}

static int path_covers(const char *pattern, const char *path)
{
	size_t plen = strlen(pattern), len = strcspn(path, "?#");

	if (plen > 0 && pattern[plen - 1] == '*')
		return len >= plen - 1 && memcmp(pattern, path, plen - 1) == 0;
	return len == plen && memcmp(pattern, path, len) == 0;
}

int gate_policy_covers(const struct gate_policy *p, const char *method, const char *path)
{
	for (uint32_t i = 0; i < p->nmatch; i++) {
		const struct gate_pattern *m = &p->match[i];
		if (m->method[0] != '\0' && (method == NULL || strcasecmp(m->method, method) != 0))
			continue;
		if (path_covers(m->path, path))
			return 1;
	}
	return 0;
}

void gate_policy_print(const struct gate_policy *p, FILE *out)
{
	char rate[RATE_SET_TEXT_MAX];

	fprintf(out, "\n[policy %s]\nmatch = ", p->name);
	for (uint32_t i = 0; i < p->nmatch; i++)
		fprintf(out, "%s%s%s%s", i > 0 ? ", " : "", p->match[i].method[0] ? p->match[i].method : "*", " ",
		    p->match[i].path);
	fprintf(out, "\ncost = %u\nrate = %s\n", p->cost, rate_set_format(&p->rate, rate, sizeof(rate)));
}

int gate_tier_init(struct gate_tier *t, const char *name, char *err, size_t errlen)
{
	if (name_ok("tier", name, err, errlen) == -1)
		return -1;
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, strlen(name) + 1);
	return 0;
}

int gate_tier_set(struct gate_tier *t, const char *key, const char *value, char *err, size_t errlen)
{
	struct rate_set r;
	uint32_t i = 0;

	if (name_ok("policy", key, err, errlen) == -1 || parse_rate_set(value, &r, err, errlen) == -1)
		return -1;
	while (i < t->nkeys && strcmp(t->key[i], key) != 0)
		i++;
	if (i == GATE_TIER_KEYS) {
		snprintf(err, errlen, "at most %u keys (api_key and the policies)", GATE_TIER_KEYS);
		return -1;
	}
	memcpy(t->key[i], key, strlen(key) + 1);
	t->rate[i] = r;
	if (i == t->nkeys)
		t->nkeys++;
	return 0;
}

const struct rate_set *gate_tier_rate(const struct gate_tier *t, const char *key)
{
	for (uint32_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->key[i], key) == 0)
			return &t->rate[i];
	return NULL;
}

void gate_tier_print(const struct gate_tier *t, FILE *out)
{
	char rate[RATE_SET_TEXT_MAX];

	fprintf(out, "\n[tier %s]\n", t->name);
	for (uint32_t i = 0; i < t->nkeys; i++)
		fprintf(out, "%s = %s\n", t->key[i], rate_set_format(&t->rate[i], rate, sizeof(rate)));
}
