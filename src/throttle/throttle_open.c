/* throttle_open.c: the one place that knows the throttle's backends, so
 * that they depend on the interface (throttle.h) and the interface not on
 * them. */
#include "throttle/throttle.h"

#include "base/config.h"
#include "base/log.h"
#include "throttle/throttle_redis.h"
#include "throttle/throttle_shm.h"

/* What an operator sizing the segment needs: its size and the bytes each
 * tracked key costs per scope, and the keys it holds. */
static void log_shm(const struct throttle *t, const struct config *cfg)
{
	log_info("throttle: segment %s, %zu bytes; bytes per tracked key: api_key %u, login %u, signup %u, "
		 "invalid_key %u, regenerate %u, refresh %u; capacity %u keys per scope (%u live at the "
		 "documented 75%% fill)",
	    cfg->shm_name, throttle_shm_size(t), throttle_shm_entry_size(t, SCOPE_API_KEY),
	    throttle_shm_entry_size(t, SCOPE_LOGIN), throttle_shm_entry_size(t, SCOPE_SIGNUP),
	    throttle_shm_entry_size(t, SCOPE_INVALID_KEY), throttle_shm_entry_size(t, SCOPE_REGENERATE),
	    throttle_shm_entry_size(t, SCOPE_REFRESH), cfg->capacity, (unsigned)((uint64_t)cfg->capacity * 3 / 4));
}

struct throttle *throttle_open(const struct config *cfg, char *err, size_t errlen)
{
	struct throttle *t;

	if (cfg->backend_redis) {
		if ((t = throttle_redis_open(cfg, err, errlen)) != NULL)
			log_info("throttle: redis %s", cfg->redis_address);
	} else if ((t = throttle_shm_open(cfg, err, errlen)) != NULL) {
		log_shm(t, cfg);
	}
	return t;
}
