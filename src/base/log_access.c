/*
 * log_access.c: the access log: one line per request, text or JSON,
 * gathered per thread and written in blocks (when a block fills, every
 * second by the main thread, at exit, and on a crash), or with
 * [server] access_log_buffer = 0 written at once.
 *
 * THREAD SAFETY: each HTTP thread appends to its own buffer under that
 * buffer's mutex; the main thread takes each mutex in turn to flush. The
 * list of buffers only grows (a mutex guards the insertion, the head is
 * published atomically for the crash handler); buffers live to the end.
 * Lines are whole in every write(2), so they never interleave.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "lib/log_escape.h"
#include "base/log_int.h"
#include "lib/textbuf.h"

struct access_buffer {
	pthread_mutex_t lock;
	size_t len;
	struct access_buffer *next;
	char data[];
};

static size_t buffer_size; /* 0: unbuffered; set once at start-up */
static struct access_buffer *_Atomic buffers;
static pthread_mutex_t buffers_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local struct access_buffer *mine;

static void crash_handlers_install(void);

void log_access_buffer(size_t bytes)
{
	buffer_size = bytes;
	log_before_fatal(log_access_flush); /* the requests before the error come before it */
	if (bytes > 0)
		crash_handlers_install();
}

static void write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, p, len);
		if (n <= 0)
			return; /* a failing stderr is not worth a retry loop */
		p += n;
		len -= (size_t)n;
	}
}

static struct access_buffer *my_buffer(void)
{
	if (mine == NULL && (mine = malloc(sizeof(*mine) + buffer_size)) != NULL) {
		pthread_mutex_init(&mine->lock, NULL);
		mine->len = 0;
		pthread_mutex_lock(&buffers_lock);
		mine->next = atomic_load_explicit(&buffers, memory_order_relaxed);
		atomic_store_explicit(&buffers, mine, memory_order_release);
		pthread_mutex_unlock(&buffers_lock);
	}
	return mine;
}

/* One finished line (with room for its newline at buf[len]). */
static void access_out(char *buf, size_t len, size_t cap)
{
	struct access_buffer *b = buffer_size > 0 ? my_buffer() : NULL;

	if (len >= cap - 1)
		len = cap - 2;
	buf[len++] = '\n';
	if (b == NULL || len > buffer_size) {
		write_all(buf, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (b->len + len > buffer_size) {
		write_all(b->data, b->len);
		b->len = 0;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	pthread_mutex_unlock(&b->lock);
}

void log_access_flush(void)
{
	pthread_mutex_lock(&buffers_lock);
	for (struct access_buffer *b = atomic_load_explicit(&buffers, memory_order_relaxed); b != NULL; b = b->next) {
		pthread_mutex_lock(&b->lock);
		write_all(b->data, b->len);
		b->len = 0;
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&buffers_lock);
}

void log_access_free(void)
{
	log_access_flush();
	struct access_buffer *next;
	for (struct access_buffer *b = atomic_exchange(&buffers, NULL); b != NULL; b = next) {
		next = b->next;
		pthread_mutex_destroy(&b->lock);
		free(b);
	}
}

/*
 * On a crash, the lines still in the buffers are written before the
 * process dies: a buffered log loses lines only to SIGKILL (at most a
 * second's worth). Best effort, without locks (a line being appended by
 * another thread at that moment may be cut); write(2) is
 * async-signal-safe. Then the previous disposition takes over: a fault
 * recurs when the handler returns, a sent signal is raised again; the
 * sanitizers' reports, a core dump, systemd's restart all happen as
 * before.
 */
static const int crash_signals[] = { SIGSEGV, SIGFPE, SIGILL, SIGABRT };
static struct sigaction crash_previous[sizeof(crash_signals) / sizeof(crash_signals[0])];

static void on_crash(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	for (struct access_buffer *b = atomic_load_explicit(&buffers, memory_order_acquire); b != NULL; b = b->next) {
		write_all(b->data, b->len);
		b->len = 0;
	}
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &crash_previous[i], NULL);
	if (si->si_code <= 0) /* sent (kill, raise, abort), not a fault */
		raise(sig);
}

static void crash_handlers_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
		sigaction(crash_signals[i], &sa, &crash_previous[i]);
}

/* The client's fields, escaped (log_escape.h) and bounded: one request
 * can never forge or split a log line, nor lose its line in JSON. */
#define FIELD_IN_MAX 256
#define FIELD_OUT_MAX (4 * FIELD_IN_MAX + 4)

/* {"ts":..., "rid":..., ...}: jansson escapes what is left. */
static void access_json(const struct log_access *a)
{
	char ts[40], buf[2560], method[FIELD_OUT_MAX / 8], path[FIELD_OUT_MAX];
	size_t n = log_stamp(ts, sizeof(ts));

	ts[n > 0 ? n - 1 : 0] = '\0'; /* drop the separating space */
	log_escape(method, sizeof(method), a->method, sizeof(method) / 4, 0);
	log_escape(path, sizeof(path), a->path, FIELD_IN_MAX, 0);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I}", "ts", ts, "rid", a->request_id, "method", method,
	    "path", path, "status", (int)a->status, "bytes", (json_int_t)a->bytes, "us", (json_int_t)a->usec);
	if (o == NULL) /* out of memory */
		return;
	json_object_set_new(o, "user", a->user_id > 0 ? json_integer(a->user_id) : json_null());
	n = json_dumpb(o, buf, sizeof(buf) - 1, JSON_COMPACT);
	json_decref(o);
	if (n > 0 && n < sizeof(buf) - 1)
		access_out(buf, n, sizeof(buf));
}

void log_access_line(const struct log_access *a)
{
	char buf[2560], method[FIELD_OUT_MAX / 8], path[FIELD_OUT_MAX];
	struct textbuf t;

	if (log_get_level() < LOG_LEVEL_INFO)
		return;
	if (a->json) {
		access_json(a);
		return;
	}
	/* "<stamp>access: rid=ID METHOD PATH STATUS BYTES USECus user=ID|-",
	 * appended piece by piece: one line per request, so no snprintf. */
	size_t n = log_stamp(buf, sizeof(buf));
	textbuf_init(&t, buf + n, sizeof(buf) - n);
	log_escape(method, sizeof(method), a->method, sizeof(method) / 4, LOG_ESCAPE_SPACE);
	log_escape(path, sizeof(path), a->path, FIELD_IN_MAX, LOG_ESCAPE_SPACE);
	textbuf_mem(&t, "access: rid=", 12);
	textbuf_str(&t, a->request_id);
	textbuf_char(&t, ' ');
	textbuf_str(&t, method);
	textbuf_char(&t, ' ');
	textbuf_str(&t, path);
	textbuf_char(&t, ' ');
	textbuf_u64(&t, a->status, 1);
	textbuf_char(&t, ' ');
	textbuf_u64(&t, a->bytes, 1);
	textbuf_char(&t, ' ');
	textbuf_u64(&t, a->usec, 1);
	textbuf_mem(&t, "us user=", 8);
	if (a->user_id > 0)
		textbuf_u64(&t, (uint64_t)a->user_id, 1);
	else
		textbuf_char(&t, '-');
	access_out(buf, n + t.len, sizeof(buf));
}
