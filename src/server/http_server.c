/*
 * http_server.c: the libmicrohttpd daemon, its access and completion
 * callbacks.
 *
 * THREAD SAFETY: MHD runs cfg->threads workers; each connection, and so
 * each request, stays on one worker. The only state shared between workers
 * here is `inflight`, an atomic count of live requests, read by the main
 * thread at shutdown.
 */
#include "server/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "base/app.h"
#include "http/http_accept.h"
#include "http/http_linger.h"
#include "http/http_reply.h"
#include "http/http_request.h"
#include "base/log.h"
#include "base/metrics.h"
#include "api/router.h"
#include "api/pipeline.h"

struct http_server {
	struct MHD_Daemon *daemon;
	const struct app *app;
	atomic_long inflight;
	atomic_ulong last_done_ms; /* when the latest request completed (monotonic) */
	atomic_long connections; /* open client connections */
	struct http_acceptor *acceptor; /* NULL once quiesced */
	struct http_linger *linger; /* lingering close of early answers */
	int listen_fd; /* ours to close unless activated; -1 once closed */
	int activated; /* the listening socket came from systemd */
	unsigned port;
};

/* At shutdown, connections silent this long are taken to be idle. */
#define HTTP_QUIET_MS 250

/*
 * keygate's own limits on the request line and the header block, answered
 * in JSON. They sit well inside libmicrohttpd's per-connection memory
 * (HTTP_CONNECTION_MEMORY, which MHD zeroes after every request: a bigger
 * pool costs every request). A request that does not fit there at all
 * (about 32 KiB of request line and headers, each field costing MHD some
 * 50 bytes more) MHD answers itself, 414 or 431 with its own HTML body:
 * 0.9.75 has no hook for those replies.
 */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
#define HTTP_URI_MAX 8192
#define HTTP_HEADERS_MAX 16384
#define HTTP_HEADER_FIELDS_MAX 100 /* Apache's LimitRequestFields */

struct header_scan {
	int fields;
	int content_length;
	int transfer_encoding;
	size_t bytes; /* as sent: "name: value\r\n" each */
};

static enum MHD_Result scan_header(
    void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value, size_t value_size)
{
	struct header_scan *hs = cls;
	(void)kind;
	(void)value;
	hs->fields++;
	hs->bytes += key_size + value_size + 4;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		hs->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		hs->transfer_encoding++;
	return MHD_YES;
}

static enum MHD_Result count_argument(
    void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value, size_t value_size)
{
	(void)kind;
	(void)key;
	(void)value;
	*(size_t *)cls += key_size + value_size + 2; /* "&k=v" */
	return MHD_YES;
}

/*
 * Checks that need only the request line and headers, answered at once
 * (which also closes the connection, right for these): a request target or
 * header block over keygate's limits, ambiguous framing, which MHD 0.9.75
 * lets through, and a declared body over the cap. 0 when the request may
 * go on.
 */
static int reject_early(struct request *req, const char *url)
{
	struct header_scan hs = { 0, 0, 0, 0 };
	size_t target = strlen(url);
	char cap[32];

	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, count_argument, &target);
	if (target > HTTP_URI_MAX) {
		snprintf(cap, sizeof(cap), "%d", HTTP_URI_MAX);
		http_reply_error(req, HTTP_ERR_URI_TOO_LONG, cap);
		return -1;
	}
	MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, scan_header, &hs);
	if (hs.bytes > HTTP_HEADERS_MAX || hs.fields > HTTP_HEADER_FIELDS_MAX) {
		snprintf(cap, sizeof(cap), "%d bytes in %d fields", HTTP_HEADERS_MAX, HTTP_HEADER_FIELDS_MAX);
		http_reply_error(req, HTTP_ERR_HEADERS_TOO_LARGE, cap);
		return -1;
	}
	if (hs.content_length > 1 || (hs.content_length > 0 && hs.transfer_encoding > 0)) {
		http_reply_error(req, HTTP_ERR_BAD_REQUEST, "ambiguous message framing");
		return -1;
	}
	const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || n > req->body_cap) {
			snprintf(cap, sizeof(cap), "%zu", req->body_cap);
			http_reply_error(req, HTTP_ERR_TOO_LARGE, cap);
			return -1;
		}
	}
	return 0;
}

