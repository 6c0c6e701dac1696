/* throttle_open.c: the one place that knows the throttle's backends, so
 * that they depend on the interface (throttle.h) and the interface not on
 * them. */
#include "throttle/throttle.h"

#include "base/config.h"
#include "throttle/throttle_redis.h"
#include "throttle/throttle_shm.h"

struct throttle *throttle_open(const struct config *cfg, char *err, size_t errlen)
{
	return cfg->backend_redis ? throttle_redis_open(cfg, err, errlen) : throttle_shm_open(cfg, err, errlen);
}
