#ifndef KEYGATE_METRICS_RENDER_H
#define KEYGATE_METRICS_RENDER_H

#include <stdio.h>

struct throttle;

/* GET /metrics on the admin listener: the process's counters
 * (base/metrics.h) by route and throttle scope, in the Prometheus text
 * format, and the throttle's table figures from t (all processes; t may be
 * NULL). */
struct config;

void metrics_render(FILE *out, const struct throttle *t, const struct config *cfg);

#endif
