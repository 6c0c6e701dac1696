#ifndef KEYGATE_ADMIN_H
#define KEYGATE_ADMIN_H

struct app;

/*
 * The operator's commands, on the same database and shared-memory segment
 * as a running server (main.c's table of commands names them):
 *   user list | user disable NAME | user enable NAME | user tier NAME TIER
 *   key regenerate NAME
 *   quota show NAME | quota reset NAME
 * name is the user's (user list takes none: NULL). Each prints to stdout
 * and returns the exit status: 0 done, 1 failed (no such user, or the
 * store or the throttle failed).
 */
int admin_user_list(struct app *app, const char *arg);
int admin_user_disable(struct app *app, const char *name);
int admin_user_enable(struct app *app, const char *name);
/* tier: a [tier] of the configuration, or "default" for none (the default
 * windows); 1 with the tiers there are for any other. */
int admin_user_tier(struct app *app, const char *name, const char *tier);
int admin_key_regenerate(struct app *app, const char *name);
int admin_quota_show(struct app *app, const char *name);
int admin_quota_reset(struct app *app, const char *name);

#endif
