/* throttle_window_set.c: the windows of a scope side by side in one entry,
 * decided all or nothing. */
#include "throttle/throttle_window_set.h"

static struct window_entry *part(const struct window_set *set, struct window_entry *e, uint32_t i)
{
	return (struct window_entry *)(void *)((char *)e + set->off[i]);
}

static const struct window_entry *part_c(const struct window_set *set, const struct window_entry *e, uint32_t i)
{
	return (const struct window_entry *)(const void *)((const char *)e + set->off[i]);
}

void window_set_init(struct window_set *set, const struct rate_set *rates)
{
	uint32_t off = 0;

	set->n = rates->n;
	for (uint32_t i = 0; i < rates->n; i++) {
		window_shape_init(&set->w[i], &rates->w[i]);
		set->off[i] = off;
		off += set->w[i].entry_size; /* each 8-aligned */
	}
	set->entry_size = off;
}

int window_set_with(const struct window_set *layout, const struct rate_set *rates, struct window_set *out)
{
	struct window_set next = *layout;

	if (rates->n != layout->n)
		return -1;
	for (uint32_t i = 0; i < rates->n; i++)
		if (window_shape_with(&layout->w[i], &rates->w[i], &next.w[i]) == -1)
			return -1;
	*out = next;
	return 0;
}

void window_set_reset(const struct window_set *set, struct window_entry *e, uint64_t key)
{
	for (uint32_t i = 0; i < set->n; i++)
		window_reset(&set->w[i], part(set, e, i), key);
}

int window_set_decide(const struct window_set *set, struct window_entry *e, uint64_t now_ms, uint32_t cost, int spend,
    struct window_result *out)
{
	int admitted = 1;

	if (set->n == 1) { /* the common case: one pass */
		window_decide_cost(&set->w[0], e, now_ms, cost, spend, &out[0]);
		return out[0].admitted;
	}
	for (uint32_t i = 0; i < set->n; i++)
		if (part(set, e, i)->last_ms > now_ms)
			now_ms = part(set, e, i)->last_ms;
	for (uint32_t i = 0; i < set->n; i++) {
		window_decide_cost(&set->w[i], part(set, e, i), now_ms, cost, 0, &out[i]);
		admitted &= out[i].admitted;
	}
	if (!spend)
		return admitted;
	/* Admitted: spend in each. Refused: only the refusing windows hear of
	 * it (they record nothing, and remember the wait). */
	for (uint32_t i = 0; i < set->n; i++)
		if (admitted || !out[i].admitted)
			window_decide_cost(&set->w[i], part(set, e, i), now_ms, cost, 1, &out[i]);
	return admitted;
}

void window_set_refund(const struct window_set *set, struct window_entry *e, uint64_t at_ms)
{
	for (uint32_t i = 0; i < set->n; i++)
		window_refund(&set->w[i], part(set, e, i), at_ms);
}

uint64_t window_set_expires_in(const struct window_set *set, const struct window_entry *e, uint64_t now_ms)
{
	uint64_t most = 0;

	for (uint32_t i = 0; i < set->n; i++) {
		uint64_t left = window_expires_in(&set->w[i], part_c(set, e, i), now_ms);
		if (left > most)
			most = left;
	}
	return most;
}

int window_set_repair(const struct window_set *set, struct window_entry *e)
{
	int fixed = 0;

	for (uint32_t i = 0; i < set->n; i++) {
		/* A part whose ring is reset keeps the entry's key. */
		part(set, e, i)->key = e->key;
		fixed += window_repair(&set->w[i], part(set, e, i));
	}
	return fixed;
}
