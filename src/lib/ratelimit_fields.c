/* ratelimit_fields.c: the quota header fields in each form
 * (ratelimit_fields.h). */
#include "lib/ratelimit_fields.h"

#include <sodium.h>
#include <string.h>

#include "lib/textbuf.h"

const char *const ratelimit_fields_form_names[RATELIMIT_FORMS] = { "draft-11", "draft-12", "draft-7", "legacy" };

int ratelimit_fields_form_parse(const char *name, enum ratelimit_form *out)
{
	for (int i = 0; i < RATELIMIT_FORMS; i++) {
		if (strcmp(name, ratelimit_fields_form_names[i]) == 0) {
			*out = (enum ratelimit_form)i;
			return 0;
		}
	}
	return -1;
}

const char *ratelimit_fields_form_name(enum ratelimit_form form)
{
	return form >= 0 && form < RATELIMIT_FORMS ? ratelimit_fields_form_names[form] : "?";
}

struct fields {
	struct ratelimit_field *out;
	size_t n;
	struct textbuf t; /* the value being written */
	struct ratelimit_field spare; /* written to when out is full */
};

static void field_begin(struct fields *f, const char *name)
{
	struct ratelimit_field *fl = f->n < RATELIMIT_FIELDS_MAX ? &f->out[f->n] : &f->spare;
	fl->name = name;
	textbuf_init(&f->t, fl->value, RATELIMIT_VALUE_MAX);
}

static void field_end(struct fields *f)
{
	if (!f->t.truncated && f->n < RATELIMIT_FIELDS_MAX)
		f->n++;
}

static void field_u64(struct fields *f, const char *name, uint64_t v)
{
	field_begin(f, name);
	textbuf_u64(&f->t, v, 1);
	field_end(f);
}

/* ";k=v" */
static void param(struct textbuf *t, const char *k, uint64_t v)
{
	textbuf_char(t, ';');
	textbuf_str(t, k);
	textbuf_char(t, '=');
	textbuf_u64(t, v, 1);
}

/* "<item>, <item>...": each window's policy name, quoted, then params. */
static void items_begin(struct textbuf *t, size_t i, const char *policy)
{
	if (i > 0)
		textbuf_mem(t, ", ", 2);
	textbuf_char(t, '"');
	textbuf_str(t, policy);
	textbuf_char(t, '"');
}

static void policy_field(struct fields *f, const struct ratelimit_state *s, int named)
{
	field_begin(f, "RateLimit-Policy");
	for (size_t i = 0; i < s->nwindows; i++) {
		const struct ratelimit_window *w = &s->windows[i];
		if (named) {
			items_begin(&f->t, i, w->policy);
			param(&f->t, "q", w->quota);
		} else {
			if (i > 0)
				textbuf_mem(&f->t, ", ", 2);
			textbuf_u64(&f->t, w->quota, 1);
		}
		param(&f->t, "w", w->window_s);
	}
	field_end(f);
}

/* The window a client must respect first: fewest left, then the longest
 * wait. */
static const struct ratelimit_window *tightest(const struct ratelimit_state *s)
{
	const struct ratelimit_window *best = &s->windows[0];
	for (size_t i = 1; i < s->nwindows; i++) {
		const struct ratelimit_window *w = &s->windows[i];
		if (w->remaining < best->remaining || (w->remaining == best->remaining && w->reset_s > best->reset_s))
			best = w;
	}
	return best;
}

static void draft11(struct fields *f, const struct ratelimit_state *s)
{
	policy_field(f, s, 1);
	field_begin(f, "RateLimit");
	for (size_t i = 0; i < s->nwindows; i++) {
		items_begin(&f->t, i, s->windows[i].policy);
		param(&f->t, "r", s->windows[i].remaining);
		param(&f->t, "t", s->windows[i].reset_s);
	}
	field_end(f);
}

static void draft12(struct fields *f, const struct ratelimit_state *s)
{
	char b64[sodium_base64_ENCODED_LEN(RATELIMIT_PARTITION_MAX, sodium_base64_VARIANT_ORIGINAL)];

	policy_field(f, s, 1);
	field_begin(f, "RateLimit");
	for (size_t i = 0; i < s->nwindows; i++) {
		items_begin(&f->t, i, s->windows[i].policy);
		param(&f->t, "a", s->windows[i].remaining);
		param(&f->t, "w", s->windows[i].reset_s);
		param(&f->t, "c", s->cost);
	}
	field_end(f);
	if (s->partition == NULL || s->partition_len == 0 || s->partition_len > RATELIMIT_PARTITION_MAX)
		return;
	/* A Byte Sequence (RFC 9651): standard base64 between colons. */
	sodium_bin2base64(b64, sizeof(b64), s->partition, s->partition_len, sodium_base64_VARIANT_ORIGINAL);
	field_begin(f, "RateLimit-Partition");
	for (size_t i = 0; i < s->nwindows; i++) {
		items_begin(&f->t, i, s->windows[i].policy);
		textbuf_mem(&f->t, ";pk=:", 5);
		textbuf_str(&f->t, b64);
		textbuf_char(&f->t, ':');
	}
	field_end(f);
}

static void draft7(struct fields *f, const struct ratelimit_state *s)
{
	const struct ratelimit_window *w = tightest(s);

	policy_field(f, s, 0);
	field_begin(f, "RateLimit");
	textbuf_mem(&f->t, "limit=", 6);
	textbuf_u64(&f->t, w->quota, 1);
	textbuf_mem(&f->t, ", remaining=", 12);
	textbuf_u64(&f->t, w->remaining, 1);
	textbuf_mem(&f->t, ", reset=", 8);
	textbuf_u64(&f->t, w->reset_s, 1);
	field_end(f);
}

static void x_trio(struct fields *f, const struct ratelimit_state *s)
{
	const struct ratelimit_window *w = tightest(s);

	field_u64(f, "X-RateLimit-Limit", w->quota);
	field_u64(f, "X-RateLimit-Remaining", w->remaining);
	field_u64(f, "X-RateLimit-Reset", s->now_unix + w->reset_s);
}

size_t ratelimit_fields_render(
    enum ratelimit_form form, const struct ratelimit_state *s, struct ratelimit_field out[RATELIMIT_FIELDS_MAX])
{
	struct fields f = { .out = out };

	if (s->nwindows == 0)
		return 0;
	switch (form) {
	case RATELIMIT_DRAFT12: draft12(&f, s); break;
	case RATELIMIT_DRAFT7: draft7(&f, s); break;
	case RATELIMIT_LEGACY: x_trio(&f, s); return f.n;
	case RATELIMIT_DRAFT11:
	case RATELIMIT_FORMS:
	default: draft11(&f, s); break;
	}
	if (s->legacy_extra) {
		const struct ratelimit_window *w = tightest(s);
		field_u64(&f, "RateLimit-Limit", w->quota);
		field_u64(&f, "RateLimit-Remaining", w->remaining);
		field_u64(&f, "RateLimit-Reset", w->reset_s);
		x_trio(&f, s);
	}
	return f.n;
}
