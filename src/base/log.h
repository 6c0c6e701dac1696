#ifndef KEYGATE_LOG_H
#define KEYGATE_LOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Diagnostics and the access log, all on stderr (journald and Docker
 * collect it). Every line is written with one write(2), so lines from
 * different threads never interleave. Callable from any thread.
 * Never pass a secret (password, key, token) to these functions.
 */
enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG, LOG_LEVELS };
/* Each level's word, by the enum: "error" ... "debug" ([server] log_level). */
extern const char *const log_level_names[LOG_LEVELS];

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up and "cannot happen" only: logs and exits 1. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fn runs in fatal and fatalx before their line (NULL: nothing does).
 * log_access_buffer sets log_access_flush, so that the requests before the
 * error come before it in the log: log.c never calls log_access.c.
 * Start-up, before threads. */
void log_before_fatal(void (*fn)(void));

struct log_access {
	const char *request_id;
	const char *method;
	const char *path; /* as received, without the query string */
	unsigned status;
	size_t bytes; /* response body bytes */
	uint64_t usec; /* first byte of headers to response queued */
	int64_t user_id; /* 0 when unknown */
	int json; /* one JSON object per line instead of text */
};
void log_access_line(const struct log_access *a);

/* Gather access lines in per-thread buffers of this many bytes (0: write
 * each at once). Start-up, before threads. */
void log_access_buffer(size_t bytes);
/* Write out what the buffers hold: the main thread, every second and at
 * shutdown. */
void log_access_flush(void);
/* Flush and free the buffers: at exit, after the HTTP threads are gone. */
void log_access_free(void);

#endif
