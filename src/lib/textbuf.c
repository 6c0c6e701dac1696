/* textbuf.c: appending text to a fixed buffer without a format string. */
#include "lib/textbuf.h"

#include <string.h>

void textbuf_init(struct textbuf *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->truncated = 0;
	if (cap > 0)
		buf[0] = '\0';
}

void textbuf_mem(struct textbuf *t, const char *s, size_t n)
{
	if (t->cap == 0 || t->len + n >= t->cap) {
		n = t->cap > t->len + 1 ? t->cap - t->len - 1 : 0;
		t->truncated = 1;
	}
	if (n > 0)
		memcpy(t->buf + t->len, s, n);
	t->len += n;
	if (t->cap > 0)
		t->buf[t->len] = '\0';
}

void textbuf_str(struct textbuf *t, const char *s)
{
	textbuf_mem(t, s, strlen(s));
}

void textbuf_char(struct textbuf *t, char c)
{
	textbuf_mem(t, &c, 1);
}

void textbuf_u64(struct textbuf *t, uint64_t v, int width)
{
	char digits[20];
	int n = 0;

	do {
		digits[sizeof(digits) - 1 - (size_t)n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width && n < (int)sizeof(digits))
		digits[sizeof(digits) - 1 - (size_t)n++] = '0';
	textbuf_mem(t, digits + sizeof(digits) - (size_t)n, (size_t)n);
}
