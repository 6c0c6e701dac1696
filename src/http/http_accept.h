#ifndef KEYGATE_HTTP_ACCEPT_H
#define KEYGATE_HTTP_ACCEPT_H

#include <microhttpd.h>
#include <sys/socket.h>

/*
 * keygate accepts its connections itself, on a thread of its own, and
 * hands each to libmicrohttpd (MHD_add_connection), instead of letting
 * MHD's workers poll the listening socket. Stopping to accept is then ours
 * alone: MHD 0.9.75's MHD_quiesce_daemon() races its epoll workers over
 * removing the listening socket from their epoll sets and, when it loses,
 * aborts the process (MHD_PANIC "Failed to remove listen FD from epoll
 * set", seen here at SIGTERM under traffic).
 */
struct http_acceptor;

/* A non-blocking listening TCP socket on ss, or -1 with err. */
int http_listen(const struct sockaddr_storage *ss, socklen_t sl, char *err, size_t errlen);

/* Accept on listen_fd until stopped, handing connections to daemon (which
 * applies its connection limits and closes what it refuses). */
struct http_acceptor *http_acceptor_start(struct MHD_Daemon *daemon, int listen_fd, char *err, size_t errlen);

/* 0 while accepting works; -1 while the accepting thread is failing
 * (poll or accept errors, retried with a bounded back-off), for
 * /healthz. Any thread. */
int http_accept_healthy(void);

/* Stop accepting: join the thread, then hand MHD the connections already
 * queued in the kernel. The listening socket stays open (the caller closes
 * it at once, or leaves it to systemd). Safe with NULL. */
void http_acceptor_stop(struct http_acceptor *a);

#endif
