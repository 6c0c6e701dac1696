/* admin.c: keygate user/key/quota — the operator's commands. */
#include "server/admin.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/app.h"
#include "base/config.h"
#include "base/log.h"
#include "store/store.h"
#include "throttle/throttle.h"

static int print_user(const struct store_user *u, int64_t joined, void *arg)
{
	char date[32];
	time_t t = (time_t)joined;
	struct tm tm;
	(void)arg;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-8lld %-24s %-32s %-8s %s\n", (long long)u->id, u->username, u->email[0] ? u->email : "-",
	    u->is_active ? "active" : "disabled", date);
	return 0;
}

static int user_list(struct app *app)
{
	printf("%-8s %-24s %-32s %-8s %s\n", "ID", "USERNAME", "EMAIL", "STATUS", "JOINED");
	return store_users_list(app->store, print_user, NULL) == STORE_OK ? 0 : 1;
}

static int user_set_active(struct app *app, const char *name, int active)
{
	int64_t id;
	int rc = store_user_set_active(app->store, name, active, &id);

	if (rc == STORE_NOT_FOUND) {
		fprintf(stderr, "keygate: no user named %s\n", name);
		return 1;
	}
	if (rc != STORE_OK)
		return 1;
	printf("user %s (id %lld) %s\n", name, (long long)id,
	    active ? "enabled" : "disabled: their tokens and API key are refused from now on");
	return 0;
}

static int find_user(struct app *app, const char *name, struct store_user *u)
{
	int rc = store_user_by_name(app->store, name, u);
	if (rc == STORE_NOT_FOUND)
		fprintf(stderr, "keygate: no user named %s\n", name);
	return rc == STORE_OK ? 0 : -1;
}

static int key_regenerate(struct app *app, const char *name)
{
	struct store_user u;
	struct store_apikey rec;
	uint8_t key[APIKEY_BYTES];
	char text[APIKEY_TEXT_LEN + 1];

	if (find_user(app, name, &u) == -1)
		return 1;
	apikey_generate(key);
	apikey_hash(&app->keys, key, rec.hash);
	apikey_seal(&app->keys, key, rec.box);
	int rc = store_apikey_replace(app->store, u.id, &rec);
	if (rc == STORE_OK) {
		apikey_format(key, text);
		/* Shown once, to the operator who asked; never logged. */
		printf("%s\n", text);
		sodium_memzero(text, sizeof(text));
	}
	sodium_memzero(key, sizeof(key));
	return rc == STORE_OK ? 0 : 1;
}

static int quota(struct app *app, const char *name, int reset)
{
	const struct config *cfg = app_config(app);
	struct store_user u;
	struct throttle_decision d;

	if (find_user(app, name, &u) == -1)
		return 1;
	if (reset) {
		if (throttle_forget(app->throttle, SCOPE_API_KEY, (uint64_t)u.id) == -1)
			return 1;
		printf("user %s (id %lld): api_key window reset\n", name, (long long)u.id);
		return 0;
	}
	/* A look spends nothing; by the user's tier's windows, if any. */
	const struct rate_set *rate = throttle_rate_tier(cfg, SCOPE_API_KEY, config_tier_index(cfg, u.tier));
	if (throttle_decide(app->throttle, SCOPE_API_KEY, rate, (uint64_t)u.id, throttle_now_ms(), 0, &d) == -1)
		return 1;
	for (uint32_t i = 0; i < d.nwindows; i++) {
		const struct throttle_window *w = &d.w[i];
		printf("user %s (id %lld): api_key %u/%us: used %u, remaining %u, next slot frees in %llus\n", name,
		    (long long)u.id, w->limit, w->window_s, w->limit - w->remaining, w->remaining,
		    (unsigned long long)((w->reset_ms + 999) / 1000));
	}
	return 0;
}

static int user_tier(struct app *app, const char *name, const char *tier)
{
	const struct config *cfg = app_config(app);
	int64_t id;

	if (strcmp(tier, "default") == 0) {
		tier = "";
	} else if (config_tier_index(cfg, tier) == -1) {
		fprintf(stderr, "keygate: no [tier %s] in the configuration (tiers:", tier);
		for (unsigned i = 0; i < cfg->ntiers; i++)
			fprintf(stderr, " %s", cfg->tiers[i].name);
		fprintf(stderr, "%s default)\n", cfg->ntiers > 0 ? "," : "");
		return 1;
	}
	int rc = store_user_set_tier(app->store, name, tier, &id);
	if (rc == STORE_NOT_FOUND) {
		fprintf(stderr, "keygate: no user named %s\n", name);
		return 1;
	}
	if (rc != STORE_OK)
		return 1;
	printf("user %s (id %lld): tier %s, from their next request on\n", name, (long long)id,
	    tier[0] != '\0' ? tier : "default");
	return 0;
}

int admin_user_list(struct app *app, const char *arg)
{
	(void)arg;
	return user_list(app);
}

int admin_user_disable(struct app *app, const char *name)
{
	return user_set_active(app, name, 0);
}

int admin_user_enable(struct app *app, const char *name)
{
	return user_set_active(app, name, 1);
}

int admin_user_tier(struct app *app, const char *name, const char *tier)
{
	return user_tier(app, name, tier);
}

int admin_key_regenerate(struct app *app, const char *name)
{
	return key_regenerate(app, name);
}

int admin_quota_show(struct app *app, const char *name)
{
	return quota(app, name, 0);
}

int admin_quota_reset(struct app *app, const char *name)
{
	return quota(app, name, 1);
}
