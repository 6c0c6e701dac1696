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

/* A rate that fits the layout becomes the store's, for every process that
 * shares it (they decide by the store's rate); one that does not is kept. */
static void keep_rates_that_fit(struct config *next, const struct config *cur, struct throttle *t)
{
	for (int s = SCOPE_NONE + 1; s < SCOPE_COUNT; s++) {
		struct rate *want = (struct rate *)(uintptr_t)throttle_rate(next, (enum throttle_scope)s);
		const struct rate *have = throttle_rate(cur, (enum throttle_scope)s);
		if (throttle_fits(t, (enum throttle_scope)s, want) == 0) {
			if ((want->limit != have->limit || want->window_s != have->window_s) &&
			    throttle_set_rate(t, (enum throttle_scope)s, want) == -1) {
				log_warnx(
				    "reload: [throttle] %s: the store cannot take the new rate now; keeping %u/%us",
				    throttle_scope_name((enum throttle_scope)s), have->limit, have->window_s);
				*want = *have;
			}
			continue;
		}
		log_warnx("reload: [throttle] %s = %u/%us needs another shared-memory layout; keeping %u/%us "
			  "(restart with a new segment to apply)",
		    throttle_scope_name((enum throttle_scope)s), want->limit, want->window_s, have->limit,
		    have->window_s);
		*want = *have;
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
	atomic_store_explicit(&app->cfg, next, memory_order_release);
	retired[nretired++] = next;
	/* Said before the new log level can silence it. */
	log_info("reload: configuration applied (api_key %u/%us, login %u/%us, signup %u/%us, invalid_key %u/%us)",
	    next->rate_api_key.limit, next->rate_api_key.window_s, next->rate_login.limit, next->rate_login.window_s,
	    next->rate_signup.limit, next->rate_signup.window_s, next->rate_invalid_key.limit,
	    next->rate_invalid_key.window_s);
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