/*
 * A connection's request storage: allocated when the connection opens and
 * reused by each request on it, so that keep-alive requests cost no
 * allocation of their own. `live` spans first call to completion; a
 * connection closed while its request is live (MHD completes requests
 * first, but this does not depend on it) leaves the freeing to completion.
 */
struct conn_state {
	struct request req;
	int live;
	int closed;
	int linger; /* answered before its body was read: linger at close */
};
_Static_assert(offsetof(struct conn_state, req) == 0, "a request's storage is its connection's state");

static struct conn_state *conn_state_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct request *req = *req_cls;
	(void)version;

	if (req == NULL) {
		struct conn_state *cs = conn_state_of(conn);
		if (cs == NULL || cs->live) /* no storage: out of memory at open */
			return http_reply_bare_internal(conn);
		req = &cs->req;
		http_request_begin(req, conn, srv->app, method, url);
		cs->live = 1;
		*req_cls = req;
		atomic_fetch_add_explicit(&srv->inflight, 1, memory_order_relaxed);
		/* Normal answers come on a later call: answering now closes
		 * the connection, which only a rejection deserves; the close
		 * lingers, so that a client still sending reads the answer. */
		if (reject_early(req, url) == -1)
			cs->linger = 1;
		return MHD_YES;
	}
	if (req->replied) { /* rejected early: drop whatever still comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		http_request_append(req, upload_data, *upload_data_size);
		/* MHD's read buffer is done with these bytes (a body may hold a
		 * password): wipe them, as the copy is wiped at the end. */
		sodium_memzero((void *)(uintptr_t)upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->body_too_large) {
		char cap[32];
		snprintf(cap, sizeof(cap), "%zu", req->body_cap);
		http_reply_error(req, HTTP_ERR_TOO_LARGE, cap);
		return MHD_YES;
	}
	pipeline_run(req);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request *req = *req_cls;
	(void)conn;
	(void)toe;

	if (req == NULL)
		return;
	struct conn_state *cs = (struct conn_state *)(void *)req; /* its first member */
	struct log_access a = {
		.request_id = req->id,
		.method = req->method_name,
		.path = req->path,
		.status = req->replied ? req->status : 0,
		.bytes = req->bytes_out,
		.usec = (http_now_ns() - req->started_ns) / 1000,
		.user_id = req->user_id,
		.json = req->cfg->access_log == ACCESS_LOG_JSON,
	};
	if (req->cfg->access_log != ACCESS_LOG_OFF)
		log_access_line(&a);
	metrics_request(
	    req->route != NULL && req->route_found ? (int)router_index(req->route) : METRICS_ROUTE_UNMATCHED,
	    a.status, a.usec);
	http_request_end(req);
	cs->live = 0;
	if (cs->closed)
		free(cs);
	*req_cls = NULL;
	atomic_store_explicit(&srv->last_done_ms, http_now_ns() / 1000000, memory_order_relaxed);
	atomic_fetch_sub_explicit(&srv->inflight, 1, memory_order_release);
}

/* MHD closes the socket when this returns: keep a descriptor of it, so
 * that the close does not reset a client still sending its body. */
static void linger_close(struct http_server *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = ci != NULL ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;

	if (fd != -1)
		http_linger_add(srv->linger, fd);
}

static void on_connection(
    void *cls, struct MHD_Connection *conn, void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	int delta = code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1;
	struct conn_state *cs = *socket_context;
	(void)conn;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_state)); /* NULL: its requests get 500 */
	} else if (cs != NULL) {
		*socket_context = NULL;
		if (cs->linger)
			linger_close(srv, conn);
		if (cs->live)
			cs->closed = 1;
		else
			free(cs);
	}
	atomic_fetch_add_explicit(&srv->connections, delta, memory_order_relaxed);
	metrics_connection(delta);
}

