/*
 * config.c: one table of keys, each with its default, bounds and kind; the
 * defaults, the INI file (libinih), the environment and the command line
 * all go through config_apply(), and config_print walks the same table.
 */
#include "base/config.h"

#include <ctype.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/ratelimit_fields.h"

/* How a key's value is parsed and printed (config_apply, print_value). */
enum kind {
	K_STR,
	K_SECRET, /* printed "(set)" or "" */
	K_LISTEN,
	K_LISTEN_OPT, /* a listen address, or "" for none */
	K_NETS,
	K_UINT,
	K_DURATION, /* milliseconds, printed "<n>ms" */
	K_SIZE, /* bytes */
	K_BOOL,
	K_RATE,
	K_WORDS /* one of words[]: the field (an int) gets its index */
};

/* A key: where it goes, its default as a user would write it (parsed by
 * config_defaults), its bounds, and whether a reload may change it. The
 * table's order is --check-config's. */
struct key {
	const char *section;
	const char *name;
	const char *def;
	enum kind kind;
	size_t offset;
	size_t size; /* of the field */
	uint64_t min; /* for numbers, sizes and durations (ms) */
	uint64_t max;
	int live; /* a reload (SIGHUP) may change it */
	const char *const *words; /* K_WORDS: in the field's order */
	int nwords;
};

/* The words of the keys that take one of a few. The order is the fields'
 * meaning (0 = false, 1 = true; enum order). */
static const char *const backends[] = { "shm", "redis" };
static const char *const formats[] = {
	[ACCESS_LOG_TEXT] = "text", [ACCESS_LOG_JSON] = "json", [ACCESS_LOG_OFF] = "off"
};
static const char *const on_error[] = { "deny", "allow" };
static const char *const synchronous[] = { "normal", "full" };
_Static_assert(sizeof(enum access_log) == sizeof(int), "choose() writes an int");
_Static_assert(sizeof(enum log_level) == sizeof(int), "choose() writes an int");

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define MS(x) ((uint64_t)(x)*1000)
/* Designators, so that a row without words needs no placeholders. */
#define LIVE .live = 1 /* a reload applies it */
#define FIXED .live = 0 /* read at start only */
#define WORDS(list) .words = (list), .nwords = (int)(sizeof(list) / sizeof((list)[0]))

