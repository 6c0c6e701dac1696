/* verify_policy.c: the policy of a request described by a front proxy. */
#include "api/verify_policy.h"

#include "base/app.h"
#include "base/config.h"

static const char *described(const struct request *req, const char *name, const char *nginx_name)
{
	const char *v = http_request_header(req, name);
	return v != NULL ? v : http_request_header(req, nginx_name);
}

void verify_policy(const struct request *req, enum throttle_scope *scope, uint32_t *cost)
{
	const struct config *cfg = req->cfg;
	const char *uri = described(req, "X-Forwarded-Uri", "X-Original-URI");
	const char *method = described(req, "X-Forwarded-Method", "X-Original-Method");

	if (uri == NULL || cfg->npolicies == 0)
		return;
	for (unsigned i = 0; i < cfg->npolicies; i++) {
		if (gate_policy_covers(&cfg->policies[i], method, uri)) {
			*scope = (enum throttle_scope)(SCOPE_POLICY + (int)i);
			*cost = cfg->policies[i].cost;
			return;
		}
	}
}
