/* throttle_window.c: exact (ring) and bucketed sliding windows. */
#include "throttle/throttle_window.h"

#include <string.h>

static int needs_buckets(const struct rate *rate)
{
	return rate->limit > WINDOW_RING_MAX || (uint64_t)rate->window_s * 1000 >= (1ull << 31);
}

void window_shape_init(struct window_shape *ws, const struct rate *rate)
{
	ws->limit = rate->limit;
	ws->window_ms = (uint64_t)rate->window_s * 1000;
	ws->bucketed = needs_buckets(rate);
	if (ws->bucketed) {
		ws->slots = WINDOW_BUCKETS + 1;
		ws->bucket_ms = (ws->window_ms + WINDOW_BUCKETS - 1) / WINDOW_BUCKETS;
	} else {
		/* Room to raise N by a reload without a new layout. */
		ws->slots = WINDOW_RING_MIN;
		while (ws->slots < rate->limit)
			ws->slots *= 2;
		ws->bucket_ms = 0;
	}
	uint32_t size = (uint32_t)(sizeof(struct window_entry) + ws->slots * sizeof(uint32_t));
	ws->entry_size = (size + 7u) & ~7u;
}

int window_shape_with(const struct window_shape *layout, const struct rate *rate, struct window_shape *out)
{
	struct window_shape want;

	window_shape_init(&want, rate);
	if (want.bucketed != layout->bucketed)
		return -1;
	if (layout->bucketed ? want.bucket_ms != layout->bucket_ms : rate->limit > layout->slots)
		return -1;
	*out = *layout;
	out->limit = want.limit;
	out->window_ms = want.window_ms;
	return 0;
}

void window_reset(const struct window_shape *ws, struct window_entry *e, uint64_t key)
{
	memset(e, 0, ws->entry_size);
	e->key = key;
}

int window_expired(const struct window_shape *ws, const struct window_entry *e, uint64_t now_ms)
{
	if (now_ms < e->blocked_until)
		return 0;
	return e->count == 0 || now_ms >= e->last_ms + ws->window_ms;
}

static void ring_decide(const struct window_shape *ws, struct window_entry *e, uint64_t now, uint32_t cost, int spend,
    struct window_result *out)
{
	uint32_t now32 = (uint32_t)now;
	/* The ring's size is a power of two: a mask instead of a division.
	 * (Whatever the size, a masked index stays below it.) */
	uint32_t mask = ws->slots - 1;

	/* Everything older than the newest admission plus W has expired; this
	 * also keeps the 32-bit ages below from ever wrapping. */
	if (e->count > 0 && now >= e->last_ms + ws->window_ms)
		e->count = 0;
	while (e->count > 0 && (uint32_t)(now32 - e->data[e->head]) >= ws->window_ms) {
		e->head = (e->head + 1) & mask;
		e->count--;
	}
	out->admitted = (uint64_t)e->count + cost <= ws->limit;
	if (out->admitted && spend) {
		/* Times first, count second: a writer that dies in between
		 * leaves the ring as it was. */
		out->spent_ms = now;
		for (uint32_t i = 0; i < cost; i++)
			e->data[(e->head + e->count + i) & mask] = now32;
		e->count += cost;
		e->last_ms = now;
	}
	out->remaining = e->count < ws->limit ? ws->limit - e->count : 0;
	/* The next slot frees when the oldest time that keeps us at the limit
	 * expires (after a reload lowered N, more than one must); a refused
	 * cost of c needs c slots free. */
	uint32_t need = out->admitted ? 1 : cost;
	uint32_t skip = e->count + need > ws->limit ? e->count + need - ws->limit - 1 : 0;
	uint32_t t = e->data[(e->head + skip) & mask];
	out->reset_ms = e->count > 0 ? ws->window_ms - (uint32_t)(now32 - t) : 0;
}

/* The next bucket after i on the ring: no division, on a path that runs
 * up to 65 times a decision. */
static uint32_t bucket_next(const struct window_shape *ws, uint32_t i)
{
	return i + 1 == ws->slots ? 0 : i + 1;
}

