/* reload.c: SIGHUP re-reads the configuration and publishes what may change. */
#include "server/reload.h"

#include <stdlib.h>
#include <string.h>

#include "base/app.h"
#include "base/config.h"
#include "base/log.h"
#include "throttle/throttle.h"

/* Requests may still hold a retired configuration: keep them all until
 * exit. A few KiB per reload. */
static struct config **retired;
static size_t nretired;

static int rate_set_equal(const struct rate_set *a, const struct rate_set *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->w[i].limit != b->w[i].limit || a->w[i].window_s != b->w[i].window_s)
			return 0;
	return 1;
}

/* A scope's windows that fit the layout become the store's, for every
 * process that shares it (they decide by the store's rates); ones that do
 * not are kept. */
static void keep_rates_that_fit(struct config *next, const struct config *cur, struct throttle *t)
{
	char w[RATE_SET_TEXT_MAX], h[RATE_SET_TEXT_MAX];

	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
		enum throttle_scope scope = (enum throttle_scope)s;
		struct rate_set *want = (struct rate_set *)(uintptr_t)throttle_rate(next, scope);
		const struct rate_set *have = throttle_rate(cur, scope);
		rate_set_format(want, w, sizeof(w));
		rate_set_format(have, h, sizeof(h));
		if (throttle_fits(t, scope, want) == 0) {
			if (!rate_set_equal(want, have) && throttle_set_rate(t, scope, want) == -1) {
				log_warnx("reload: [throttle] %s: the store cannot take the new rate now; keeping %s",
				    throttle_scope_name(scope), h);
				*want = *have;
			}
			continue;
		}
		log_warnx("reload: [throttle] %s = %s needs another shared-memory layout; keeping %s "
			  "(restart with a new segment to apply)",
		    throttle_scope_name(scope), w, h);
		*want = *have;
	}
}

/* A tier's windows are the caller's on every decision (no store holds
 * them): they need only fit the layout; one that does not is kept. */
static void keep_tiers_that_fit(struct config *next, const struct config *cur, struct throttle *t)
{
	char w[RATE_SET_TEXT_MAX], h[RATE_SET_TEXT_MAX];

	for (unsigned i = 0; i < next->ntiers; i++) {
		struct gate_tier *tier = &next->tiers[i];
		for (uint32_t k = 0; k < tier->nkeys; k++) {
			enum throttle_scope scope = SCOPE_API_KEY;
			for (unsigned p = 0; p < next->npolicies; p++)
				if (strcmp(next->policies[p].name, tier->key[k]) == 0)
					scope = (enum throttle_scope)(SCOPE_POLICY + (int)p);
			if (throttle_fits(t, scope, &tier->rate[k]) == 0)
				continue;
			const struct rate_set *have = throttle_rate_tier(cur, scope, (int)i);
			log_warnx("reload: [tier %s] %s = %s needs another shared-memory layout; keeping %s (restart with "
				  "a new segment to apply)",
			    tier->name, tier->key[k], rate_set_format(&tier->rate[k], w, sizeof(w)),
			    rate_set_format(have, h, sizeof(h)));
			tier->rate[k] = *have;
		}
	}
}

int reload_config(struct app *app, const struct config_source *src)
{
	const struct config *cur = app_config(app);
	struct config *next = malloc(sizeof(*next));
	struct config **grown;
	char err[512];

	grown = next != NULL ? realloc(retired, (nretired + 1) * sizeof(*retired)) : NULL;
	if (grown == NULL) {
		free(next);
		log_warnx("reload: out of memory; nothing changed");
		return -1;
	}
	retired = grown;
	if (config_build(next, src, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; nothing changed", err);
		free(next);
		return -1;
	}
	config_drop_secrets(next); /* held once, by what uses them */
	config_keep_fixed(next, cur);
	keep_rates_that_fit(next, cur, app->throttle);
	keep_tiers_that_fit(next, cur, app->throttle);
	atomic_store_explicit(&app->cfg, next, memory_order_release);
	retired[nretired++] = next;
	/* Said before the new log level can silence it. */
	char rates[4][RATE_SET_TEXT_MAX];
	log_info("reload: configuration applied (api_key %s, login %s, signup %s, invalid_key %s)",
	    rate_set_format(&next->rate_api_key, rates[0], sizeof(rates[0])),
	    rate_set_format(&next->rate_login, rates[1], sizeof(rates[1])),
	    rate_set_format(&next->rate_signup, rates[2], sizeof(rates[2])),
	    rate_set_format(&next->rate_invalid_key, rates[3], sizeof(rates[3])));
	log_set_level(next->log_level);
	return 0;
}

void reload_free_retired(void)
{
	for (size_t i = 0; i < nretired; i++)
		free(retired[i]);
	free(retired);
	retired = NULL;
	nretired = 0;
}