static const struct key keys[] = {
	{ "server", "listen", "127.0.0.1:8000", K_LISTEN, F(listen), 0, 0, FIXED },
	{ "server", "threads", "0", K_UINT, F(threads), 0, 256, FIXED },
	{ "server", "data_dir", "/var/lib/keygate", K_STR, F(data_dir), 0, 0, FIXED },
	{ "server", "connection_limit", "1000", K_UINT, F(connection_limit), 1, 100000, FIXED },
	{ "server", "per_ip_connection_limit", "0", K_UINT, F(per_ip_connection_limit), 0, 100000, FIXED },
	{ "server", "connection_timeout", "30s", K_DURATION, F(connection_timeout_ms), MS(1), MS(3600), FIXED },
	{ "server", "body_max", "64KiB", K_SIZE, F(body_max), 16, 64 * 1024 * 1024, LIVE },
	{ "server", "shutdown_grace", "10s", K_DURATION, F(shutdown_grace_ms), 0, MS(3600), FIXED },
	{ "server", "log_level", "info", K_WORDS, F(log_level), 0, 0, LIVE, WORDS(log_level_names) },
	{ "server", "linger_time", "10s", K_DURATION, F(linger_time_ms), 0, MS(300), FIXED },
	{ "server", "linger_bytes", "16MiB", K_SIZE, F(linger_bytes), 0, (uint64_t)1 << 32, FIXED },
	{ "server", "access_log_buffer", "64KiB", K_SIZE, F(access_log_buffer), 0, 1024 * 1024, FIXED },
	{ "server", "core_dumps", "no", K_BOOL, F(core_dumps), 0, 0, FIXED },
	{ "server", "access_log", "text", K_WORDS, F(access_log), 0, 0, LIVE, WORDS(formats) },
	{ "server", "admin_listen", "127.0.0.1:9100", K_LISTEN_OPT, F(admin_listen), 0, 0, FIXED },
	{ "server", "trusted_proxies", "", K_NETS, F(trusted_proxies), 0, 0, LIVE },
	{ "database", "url", "", K_SECRET, F(db_url), 0, 0, FIXED },
	{ "database", "path", "keygate.db", K_STR, F(db_path), 0, 0, FIXED },
	{ "database", "busy_timeout", "5s", K_DURATION, F(busy_timeout_ms), 0, MS(60), FIXED },
	{ "database", "synchronous", "full", K_WORDS, F(synchronous_full), 0, 0, FIXED, WORDS(synchronous) },
	{ "database", "mmap_size", "256MiB", K_SIZE, F(mmap_size), 0, (uint64_t)1 << 40, FIXED },
	{ "database", "list_cache", "yes", K_BOOL, F(list_cache), 0, 0, FIXED },
	{ "auth", "jwt_secret_file", "jwt.secret", K_STR, F(jwt_secret_file), 0, 0, FIXED },
	{ "auth", "jwt_secret", "", K_SECRET, F(jwt_secret), 0, 0, FIXED },
	{ "auth", "key_secret_file", "apikey.secret", K_STR, F(key_secret_file), 0, 0, FIXED },
	{ "auth", "access_ttl", "5m", K_DURATION, F(access_ttl_ms), MS(1), MS(86400) * 30, FIXED },
	{ "auth", "refresh_ttl", "1d", K_DURATION, F(refresh_ttl_ms), MS(1), MS(86400) * 365, FIXED },
	{ "auth", "hash_threads", "0", K_UINT, F(hash_threads), 0, 64, FIXED },
	{ "auth", "hash_queue", "64", K_UINT, F(hash_queue), 1, 100000, FIXED },
	{ "auth", "key_cache", "65536", K_UINT, F(key_cache), 0, 16777216, FIXED },
	{ "throttle", "backend", "shm", K_WORDS, F(backend_redis), 0, 0, FIXED, WORDS(backends) },
	{ "throttle", "redis_address", "127.0.0.1:6379", K_STR, F(redis_address), 0, 0, FIXED },
	{ "throttle", "redis_prefix", "keygate:", K_STR, F(redis_prefix), 0, 0, FIXED },
	{ "throttle", "redis_timeout", "100ms", K_DURATION, F(redis_timeout_ms), 1, MS(60), FIXED },
	{ "throttle", "shm_name", "/keygate-throttle", K_STR, F(shm_name), 0, 0, FIXED },
	{ "throttle", "capacity", "65536", K_UINT, F(capacity), 16, 100000000, FIXED },
	{ "throttle", "api_key", "5/minute", K_RATE, F(rate_api_key), 0, 0, LIVE },
	{ "throttle", "login", "10/minute", K_RATE, F(rate_login), 0, 0, LIVE },
	{ "throttle", "signup", "5/hour", K_RATE, F(rate_signup), 0, 0, LIVE },
	{ "throttle", "invalid_key", "20/minute", K_RATE, F(rate_invalid_key), 0, 0, LIVE },
	{ "throttle", "regenerate", "5/hour", K_RATE, F(rate_regenerate), 0, 0, LIVE },
	{ "throttle", "refresh", "30/hour", K_RATE, F(rate_refresh), 0, 0, LIVE },
	{ "throttle", "ipv6_prefix", "64", K_UINT, F(ipv6_prefix), 1, 128, FIXED },
	{ "throttle", "quota_headers", "draft-11", K_WORDS, F(quota_headers), 0, 0, LIVE,
	    WORDS(ratelimit_fields_form_names) },
	{ "throttle", "legacy_headers", "no", K_BOOL, F(legacy_headers), 0, 0, LIVE },
	{ "throttle", "on_error", "deny", K_WORDS, F(fail_open), 0, 0, LIVE, WORDS(on_error) },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

int config_build(struct config *cfg, const struct config_source *src, char *err, size_t errlen)
{
	config_defaults(cfg);
	if (src->file != NULL && config_load_file(cfg, src->file, err, errlen) == -1)
		return -1;
	if (config_load_env(cfg, src->envp, err, errlen) == -1)
		return -1;
	for (int i = 0; i < src->noverrides; i++)
		if (config_set(cfg, src->overrides[i].key, src->overrides[i].value, err, errlen) == -1)
			return -1;
	return config_finish(cfg, err, errlen);
}

/* The index of a K_SECRET key among them (its fingerprint's slot). */
static int secret_index(const struct key *k);

static int field_equal(const struct key *k, const struct config *a, const struct config *b)
{
	const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	if (k->kind == K_SECRET && a->secrets_dropped && b->secrets_dropped)
		return sodium_memcmp(a->secret_fp[secret_index(k)], b->secret_fp[secret_index(k)], 16) == 0;
	if (k->kind == K_STR || k->kind == K_SECRET || k->kind == K_LISTEN || k->kind == K_NETS ||
	    k->kind == K_LISTEN_OPT)
		return strcmp(fa, fb) == 0;
	return memcmp(fa, fb, k->size) == 0;
}

/* Policies are throttle scopes by their index: names and order stay. */
static int policies_same_names(const struct config *a, const struct config *b)
{
	if (a->npolicies != b->npolicies)
		return 0;
	for (unsigned i = 0; i < a->npolicies; i++)
		if (strcmp(a->policies[i].name, b->policies[i].name) != 0)
			return 0;
	return 1;
}

static int tiers_same_names(const struct config *a, const struct config *b)
{
	if (a->ntiers != b->ntiers)
		return 0;
	for (unsigned i = 0; i < a->ntiers; i++)
		if (strcmp(a->tiers[i].name, b->tiers[i].name) != 0)
			return 0;
	return 1;
}

int config_keep_fixed(struct config *next, const struct config *cur)
{
	int kept = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->live || field_equal(k, next, cur))
			continue;
		memcpy((char *)next + k->offset, (const char *)cur + k->offset, k->size);
		if (k->kind == K_SECRET && next->secrets_dropped && cur->secrets_dropped)
			memcpy(next->secret_fp[secret_index(k)], cur->secret_fp[secret_index(k)], 16);
		log_warnx("reload: [%s] %s cannot change while running; keeping the running value (restart to apply)",
		    k->section, k->name);
		kept++;
	}
	if (!tiers_same_names(next, cur)) {
		memcpy(next->tiers, cur->tiers, sizeof(cur->tiers));
		next->ntiers = cur->ntiers;
		log_warnx("reload: the [tier] sections' names and order cannot change while running; keeping the "
			  "running tiers (restart to apply)");
		kept++;
	}
	if (!policies_same_names(next, cur)) {
		memcpy(next->policies, cur->policies, sizeof(cur->policies));
		next->npolicies = cur->npolicies;
		log_warnx("reload: the [policy] sections' names and order cannot change while running; keeping the "
			  "running policies (restart to apply)");
		kept++;
	}
	/* Derived from fixed keys. */
	next->threads = cur->threads;
	next->hash_threads = cur->hash_threads;
	return kept;
}

