#ifndef KEYGATE_HTTP_LINGER_H
#define KEYGATE_HTTP_LINGER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Lingering close for early answers. A request refused before its body was
 * read (413 from Content-Length, 414, 431...) is answered at once and
 * libmicrohttpd closes the connection; closing a socket whose receive
 * queue still holds the client's body makes the kernel send RST, which
 * can destroy the answer before the client reads it (a client still
 * sending sees EPIPE/ECONNRESET and no status). As nginx does, the socket
 * is instead half-closed (FIN after the answer) and read and discarded
 * until the client closes, or for at most `time_ms` and `max_bytes`, then
 * closed: by then the client has read its answer, and nobody can hold a
 * connection longer than that bound.
 *
 * THREAD SAFETY: http_linger_add from any thread; start and stop from the
 * main thread. One thread of its own does the reading.
 */
struct http_linger;

/* max_conns: sockets lingering at once; beyond it a socket is closed at
 * once (as without lingering). time_ms 0 disables lingering. NULL with
 * err. */
struct http_linger *http_linger_start(uint64_t time_ms, uint64_t max_bytes, unsigned max_conns, char *err,
    size_t errlen);

/* Take over fd, a descriptor of a connection whose answer has been sent
 * in full (a dup of the one libmicrohttpd is closing). fd is always
 * consumed. Safe with l == NULL (then fd is closed). */
void http_linger_add(struct http_linger *l, int fd);

/* Sockets lingering now (for tests and /metrics). */
unsigned http_linger_count(const struct http_linger *l);

/* Join the thread and close what still lingers. Safe with NULL. */
void http_linger_stop(struct http_linger *l);

#endif
