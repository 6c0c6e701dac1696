#ifndef KEYGATE_TEXTBUF_H
#define KEYGATE_TEXTBUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Text built by appending into a caller's fixed buffer, for the lines and
 * header values written on every request: snprintf's format interpreter
 * was a tenth of a refused request's user time (callgrind). Appends past
 * the end are dropped and remembered; the text is NUL-terminated whenever
 * cap > 0.
 */
struct textbuf {
	char *buf;
	size_t cap;
	size_t len;
	int truncated;
};

void textbuf_init(struct textbuf *t, char *buf, size_t cap);
void textbuf_mem(struct textbuf *t, const char *s, size_t n);
void textbuf_str(struct textbuf *t, const char *s);
void textbuf_char(struct textbuf *t, char c);
/* Decimal, at least `width` digits (zero-padded). */
void textbuf_u64(struct textbuf *t, uint64_t v, int width);

#endif