static int config_apply(struct config *cfg, const struct key *k, const char *value, char *err, size_t errlen);

/* Every key's default, parsed as a user's value is; what no key sets
 * (policies, tiers, the parsed networks) is zero. */
void config_defaults(struct config *cfg)
{
	char err[192];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++)
		if (config_apply(cfg, &keys[i], keys[i].def, err, sizeof(err)) == -1)
			fatalx("config: the default of [%s] %s: %s", keys[i].section, keys[i].name, err);
}

static int secret_index(const struct key *k)
{
	int n = 0;
	for (const struct key *p = keys; p < k; p++)
		n += p->kind == K_SECRET;
	return n;
}

void config_drop_secrets(struct config *cfg)
{
	/* Keyed per process: a fingerprint of a weak database password
	 * cannot be tested offline. */
	static unsigned char fp_key[crypto_generichash_KEYBYTES];
	static int keyed;

	if (!keyed) {
		randombytes_buf(fp_key, sizeof(fp_key));
		keyed = 1;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].kind != K_SECRET)
			continue;
		char *v = (char *)cfg + keys[i].offset;
		int slot = secret_index(&keys[i]);
		_Static_assert(sizeof(cfg->secret_fp) / sizeof(cfg->secret_fp[0]) == 2, "one slot per K_SECRET key");
		crypto_generichash(cfg->secret_fp[slot], 16, (const unsigned char *)v, strlen(v), fp_key, sizeof(fp_key));
		int set = v[0] != '\0';
		sodium_memzero(v, keys[i].size);
		if (set)
			memcpy(v, "(set)", 6);
	}
	cfg->secrets_dropped = 1;
}