static void bucket_decide(const struct window_shape *ws, struct window_entry *e, uint64_t now, uint32_t cost,
    int spend, struct window_result *out)
{
	uint64_t w = ws->bucket_ms;
	uint64_t k = now / w;
	/* The oldest bucket that overlaps (now - W, now]. */
	uint64_t kmin = now + 1 > ws->window_ms ? (now + 1 - ws->window_ms) / w : 0;

	if (e->count == 0 || kmin >= e->base + ws->slots) {
		memset(e->data, 0, ws->slots * sizeof(uint32_t));
		e->count = 0;
		e->head = 0;
		e->base = kmin;
	}
	while (e->base < kmin) {
		e->count -= e->data[e->head];
		e->data[e->head] = 0;
		e->head = bucket_next(ws, e->head);
		e->base++;
	}
	out->admitted = (uint64_t)e->count + cost <= ws->limit;
	if (out->admitted && spend) {
		out->spent_ms = now;
		e->data[(e->head + (k - e->base)) % ws->slots] += cost;
		e->count += cost;
		e->last_ms = now;
	}
	out->remaining = e->count < ws->limit ? ws->limit - e->count : 0;
	out->reset_ms = 0;
	uint64_t want = out->admitted ? 1 : cost, freed = 0;
	uint64_t need = e->count + want > ws->limit ? (uint64_t)e->count + want - ws->limit : 1;
	uint32_t i = e->head;
	for (uint64_t j = 0; j < ws->slots && e->count > 0; j++, i = bucket_next(ws, i)) {
		freed += e->data[i];
		if (freed < need)
			continue;
		/* Bucket base+j leaves the window when kmin passes it. */
		uint64_t leaves = (e->base + j + 1) * w + ws->window_ms - 1;
		out->reset_ms = leaves > now ? leaves - now : 1;
		break;
	}
}

void window_decide_cost(const struct window_shape *ws, struct window_entry *e, uint64_t now_ms, uint32_t cost,
    int spend, struct window_result *out)
{
	/* Processes read the clock before taking the lock: keep the record
	 * ordered by never going back before the newest admission. */
	if (now_ms < e->last_ms)
		now_ms = e->last_ms;
	out->spent_ms = 0;
	if (ws->bucketed)
		bucket_decide(ws, e, now_ms, cost, spend, out);
	else
		ring_decide(ws, e, now_ms, cost, spend, out);
	if (!out->admitted && spend)
		e->blocked_until = now_ms + out->reset_ms;
}

/* The ring holds times in order, oldest at head: take out the newest
 * equal to at (any equal one is the same admission to the window), and
 * close the gap. Count last: a writer that dies midway leaves at most a
 * time twice, counted once more (never fewer admissions). */
static void ring_refund(const struct window_shape *ws, struct window_entry *e, uint64_t at)
{
	uint32_t mask = ws->slots - 1, at32 = (uint32_t)at;

	for (uint32_t i = e->count; i-- > 0;) {
		if (e->data[(e->head + i) & mask] != at32)
			continue;
		for (uint32_t j = i; j + 1 < e->count; j++)
			e->data[(e->head + j) & mask] = e->data[(e->head + j + 1) & mask];
		e->count--;
		return;
	}
}

static void bucket_refund(const struct window_shape *ws, struct window_entry *e, uint64_t at)
{
	uint64_t k = at / ws->bucket_ms;

	if (k < e->base || k >= e->base + ws->slots)
		return; /* left the window (or never in it) */
	uint32_t *c = &e->data[(e->head + (k - e->base)) % ws->slots];
	if (*c == 0 || e->count == 0)
		return;
	(*c)--;
	e->count--;
}

void window_refund(const struct window_shape *ws, struct window_entry *e, uint64_t at_ms)
{
	if (e->count == 0 || at_ms == 0 || at_ms + ws->window_ms <= e->last_ms)
		return; /* nothing of it left to give back */
	if (ws->bucketed)
		bucket_refund(ws, e, at_ms);
	else
		ring_refund(ws, e, at_ms);
	/* A refused key waits for the slot that was just given back no more. */
	e->blocked_until = 0;
}

uint64_t window_expires_in(const struct window_shape *ws, const struct window_entry *e, uint64_t now_ms)
{
	uint64_t at = e->count > 0 ? e->last_ms + ws->window_ms : 0;
	if (e->blocked_until > at)
		at = e->blocked_until;
	return at > now_ms ? at - now_ms : 0;
}

int window_repair(const struct window_shape *ws, struct window_entry *e)
{
	if (ws->bucketed) {
		uint64_t sum = 0;
		for (uint32_t i = 0; i < ws->slots; i++)
			sum += e->data[i];
		if (e->head < ws->slots && sum == e->count)
			return 0;
		e->head = e->head % ws->slots;
		e->count = (uint32_t)sum;
		return 1;
	}
	if (e->head < ws->slots && e->count <= ws->slots)
		return 0;
	/* Forget this key's window rather than misread it. */
	uint64_t key = e->key;
	window_reset(ws, e, key);
	return 1;
}
