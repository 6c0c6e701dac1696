#ifndef KEYGATE_LOG_ESCAPE_H
#define KEYGATE_LOG_ESCAPE_H

#include <stddef.h>

/*
 * A client's bytes (method, path...) made safe for a log line: every
 * control byte (0x00-0x1f, 0x7f), every byte that is not part of valid
 * UTF-8 (overlong forms, surrogates and code points past U+10FFFF
 * included), the backslash (so that an escape is never ambiguous) and,
 * with LOG_ESCAPE_SPACE, the space (the text format's separator) become
 * "\xHH". The result is valid UTF-8 with no control byte, so one request
 * can neither split nor forge a line, nor make a JSON line unwritable.
 *
 * At most max_in input bytes are read (the rest is cut, marked with
 * "..."); out always gets a NUL-terminated string of at most cap - 1
 * bytes, cut at an escape boundary. Returns its length.
 */
#define LOG_ESCAPE_SPACE 1

size_t log_escape(char *out, size_t cap, const char *in, size_t max_in, int flags);

#endif
