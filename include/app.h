#ifndef KEYGATE_APP_H
#define KEYGATE_APP_H

#include "apikey.h"
#include "config.h"
#include "password.h"
#include "token.h"

struct store;
struct throttle;

/*
 * What every request can reach: built by main() before the HTTP server
 * starts and read-only while it runs (each member documents its own
 * thread safety).
 */
struct app {
	const struct config *cfg;
	struct store *store;
	struct throttle *throttle;
	struct password_pool *passwords;
	struct token_signer tokens;
	struct apikey_keys keys;
	/* Verified against when a login names no user, so that a login costs
	 * the same whether or not the user exists. */
	char dummy_hash[PASSWORD_HASH_MAX];
};

#endif
