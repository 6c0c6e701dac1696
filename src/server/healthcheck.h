#ifndef KEYGATE_HEALTHCHECK_H
#define KEYGATE_HEALTHCHECK_H

struct config;

/*
 * `keygate healthcheck [URL]`: GET http://HOST:PORT/healthz (the listen
 * address, or URL) with a 3-second limit; 0 when it answers 200, else 1.
 * For container HEALTHCHECKs, where there is no curl.
 */
int healthcheck_run(const struct config *cfg, const char *url);

#endif
