#ifndef KEYGATE_CONFIG_H
#define KEYGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/addr.h"
#include "lib/gate_policy.h"
#include "base/log.h"
#include "lib/parse.h"

/*
 * The whole configuration, one struct. Filled in order of precedence:
 * built-in defaults < INI file < environment (KEYGATE_<SECTION>_<KEY>) <
 * command line. Written only by the main thread before workers start;
 * read-only afterwards.
 */
#define CONFIG_PATH_MAX 1024
#define CONFIG_SECRET_MAX 512

struct config {
	/* [server] */
	char listen[128];
	unsigned threads; /* 0 until config_finish: then the number of CPUs */
	char data_dir[CONFIG_PATH_MAX];
	unsigned connection_limit;
	unsigned per_ip_connection_limit;
	uint64_t connection_timeout_ms;
	uint64_t body_max;
	uint64_t linger_time_ms; /* lingering close of early answers; 0: off */
	uint64_t linger_bytes; /* most bytes read and discarded while lingering */
	uint64_t shutdown_grace_ms;
	enum log_level log_level;
	enum access_log { ACCESS_LOG_TEXT, ACCESS_LOG_JSON, ACCESS_LOG_OFF } access_log;
	uint64_t access_log_buffer; /* bytes per thread; 0 = a write per line */
	char admin_listen[128]; /* "" = no admin listener */
	int core_dumps; /* leave the process dumpable (cores then hold secrets) */
	char trusted_proxies[512];
	struct addr_net trusted[ADDR_NETS_MAX]; /* parsed trusted_proxies */
	int ntrusted;
	/* [database] */
	char db_path[CONFIG_PATH_MAX]; /* relative to data_dir unless absolute */
	char db_url[CONFIG_SECRET_MAX]; /* postgresql://...: then PostgreSQL, not db_path */
	uint64_t busy_timeout_ms;
	int synchronous_full;
	uint64_t mmap_size;
	int list_cache; /* keep GET /books/ replies per thread (list_cache.c) */
	/* [auth] */
	char jwt_secret_file[CONFIG_PATH_MAX]; /* relative to data_dir */
	char jwt_secret[CONFIG_SECRET_MAX]; /* wins over the file when set */
	char key_secret_file[CONFIG_PATH_MAX]; /* relative to data_dir */
	uint64_t access_ttl_ms;
	uint64_t refresh_ttl_ms;
	unsigned hash_threads; /* 0 until config_finish: then the number of CPUs */
	unsigned key_cache;
	unsigned hash_queue;
	/* [throttle] */
	int backend_redis; /* backend = redis (else shm) */
	char redis_address[256];
	char redis_prefix[64]; /* of every key keygate makes in Redis */
	uint64_t redis_timeout_ms;
	char shm_name[64];
	unsigned capacity;
	struct rate_set rate_api_key;
	struct rate_set rate_login;
	struct rate_set rate_signup;
	struct rate_set rate_invalid_key;
	struct rate_set rate_regenerate;
	struct rate_set rate_refresh;
	unsigned ipv6_prefix; /* an IPv6 client is counted by this prefix */
	int legacy_headers;
	int quota_headers; /* enum ratelimit_form: the form of the quota fields */
	int fail_open; /* on_error = allow: admit when the store cannot answer */
	/* [policy NAME] sections, in the file's order (lib/gate_policy.h);
	 * names and order fixed while running. */
	struct gate_policy policies[GATE_POLICIES_MAX];
	unsigned npolicies;
	/* [tier NAME] sections: users' other windows (lib/gate_policy.h);
	 * names and order fixed while running, as a user's tier is cached by
	 * its index. */
	struct gate_tier tiers[GATE_TIERS_MAX];
	unsigned ntiers;
	/* Secrets are held once, by what uses them: config_drop_secrets wipes
	 * the [auth] jwt_secret and [database] url values (leaving "(set)" when
	 * set) and keeps a keyed fingerprint of each, so that a reload still
	 * sees whether one changed. */
	int secrets_dropped;
	unsigned char secret_fp[2][16];
};

/* Every key's default (the text config.c's table gives, parsed as a
 * user's value is); the rest zero. */
void config_defaults(struct config *cfg);

/* Where a configuration comes from, so that a reload can read it again. */
struct config_override {
	const char *key; /* "section.key" */
	const char *value;
};
struct config_source {
	const char *file; /* NULL: no file */
	char *const *envp;
	const struct config_override *overrides;
	int noverrides;
};
/* Defaults, then the file, the environment and the overrides, then
 * config_finish: 0, or -1 with the first error in err. */
int config_build(struct config *cfg, const struct config_source *src, char *err, size_t errlen);

/* For a reload: every key that cannot change while running and differs in
 * next is set back to cur's value, with a warning. Returns how many. */
int config_keep_fixed(struct config *next, const struct config *cur);

/* Each returns 0, or -1 with "where: [section] key: reason" in err. A
 * secret's value never appears in err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
/* envp as in main(); KEYGATE_CONFIG (the file name) is skipped. */
int config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen);
/* "section.key" = value, from the command line. */
int config_set(struct config *cfg, const char *dotted, const char *value, char *err, size_t errlen);
/* Derived values: paths joined to data_dir, thread counts. */
int config_finish(struct config *cfg, char *err, size_t errlen);

/* Wipe the secrets' values once they have been handed over (the JWT
 * signer, the PostgreSQL store); every retained configuration (a reload
 * keeps the old ones) then holds none. */
void config_drop_secrets(struct config *cfg);

/* Join a path to data_dir unless it is absolute. -1 if it does not fit. */
int config_path(const struct config *cfg, const char *path, char *out, size_t outlen);

/* The index of the tier named name, or -1 ("" and unknown names: none). */
int config_tier_index(const struct config *cfg, const char *name);

/* Print the effective configuration as INI, every key in the table's order
 * (secrets shown as "(set)"), then the [policy] and [tier] sections. */
void config_print(const struct config *cfg, FILE *out);

#endif
