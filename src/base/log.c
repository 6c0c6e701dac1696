/*
 * log.c: diagnostics and the access log on stderr.
 *
 * THREAD SAFETY: the level is written once at start-up (and by a reload on
 * the main thread) and read with relaxed atomics; each line is formatted in
 * a stack buffer and written with one write(2).
 */
#include "base/log.h"
#include "base/log_int.h"
#include "lib/textbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_LEVEL_INFO;
/* Run by fatal and fatalx before their line; set at start-up, before threads. */
static void (*before_fatal)(void);

const char *const log_level_names[LOG_LEVELS] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&current_level, level, memory_order_relaxed);
}

void log_before_fatal(void (*fn)(void))
{
	before_fatal = fn;
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&current_level, memory_order_relaxed);
}

/* "2026-11-29T06:46:16.070Z ": the date part is formatted once a second
 * per thread (gmtime_r and strftime on every access line cost more than
 * the rest of the line), the milliseconds without a format string. */
size_t log_stamp(char *buf, size_t cap)
{
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24];
	struct timespec ts;
	struct textbuf t;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	textbuf_init(&t, buf, cap);
	textbuf_str(&t, cached);
	textbuf_char(&t, '.');
	textbuf_u64(&t, (uint64_t)ts.tv_nsec / 1000000, 3);
	textbuf_mem(&t, "Z ", 2);
	return t.truncated ? 0 : t.len;
}

void log_emit(char *buf, size_t len, size_t cap)
{
	if (len >= cap - 1)
		len = cap - 2;
	buf[len++] = '\n';
	/* One write per line; a short write on stderr is not worth a retry loop. */
	ssize_t rc = write(STDERR_FILENO, buf, len);
	(void)rc;
}

__attribute__((format(printf, 3, 0))) static void vlog(
    enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char buf[2048];
	int saved = errno;

	if ((int)level > atomic_load_explicit(&current_level, memory_order_relaxed))
		return;
	size_t n = log_stamp(buf, sizeof(buf));
	int m = snprintf(buf + n, sizeof(buf) - n, "%s: ", log_level_names[level]);
	n += (size_t)m;
	m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (m > 0)
		n += (size_t)m;
	if (n < sizeof(buf) && with_errno) {
		m = snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
		if (m > 0)
			n += (size_t)m;
	}
	log_emit(buf, n < sizeof(buf) ? n : sizeof(buf), sizeof(buf));
	errno = saved;
}

#define LOG_FN(name, level, with_errno)                                                                                \
	void name(const char *fmt, ...)                                                                                \
	{                                                                                                              \
		va_list ap;                                                                                            \
		va_start(ap, fmt);                                                                                     \
		vlog(level, with_errno, fmt, ap);                                                                      \
		va_end(ap);                                                                                            \
	}

LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (before_fatal != NULL)
		before_fatal();
	vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (before_fatal != NULL)
		before_fatal();
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