static const struct key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int apply_str(const struct key *k, char *field, const char *value, char *err, size_t errlen)
{
	size_t len = strlen(value);
	if (len >= k->size) {
		snprintf(err, errlen, "too long (at most %zu bytes)", k->size - 1);
		return -1;
	}
	if (len == 0 && k->kind != K_SECRET && k->kind != K_NETS && k->kind != K_LISTEN_OPT) {
		snprintf(err, errlen, "must not be empty");
		return -1;
	}
	memcpy(field, value, len + 1);
	return 0;
}

static int choose(const char *value, const char *const *words, int n, int *out, char *err, size_t errlen)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(value, words[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	len += (size_t)snprintf(err, errlen, "must be");
	for (int i = 0; i < n && len < errlen; i++)
		len += (size_t)snprintf(err + len, errlen - len, "%s %s",
		    i == 0       ? ""
		    : i == n - 1 ? " or"
				 : ",",
		    words[i]);
	return -1;
}

/* Parse value into the field k describes. On error, err has the reason. */
static int config_apply(struct config *cfg, const struct key *k, const char *value, char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	uint64_t v;

	switch (k->kind) {
	case K_STR:
	case K_SECRET: return apply_str(k, field, value, err, errlen);
	case K_LISTEN:
	case K_LISTEN_OPT: {
		struct sockaddr_storage ss;
		socklen_t sl;
		if ((k->kind == K_LISTEN || value[0] != '\0') && addr_parse_listen(value, &ss, &sl, err, errlen) == -1)
			return -1;
		return apply_str(k, field, value, err, errlen);
	}
	case K_WORDS: return choose(value, k->words, k->nwords, (int *)(void *)field, err, errlen);
	case K_UINT:
		if (parse_uint(value, k->min, k->max, &v, err, errlen) == -1)
			return -1;
		*(unsigned *)(void *)field = (unsigned)v;
		return 0;
	case K_DURATION: return parse_duration_ms(value, k->min, k->max, (uint64_t *)(void *)field, err, errlen);
	case K_SIZE: return parse_size(value, k->min, k->max, (uint64_t *)(void *)field, err, errlen);
	case K_BOOL: return parse_bool(value, (int *)(void *)field, err, errlen);
	case K_RATE: return parse_rate_set(value, (struct rate_set *)(void *)field, err, errlen);
	case K_NETS: {
		int n = addr_parse_nets(value, cfg->trusted, ADDR_NETS_MAX, err, errlen);
		if (n == -1)
			return -1;
		cfg->ntrusted = n;
		return apply_str(k, field, value, err, errlen);
	}
	}
	snprintf(err, errlen, "unknown kind");
	return -1;
}

/* A key of a [policy NAME] section: the policy made on its first key. */
static int policy_key(struct config *cfg, const char *name, const char *key, const char *value, char *err, size_t errlen)
{
	struct gate_policy *p = NULL;

	for (unsigned i = 0; i < cfg->npolicies && p == NULL; i++)
		if (strcmp(cfg->policies[i].name, name) == 0)
			p = &cfg->policies[i];
	if (p == NULL) {
		if (cfg->npolicies == GATE_POLICIES_MAX) {
			snprintf(err, errlen, "at most %u policies", GATE_POLICIES_MAX);
			return -1;
		}
		if (gate_policy_init(&cfg->policies[cfg->npolicies], name, err, errlen) == -1)
			return -1;
		p = &cfg->policies[cfg->npolicies++];
	}
	return gate_policy_set(p, key, value, err, errlen);
}

int config_tier_index(const struct config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->ntiers; i++)
		if (strcmp(cfg->tiers[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A key of a [tier NAME] section: the tier made on its first key. */
static int tier_key(struct config *cfg, const char *name, const char *key, const char *value, char *err, size_t errlen)
{
	int i = config_tier_index(cfg, name);

	if (i == -1) {
		if (cfg->ntiers == GATE_TIERS_MAX) {
			snprintf(err, errlen, "at most %u tiers", GATE_TIERS_MAX);
			return -1;
		}
		if (gate_tier_init(&cfg->tiers[cfg->ntiers], name, err, errlen) == -1)
			return -1;
		i = (int)cfg->ntiers++;
	}
	return gate_tier_set(&cfg->tiers[i], key, value, err, errlen);
}

/* [policy NAME] and [tier NAME]: section names of the operator's. 1 when
 * section is one (then the result in *rc), else 0. */
static int gate_key(struct config *cfg, const char *section, const char *key, const char *value, char *err,
    size_t errlen, int *rc)
{
	if (strncmp(section, "policy ", 7) == 0)
		*rc = policy_key(cfg, section + 7, key, value, err, errlen);
	else if (strncmp(section, "tier ", 5) == 0)
		*rc = tier_key(cfg, section + 5, key, value, err, errlen);
	else
		return 0;
	return 1;
}

struct ini_ctx {
	struct config *cfg;
	char reason[256]; /* first error only: ini_parse reports its line */
};

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	char why[192];

	if (name == NULL) /* a section header alone, with INI_CALL_HANDLER_ON_NEW_SECTION */
		return 1;
	int rc;
	if (gate_key(ctx->cfg, section, name, value, why, sizeof(why), &rc)) {
		if (rc == 0)
			return 1;
		if (ctx->reason[0] == '\0')
			snprintf(ctx->reason, sizeof(ctx->reason), "[%.40s] %.32s: %.150s", section, name, why);
		return 0;
	}
	const struct key *k = key_find(section, name);
	if (k == NULL) {
		if (ctx->reason[0] == '\0')
			snprintf(ctx->reason, sizeof(ctx->reason), "[%.32s] %.64s: unknown key", section, name);
		return 0;
	}
	if (config_apply(ctx->cfg, k, value, why, sizeof(why)) == -1) {
		if (ctx->reason[0] == '\0')
			snprintf(ctx->reason, sizeof(ctx->reason), "[%s] %s: %s", section, name, why);
		return 0;
	}
	return 1;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct ini_ctx ctx = { .cfg = cfg, .reason = "" };

	int rc = ini_parse(path, on_ini_key, &ctx);
	if (rc == 0)
		return 0;
	if (rc == -1)
		snprintf(err, errlen, "%s: cannot open the file", path);
	else if (rc == -2)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (ctx.reason[0] != '\0')
		snprintf(err, errlen, "%s:%d: %s", path, rc, ctx.reason);
	else /* inih's own syntax error, e.g. a line over 200 bytes or no '=' */
		snprintf(err, errlen,
		    "%s:%d: syntax error (expected key = value, [section], or a line under 200 bytes)", path, rc);
	return -1;
}

/* KEYGATE_SERVER_LISTEN -> the key server.listen, or NULL. */
static const struct key *key_from_env(const char *name, size_t len)
{
	char want[96];

	for (size_t i = 0; i < NKEYS; i++) {
		int n = snprintf(want, sizeof(want), "KEYGATE_%s_%s", keys[i].section, keys[i].name);
		if (n < 0 || (size_t)n != len)
			continue;
		for (char *p = want; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		if (memcmp(want, name, len) == 0)
			return &keys[i];
	}
	return NULL;
}

int config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
	char why[192];

	for (; *envp != NULL; envp++) {
		const char *eq = strchr(*envp, '=');
		if (eq == NULL || strncmp(*envp, "KEYGATE_", 8) != 0 || strncmp(*envp, "KEYGATE_CONFIG=", 15) == 0)
			continue;
		size_t len = (size_t)(eq - *envp);
		const struct key *k = key_from_env(*envp, len);
		if (k == NULL) {
			snprintf(err, errlen, "environment: %.*s: unknown setting", (int)(len > 64 ? 64 : len), *envp);
			return -1;
		}
		if (config_apply(cfg, k, eq + 1, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "environment: %.*s: %s", (int)len, *envp, why);
			return -1;
		}
	}
	return 0;
}

int config_set(struct config *cfg, const char *dotted, const char *value, char *err, size_t errlen)
{
	char section[32], why[192];
	const char *dot = strchr(dotted, '.');

	if (dot == NULL || (size_t)(dot - dotted) >= sizeof(section)) {
		snprintf(err, errlen, "command line: %.64s: expected section.key", dotted);
		return -1;
	}
	memcpy(section, dotted, (size_t)(dot - dotted));
	section[dot - dotted] = '\0';
	const char *last = strrchr(dot + 1, '.');
	if ((strcmp(section, "policy") == 0 || strcmp(section, "tier") == 0) && last != NULL &&
	    (size_t)(last - dot - 1) <= GATE_NAME_MAX) {
		/* policy.NAME.key, tier.NAME.key: the section "policy NAME" */
		char named[8 + GATE_NAME_MAX + 1];
		size_t n = strlen(section), len = (size_t)(last - dot - 1);
		int rc;
		memcpy(named, section, n);
		named[n] = ' ';
		memcpy(named + n + 1, dot + 1, len);
		named[n + 1 + len] = '\0';
		gate_key(cfg, named, last + 1, value, why, sizeof(why), &rc);
		if (rc == 0)
			return 0;
		snprintf(err, errlen, "command line: [%s] %s: %s", named, last + 1, why);
		return -1;
	}
	const struct key *k = key_find(section, dot + 1);
	if (k == NULL) {
		snprintf(err, errlen, "command line: %.64s: unknown key", dotted);
		return -1;
	}
	if (config_apply(cfg, k, value, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "command line: [%s] %s: %s", k->section, k->name, why);
		return -1;
	}
	return 0;
}

int config_path(const struct config *cfg, const char *path, char *out, size_t outlen)
{
	int n =
	    path[0] == '/' ? snprintf(out, outlen, "%s", path) : snprintf(out, outlen, "%s/%s", cfg->data_dir, path);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* Each policy matches something, has windows (the api_key ones unless
 * given) and a cost every window can admit. */
static int policies_finish(struct config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->npolicies; i++) {
		struct gate_policy *p = &cfg->policies[i];
		if (p->nmatch == 0) {
			snprintf(err, errlen, "[policy %s] match: missing (which requests it covers)", p->name);
			return -1;
		}
		if (p->rate.n == 0)
			p->rate = cfg->rate_api_key;
		for (uint32_t w = 0; w < p->rate.n; w++) {
			if (p->cost > p->rate.w[w].limit) {
				snprintf(err, errlen, "[policy %s] cost: %u is more than its %u/%us window admits",
				    p->name, p->cost, p->rate.w[w].limit, p->rate.w[w].window_s);
				return -1;
			}
		}
	}
	return 0;
}

/* A tier names only api_key and policies, with as many windows as the
 * scope's own (it changes their numbers), and each cost fits. */
static int tiers_finish(struct config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->ntiers; i++) {
		const struct gate_tier *t = &cfg->tiers[i];
		for (uint32_t k = 0; k < t->nkeys; k++) {
			const struct rate_set *own = strcmp(t->key[k], "api_key") == 0 ? &cfg->rate_api_key : NULL;
			uint32_t cost = 1;
			for (unsigned p = 0; own == NULL && p < cfg->npolicies; p++)
				if (strcmp(cfg->policies[p].name, t->key[k]) == 0) {
					own = &cfg->policies[p].rate;
					cost = cfg->policies[p].cost;
				}
			if (own == NULL) {
				snprintf(err, errlen, "[tier %s] %s: neither api_key nor a [policy] name", t->name, t->key[k]);
				return -1;
			}
			if (t->rate[k].n != own->n) {
				snprintf(err, errlen, "[tier %s] %s: %u windows where the scope has %u (a tier changes N and W, "
						      "not how many windows)", t->name, t->key[k], t->rate[k].n, own->n);
				return -1;
			}
			for (uint32_t w = 0; w < t->rate[k].n; w++)
				if (cost > t->rate[k].w[w].limit) {
					snprintf(err, errlen, "[tier %s] %s: the policy's cost %u is more than %u/%us admits",
					    t->name, t->key[k], cost, t->rate[k].w[w].limit, t->rate[k].w[w].window_s);
					return -1;
				}
		}
	}
	return 0;
}

int config_finish(struct config *cfg, char *err, size_t errlen)
{
	if (policies_finish(cfg, err, errlen) == -1 || tiers_finish(cfg, err, errlen) == -1)
		return -1;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (cfg->threads == 0)
		cfg->threads = (unsigned)ncpu;
	if (cfg->hash_threads == 0)
		cfg->hash_threads = (unsigned)ncpu;
	if (cfg->shm_name[0] != '/' || strchr(cfg->shm_name + 1, '/') != NULL) {
		snprintf(err, errlen, "[throttle] shm_name: must start with '/' and hold no other '/'");
		return -1;
	}
	if (cfg->refresh_ttl_ms < cfg->access_ttl_ms) {
		snprintf(err, errlen, "[auth] refresh_ttl: must not be shorter than access_ttl");
		return -1;
	}
	return 0;
}

/* One key's line, as the file would say it. */
static void print_value(const struct config *cfg, const struct key *k, FILE *out)
{
	const char *field = (const char *)cfg + k->offset;
	char text[RATE_SET_TEXT_MAX];

	fprintf(out, "%s = ", k->name);
	switch (k->kind) {
	case K_STR:
	case K_LISTEN:
	case K_LISTEN_OPT:
	case K_NETS: fprintf(out, "%s\n", field); return;
	case K_SECRET: fprintf(out, "%s\n", field[0] != '\0' ? "(set)" : ""); return;
	case K_UINT: fprintf(out, "%u\n", *(const unsigned *)(const void *)field); return;
	case K_DURATION: fprintf(out, "%llums\n", (unsigned long long)*(const uint64_t *)(const void *)field); return;
	case K_SIZE: fprintf(out, "%llu\n", (unsigned long long)*(const uint64_t *)(const void *)field); return;
	case K_BOOL: fprintf(out, "%s\n", *(const int *)(const void *)field ? "yes" : "no"); return;
	case K_RATE:
		fprintf(out, "%s\n", rate_set_format((const struct rate_set *)(const void *)field, text, sizeof(text)));
		return;
	case K_WORDS: {
		int i = *(const int *)(const void *)field;
		fprintf(out, "%s\n", i >= 0 && i < k->nwords ? k->words[i] : "?");
		return;
	}
	}
	fprintf(out, "?\n");
}

void config_print(const struct config *cfg, FILE *out)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (i == 0 || strcmp(keys[i].section, keys[i - 1].section) != 0)
			fprintf(out, "%s[%s]\n", i == 0 ? "" : "\n", keys[i].section);
		print_value(cfg, &keys[i], out);
	}
	for (unsigned i = 0; i < cfg->npolicies; i++)
		gate_policy_print(&cfg->policies[i], out);
	for (unsigned i = 0; i < cfg->ntiers; i++)
		gate_tier_print(&cfg->tiers[i], out);
}
