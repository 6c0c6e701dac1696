#ifndef KEYGATE_APP_H
#define KEYGATE_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include "lib/apikey.h"
#include "base/config.h"
#include "base/password.h"
#include "lib/token.h"

struct store;
struct throttle;

/*
 * What every request can reach: built by main() before the HTTP server
 * starts and read-only while it runs (each member documents its own
 * thread safety), but for `cfg`: a reload publishes a new configuration
 * by swapping the pointer (release); a request takes its snapshot once,
 * when it starts (app_config, acquire), and keeps it to the end. Retired
 * configurations are freed only at exit.
 */
struct app {
	const struct config *_Atomic cfg;
	/* What cfg was built from (file, environment, overrides): what a
	 * reload (SIGHUP) reads again. Set by main before the server starts. */
	const struct config_source *src;
	struct store *store;
	struct throttle *throttle;
	struct password_pool *passwords;
	struct token_signer tokens;
	struct apikey_keys keys;
	/* Verified against when a login names no user, so that a login costs
	 * the same whether or not the user exists. */
	char dummy_hash[PASSWORD_HASH_MAX];
	/* Set at shutdown: every reply then closes its connection, so that no
	 * client sends another request on a connection about to go. */
	atomic_int draining;
};

static inline const struct config *app_config(const struct app *app)
{
	return atomic_load_explicit(&((struct app *)(uintptr_t)app)->cfg, memory_order_acquire);
}

static inline int app_draining(const struct app *app)
{
	return atomic_load_explicit(&((struct app *)(uintptr_t)app)->draining, memory_order_relaxed);
}

#endif
