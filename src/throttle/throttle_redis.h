#ifndef KEYGATE_THROTTLE_REDIS_H
#define KEYGATE_THROTTLE_REDIS_H

#include <stddef.h>

#include "throttle/throttle.h"

struct config;

/* The Redis backend ([throttle] backend = redis, redis_address,
 * redis_timeout): one Lua script per decision, Redis's clock. Starts even
 * when Redis does not answer yet. NULL with err on a bad address. */
struct throttle *throttle_redis_open(const struct config *cfg, char *err, size_t errlen);

#endif
