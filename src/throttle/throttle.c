/* throttle.c: the rate-limit interface, dispatching to the backend it was
 * opened with (throttle_open.c), and the helpers the backends share. */
#include "throttle/throttle.h"

#include <time.h>

#include "base/config.h"
#include "lib/clock.h"

void throttle_close(struct throttle *t)
{
	if (t != NULL)
		t->ops->close(t);
}

int throttle_decide(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key,
    uint64_t now_ms, uint32_t spend, struct throttle_decision *out)
{
	return t->ops->decide(t, scope, rate, key, now_ms, spend, out);
}

int throttle_async(const struct throttle *t)
{
	return t->ops->decide_async != NULL;
}

void throttle_decide_async(struct throttle *t, struct throttle_job *job)
{
	t->ops->decide_async(t, job);
}

void throttle_async_stop(struct throttle *t)
{
	if (t != NULL && t->ops->async_stop != NULL)
		t->ops->async_stop(t);
}

int throttle_refund(
    struct throttle *t, enum throttle_scope scope, const struct rate_set *rate, uint64_t key, uint64_t spent)
{
	return t->ops->refund(t, scope, rate, key, spent);
}

int throttle_set_rate(struct throttle *t, enum throttle_scope scope, const struct rate_set *rate)
{
	return t->ops->set_rate(t, scope, rate);
}

int throttle_fits(const struct throttle *t, enum throttle_scope scope, const struct rate_set *rate)
{
	return t->ops->fits(t, scope, rate);
}

const struct rate_set *throttle_rate(const struct config *cfg, enum throttle_scope scope)
{
	switch (scope) {
	case SCOPE_API_KEY: return &cfg->rate_api_key;
	case SCOPE_LOGIN: return &cfg->rate_login;
	case SCOPE_SIGNUP: return &cfg->rate_signup;
	case SCOPE_INVALID_KEY: return &cfg->rate_invalid_key;
	case SCOPE_REGENERATE: return &cfg->rate_regenerate;
	case SCOPE_REFRESH: return &cfg->rate_refresh;
	default: break;
	}
	static const struct rate_set none = { 0 };
	unsigned i = (unsigned)scope - SCOPE_POLICY;
	return scope >= SCOPE_POLICY && i < cfg->npolicies ? &cfg->policies[i].rate : &none;
}

const struct rate_set *throttle_rate_tier(const struct config *cfg, enum throttle_scope scope, int tier)
{
	const struct rate_set *r = NULL;

	if (tier >= 0 && (unsigned)tier < cfg->ntiers && (scope == SCOPE_API_KEY || scope >= SCOPE_POLICY))
		r = gate_tier_rate(&cfg->tiers[tier], throttle_scope_label(cfg, scope));
	return r != NULL ? r : throttle_rate(cfg, scope);
}

void throttle_decision_sum(struct throttle_decision *d)
{
	const struct throttle_window *bind = NULL;

	if (d->nwindows == 1) { /* the common case, on every decision */
		d->admitted = d->w[0].admitted;
		d->limit = d->w[0].limit;
		d->window_s = d->w[0].window_s;
		d->remaining = d->admitted ? d->w[0].remaining : 0;
		d->reset_ms = d->w[0].reset_ms;
		return;
	}
	d->admitted = 1;
	for (uint32_t i = 0; i < d->nwindows; i++)
		d->admitted &= d->w[i].admitted;
	for (uint32_t i = 0; i < d->nwindows; i++) {
		const struct throttle_window *w = &d->w[i];
		if (d->admitted ? bind == NULL || w->remaining < bind->remaining
				: !w->admitted && (bind == NULL || w->reset_ms > bind->reset_ms))
			bind = w;
	}
	if (bind == NULL)
		return;
	d->limit = bind->limit;
	d->window_s = bind->window_s;
	d->remaining = d->admitted ? bind->remaining : 0;
	d->reset_ms = bind->reset_ms;
}

int throttle_forget(struct throttle *t, enum throttle_scope scope, uint64_t key)
{
	return t->ops->forget(t, scope, key);
}

int throttle_stats(const struct throttle *t, enum throttle_scope scope, struct throttle_stats *out)
{
	return t->ops->stats(t, scope, out);
}

int throttle_check(struct throttle *t)
{
	return t->ops->check(t);
}

int throttle_healthy(const struct throttle *t)
{
	return t->ops->healthy(t);
}

uint64_t throttle_key_addr(const struct throttle *t, const uint8_t addr[16])
{
	return t->ops->key_addr(t, addr);
}

uint64_t throttle_now_ms(void)
{
	return clock_ms();
}

const char *throttle_scope_name(enum throttle_scope scope)
{
	static const char *const names[SCOPE_COUNT] = {
		[SCOPE_NONE] = "none",
		[SCOPE_API_KEY] = "api_key",
		[SCOPE_LOGIN] = "login",
		[SCOPE_SIGNUP] = "signup",
		[SCOPE_INVALID_KEY] = "invalid_key",
		[SCOPE_REGENERATE] = "regenerate",
		[SCOPE_REFRESH] = "refresh",
		[SCOPE_POLICY] = "policy1",
		[SCOPE_POLICY + 1] = "policy2",
		[SCOPE_POLICY + 2] = "policy3",
		[SCOPE_POLICY + 3] = "policy4",
		[SCOPE_POLICY + 4] = "policy5",
		[SCOPE_POLICY + 5] = "policy6",
		[SCOPE_POLICY + 6] = "policy7",
		[SCOPE_POLICY + 7] = "policy8",
	};
	_Static_assert(GATE_POLICIES_MAX == 8, "a name for each policy scope");
	return scope < SCOPE_COUNT ? names[scope] : "none";
}

const char *throttle_scope_label(const struct config *cfg, enum throttle_scope scope)
{
	unsigned i = (unsigned)scope - SCOPE_POLICY;
	return scope >= SCOPE_POLICY && i < cfg->npolicies ? cfg->policies[i].name : throttle_scope_name(scope);
}
