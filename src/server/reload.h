#ifndef KEYGATE_RELOAD_H
#define KEYGATE_RELOAD_H

struct app;
struct config;
struct config_source;

/*
 * SIGHUP: read the configuration again from the same sources and publish
 * what may change while running (rates that fit the throttle's layout, log
 * level, trusted proxies, body size, header and failure switches). Other
 * changes, and rates that need a new throttle layout, are reported and
 * kept as they run. A configuration that does not parse changes nothing.
 * Main thread only. Returns 0 when a new configuration was published.
 */
int reload_config(struct app *app, const struct config_source *src);

/* Free the configurations reloads retired. At exit, after the server
 * stopped (requests may hold a snapshot until then). */
void reload_free_retired(void);

#endif