/* MHD's own unescaping, but a %00 can never shorten a path into another
 * route ("/books/1/%00" must not read as "/books/1/"): such a string
 * becomes one that matches nothing. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	size_t len = MHD_http_unescape(s);
	if (memchr(s, '\0', len) != NULL) {
		s[0] = '\x7f';
		s[1] = '\0';
		return 1;
	}
	return len;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	(void)cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(buf, sizeof(buf), fmt, ap);
#pragma GCC diagnostic pop
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("mhd: %s", buf);
}

/* The port a listening socket is bound to (0 if unknown). */
static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	return ntohs(
	    ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

static struct MHD_Daemon *start_daemon(struct http_server *srv, const struct config *cfg)
{
	/* No listening socket for MHD: http_accept.c accepts (and says why). */
	unsigned flags = MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	/* One options array: each option's value has the type MHD expects. */
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connection_limit, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)((cfg->connection_timeout_ms + 999) / 1000), NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	return MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

struct http_server *http_server_start(const struct app *app, int listen_fd, char *err, size_t errlen)
{
	const struct config *cfg = app_config(app);
	struct sockaddr_storage ss;
	socklen_t sl;
	char why[128];
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->app = app;
	srv->activated = listen_fd >= 0;
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->connections, 0);
	atomic_init(&srv->last_done_ms, 0);
	if (!srv->activated) {
		if (addr_parse_listen(cfg->listen, &ss, &sl, err, errlen) == -1) {
			free(srv);
			return NULL;
		}
		if ((listen_fd = http_listen(&ss, sl, why, sizeof(why))) == -1) {
			snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, why);
			free(srv);
			return NULL;
		}
	}
	srv->listen_fd = listen_fd;
	srv->port = bound_port(listen_fd);
	/* Lingering sockets are outside MHD's connection limit: an eighth of
	 * it more descriptors at most, so that a client sending oversized
	 * bodies cannot use the descriptors up (beyond, a plain close). */
	unsigned lingering = cfg->connection_limit / 8 > 0 ? cfg->connection_limit / 8 : 1;
	srv->linger = http_linger_start(cfg->linger_time_ms, cfg->linger_bytes, lingering, why, sizeof(why));
	if (srv->linger == NULL)
		log_warnx("http: %s; early answers close at once", why);
	srv->daemon = start_daemon(srv, cfg);
	if (srv->daemon == NULL)
		snprintf(err, errlen, "cannot start libmicrohttpd's threads");
	else if ((srv->acceptor = http_acceptor_start(srv->daemon, listen_fd, err, errlen)) == NULL)
		MHD_stop_daemon(srv->daemon);
	if (srv->daemon == NULL || srv->acceptor == NULL) {
		if (!srv->activated)
			close(listen_fd);
		http_linger_stop(srv->linger);
		free(srv);
		return NULL;
	}
	return srv;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_quiesce(struct http_server *srv)
{
	http_acceptor_stop(srv->acceptor);
	srv->acceptor = NULL;
	/* Nothing accepts any more, but the kernel still would, into a backlog
	 * nobody takes: close the socket now, so that new clients are refused
	 * at once. Not a socket systemd holds for our successor. */
	if (!srv->activated && srv->listen_fd != -1) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
}

static long open_connections(struct http_server *srv)
{
	return atomic_load_explicit(&srv->connections, memory_order_relaxed);
}

int http_server_wait_idle(struct http_server *srv, uint64_t timeout_ms)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t start = http_now_ns() / 1000000;

	/* Done when nothing is in flight and either every connection has
	 * closed (each got its last reply with Connection: close) or the
	 * remaining ones have been quiet for a while (idle keep-alives that
	 * will not speak again are closed by the stop). */
	for (;;) {
		uint64_t now = http_now_ns() / 1000000;
		if (atomic_load_explicit(&srv->inflight, memory_order_acquire) == 0 &&
		    (open_connections(srv) == 0 ||
			now - atomic_load_explicit(&srv->last_done_ms, memory_order_relaxed) >= HTTP_QUIET_MS))
			return 0;
		if (now - start >= timeout_ms)
			return -1;
		nanosleep(&tick, NULL);
	}
}

void http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	http_acceptor_stop(srv->acceptor);
	MHD_stop_daemon(srv->daemon);
	http_linger_stop(srv->linger); /* after MHD, which hands it sockets */
	if (srv->listen_fd != -1 && !srv->activated)
		close(srv->listen_fd);
	free(srv);
}
