#ifndef KEYGATE_THROTTLE_WINDOW_SET_H
#define KEYGATE_THROTTLE_WINDOW_SET_H

#include <stdint.h>

#include "lib/parse.h"
#include "throttle/throttle_window.h"

/*
 * The windows of one scope ("5/minute, 100/day") over one tracked key:
 * one entry of the table holds a window entry per window, side by side
 * (the first one's key is the entry's key), so that one lock covers them
 * all and a decision is all or nothing. Pure logic, like
 * throttle_window.h, whose entries these are; the caller serialises
 * access to an entry.
 *
 * A decision first looks at every window; only when each admits does it
 * spend, in each, at one time (the newest admission of any window, if
 * later than now), so that a refund finds the same time in every window.
 * A refused request spends none; the windows that refused it remember the
 * refusal (blocked_until), so the entry is not forgotten while it waits.
 */
struct window_set {
	uint32_t n;
	struct window_shape w[RATE_WINDOWS_MAX];
	uint32_t off[RATE_WINDOWS_MAX]; /* bytes from the entry to window i's */
	uint32_t entry_size; /* bytes of the whole entry, 8-aligned */
};

void window_set_init(struct window_set *set, const struct rate_set *rates);
/* layout with other rates, when its entries can hold them (as many
 * windows, each within window_shape_with): 0, or -1. */
int window_set_with(const struct window_set *layout, const struct rate_set *rates, struct window_set *out);

/* Clear an entry and give it to key. */
void window_set_reset(const struct window_set *set, struct window_entry *e, uint64_t key);

/* Decide for a request of cost units at now_ms (see above and
 * window_decide_cost): out[i] for window i; 1 if every window admits. */
int window_set_decide(const struct window_set *set, struct window_entry *e, uint64_t now_ms, uint32_t cost, int spend,
    struct window_result *out);

/* Give back one admission spent at at_ms (of cost 1), in every window. */
void window_set_refund(const struct window_set *set, struct window_entry *e, uint64_t at_ms);

/* ms until no window holds anything that counts (0: now). */
uint64_t window_set_expires_in(const struct window_set *set, const struct window_entry *e, uint64_t now_ms);

/* Make every window consistent after its writer died mid-update: how
 * many had to change. */
int window_set_repair(const struct window_set *set, struct window_entry *e);

#endif
