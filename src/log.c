/*
 * log.c: diagnostics and the access log on stderr.
 *
 * THREAD SAFETY: the level is written once at start-up (and by a reload on
 * the main thread) and read with relaxed atomics; each line is formatted in
 * a stack buffer and written with one write(2).
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level) { atomic_store_explicit(&current_level, level, memory_order_relaxed); }

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* "2026-11-29T06:46:16.070Z ": the date part is formatted once a second
 * per thread (gmtime_r and strftime on every access line cost more than
 * the rest of the line). */
static size_t stamp(char *buf, size_t cap)
{
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[24];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	int m = snprintf(buf, cap, "%s.%03ldZ ", cached, ts.tv_nsec / 1000000);
	return m > 0 && (size_t)m < cap ? (size_t)m : 0;
}

static void emit(char *buf, size_t len, size_t cap)
{
	if (len >= cap - 1)
		len = cap - 2;
	buf[len++] = '\n';
	/* One write per line; a short write on stderr is not worth a retry loop. */
	ssize_t rc = write(STDERR_FILENO, buf, len);
	(void)rc;
}

__attribute__((format(printf, 3, 0))) static void vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char buf[2048];
	int saved = errno;

	if ((int)level > atomic_load_explicit(&current_level, memory_order_relaxed))
		return;
	size_t n = stamp(buf, sizeof(buf));
	int m = snprintf(buf + n, sizeof(buf) - n, "%s: ", level_names[level]);
	n += (size_t)m;
	m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (m > 0)
		n += (size_t)m;
	if (n < sizeof(buf) && with_errno) {
		m = snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
		if (m > 0)
			n += (size_t)m;
	}
	emit(buf, n < sizeof(buf) ? n : sizeof(buf), sizeof(buf));
	errno = saved;
}

#define LOG_FN(name, level, with_errno)                \
	void name(const char *fmt, ...)                \
	{                                              \
		va_list ap;                            \
		va_start(ap, fmt);                     \
		vlog(level, with_errno, fmt, ap);      \
		va_end(ap);                            \
	}

LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* The path is the client's: bound it and make control bytes and spaces
 * visible, so one request can never forge or split a log line. */
static void clean_path(char *out, size_t cap, const char *in)
{
	size_t i = 0;
	for (; *in != '\0' && i + 1 < cap; in++)
		out[i++] = ((unsigned char)*in <= 0x20 || *in == 0x7f) ? '?' : *in;
	out[i] = '\0';
}

/* {"ts":..., "rid":..., ...}: jansson escapes the client's path. */
static void access_json(const struct log_access *a)
{
	char ts[40], buf[1024];
	size_t n = stamp(ts, sizeof(ts));

	ts[n > 0 ? n - 1 : 0] = '\0'; /* drop the separating space */
	json_t *o = json_pack("{s:s, s:s, s:s, s:s%, s:i, s:I, s:I}", "ts", ts, "rid", a->request_id, "method",
	    a->method, "path", a->path, strnlen(a->path, 256), "status", (int)a->status, "bytes", (json_int_t)a->bytes,
	    "us", (json_int_t)a->usec);
	if (o == NULL) /* a path that is not UTF-8 */
		o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I}", "ts", ts, "rid", a->request_id, "method", a->method,
		    "path", "(not utf-8)", "status", (int)a->status, "bytes", (json_int_t)a->bytes, "us",
		    (json_int_t)a->usec);
	if (o == NULL)
		return;
	json_object_set_new(o, "user", a->user_id > 0 ? json_integer(a->user_id) : json_null());
	n = json_dumpb(o, buf, sizeof(buf) - 1, JSON_COMPACT);
	json_decref(o);
	if (n > 0 && n < sizeof(buf) - 1)
		emit(buf, n, sizeof(buf));
}

void log_access_line(const struct log_access *a)
{
	char buf[1024], path[257];

	if (atomic_load_explicit(&current_level, memory_order_relaxed) < LOG_LEVEL_INFO)
		return;
	if (a->json) {
		access_json(a);
		return;
	}
	size_t n = stamp(buf, sizeof(buf));

	clean_path(path, sizeof(path), a->path);
	int m = snprintf(buf + n, sizeof(buf) - n, "access: rid=%s %s %s %u %zu %lluus user=",
	    a->request_id, a->method, path, a->status, a->bytes, (unsigned long long)a->usec);
	if (m < 0)
		return;
	n += (size_t)m;
	if (n < sizeof(buf)) {
		m = a->user_id > 0 ? snprintf(buf + n, sizeof(buf) - n, "%lld", (long long)a->user_id)
				   : snprintf(buf + n, sizeof(buf) - n, "-");
		if (m > 0)
			n += (size_t)m;
	}
	emit(buf, n < sizeof(buf) ? n : sizeof(buf), sizeof(buf));
}
