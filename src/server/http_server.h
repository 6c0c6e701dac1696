#ifndef KEYGATE_HTTP_SERVER_H
#define KEYGATE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct http_server;

/*
 * The libmicrohttpd front end: an internal pool of cfg->threads epoll
 * workers fed by keygate's accepting thread (http_accept.h), connection
 * limits and timeouts from the config, one access-log line per request.
 * Start, quiesce, wait and stop are for the main thread.
 */
/* listen_fd: a socket systemd passed (socket activation), or -1 to bind
 * [server] listen. */
struct http_server *http_server_start(const struct app *app, int listen_fd, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *srv);
/* Stop accepting new connections; requests in flight go on. */
void http_server_quiesce(struct http_server *srv);
/* Wait up to timeout_ms for in-flight requests to finish and for clients
 * to take their last reply (which says Connection: close once the app is
 * draining): 0 when quiet, -1 on timeout. */
int http_server_wait_idle(struct http_server *srv, uint64_t timeout_ms);
/* Close every connection and join the workers. Suspended connections must
 * have been resumed first (the password pool drained). */
void http_server_stop(struct http_server *srv);

#endif
