#ifndef KEYGATE_THROTTLE_WINDOW_H
#define KEYGATE_THROTTLE_WINDOW_H

#include <stdint.h>

#include "lib/parse.h"

/*
 * The sliding window of one tracked key: pure logic on a caller-owned
 * entry, with the clock passed in (so tests inject it). The caller
 * serialises access to an entry (the shm throttle holds its stripe lock,
 * throttle_shm_table.c).
 *
 * Semantics: a request at time t is admitted iff fewer than N requests were
 * admitted in (t - W, t]. Refused requests are not recorded.
 *
 * Exact mode (N <= WINDOW_RING_MAX and W < 2^31 ms): a ring of the last N
 * admitted times, 4 bytes each, as milliseconds modulo 2^32. The ring has
 * N rounded up to a power of two (at least WINDOW_RING_MIN) slots, so that
 * a reload can raise N that far, and change W freely, on the same layout.
 * Bucketed mode (larger N or W): WINDOW_BUCKETS + 1 counters of width
 * w = ceil(W / WINDOW_BUCKETS). Every bucket that overlaps the window is
 * counted whole, so it never admits more than N in any window; it may
 * refuse up to w (W/64) early.
 */
#define WINDOW_RING_MAX 1024u
#define WINDOW_RING_MIN 8u
#define WINDOW_BUCKETS 64u

struct window_entry {
	uint64_t key; /* 0: never used */
	uint64_t last_ms; /* newest admitted time; 0: none */
	uint64_t base; /* bucketed: absolute index of the bucket at data[head] */
	uint64_t blocked_until; /* refused until then: never evicted before it */
	uint32_t count; /* exact: live times in the ring; bucketed: sum of counters */
	uint32_t head; /* index of the oldest time / bucket in data */
	uint32_t data[];
};

struct window_shape {
	uint32_t limit;
	uint64_t window_ms;
	int bucketed;
	uint32_t slots; /* elements of data[] */
	uint64_t bucket_ms; /* bucketed only */
	uint32_t entry_size; /* bytes of one entry, 8-aligned */
};

struct window_result {
	int admitted;
	uint32_t remaining; /* admissions left now (after this one) */
	uint64_t reset_ms; /* until the next slot frees; 0 when none is used.
			      When refused: the wait after which a retry is admitted */
	uint64_t spent_ms; /* admitted and spent: the time recorded */
};

/* The layout and rate for rate. */
void window_shape_init(struct window_shape *ws, const struct rate *rate);
/* layout with another rate, when the entries it laid out can hold it:
 * 0, or -1 when rate needs another layout. */
int window_shape_with(const struct window_shape *layout, const struct rate *rate, struct window_shape *out);

/* Clear an entry and give it to key. */
void window_reset(const struct window_shape *ws, struct window_entry *e, uint64_t key);

/* Decide for a request of cost units (1 to N) at now_ms: admitted iff
 * fewer than N - cost + 1 were admitted in (now - W, now], so a cost
 * larger than what remains is refused whole. When admitted and spend is
 * set, cost admissions are recorded at one time (spend = 0 asks without
 * spending). */
void window_decide_cost(const struct window_shape *ws, struct window_entry *e, uint64_t now_ms, uint32_t cost,
    int spend, struct window_result *out);

/* A request of cost 1. */
static inline void window_decide(
    const struct window_shape *ws, struct window_entry *e, uint64_t now_ms, int spend, struct window_result *out)
{
	window_decide_cost(ws, e, now_ms, 1, spend, out);
}

/* Give back one admission recorded at at_ms (what window_decide put in
 * out->spent_ms): the entry is as if it had never been admitted. Nothing
 * when that admission has left the window already. */
void window_refund(const struct window_shape *ws, struct window_entry *e, uint64_t at_ms);

/* When the entry will hold nothing that counts (window_expired): ms from
 * now_ms, 0 when it is so already. */
uint64_t window_expires_in(const struct window_shape *ws, const struct window_entry *e, uint64_t now_ms);

/* Whether the entry holds nothing that still counts at now_ms and is not
 * refusing anyone: safe to reuse for another key. */
int window_expired(const struct window_shape *ws, const struct window_entry *e, uint64_t now_ms);

/* Make an entry consistent after its writer died mid-update. Returns 1 if
 * it had to change anything. */
int window_repair(const struct window_shape *ws, struct window_entry *e);

#endif
