/* http_admin.c: the admin listener, serving /metrics. */
#include "server/http_admin.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "base/app.h"
#include "server/metrics_render.h"

struct http_admin {
	struct MHD_Daemon *daemon;
	const struct app *app;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct http_admin *adm = cls;
	char *buf = NULL;
	size_t len = 0;
	(void)version;
	(void)upload_data;

	if (*req_cls == NULL) { /* answer on the second call: keep-alive */
		*req_cls = adm;
		return MHD_YES;
	}
	*upload_data_size = 0;
	if (strcmp(url, "/metrics") != 0 || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
		static const char nf[] = "{\"detail\":\"Not found.\"}";
		return reply(conn, 404, strdup(nf), sizeof(nf) - 1, "application/json; charset=utf-8");
	}
	FILE *out = open_memstream(&buf, &len);
	if (out == NULL)
		return MHD_NO;
	metrics_render(out, adm->app->throttle, app_config(adm->app));
	fclose(out);
	return reply(conn, 200, buf, len, "text/plain; version=0.0.4; charset=utf-8");
}

struct http_admin *http_admin_start(const struct app *app, const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct http_admin *adm = calloc(1, sizeof(*adm));

	if (adm == NULL || addr_parse_listen(listen, &ss, &sl, err, errlen) == -1) {
		free(adm);
		return NULL;
	}
	adm->app = app;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, &ss },
		{ MHD_OPTION_CONNECTION_LIMIT, 64, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	adm->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_admin, adm, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (adm->daemon == NULL) {
		snprintf(err, errlen, "cannot listen on %s (address in use?)", listen);
		free(adm);
		return NULL;
	}
	return adm;
}

unsigned http_admin_port(const struct http_admin *adm)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(adm->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info != NULL ? info->port : 0;
}

void http_admin_stop(struct http_admin *adm)
{
	if (adm == NULL)
		return;
	MHD_stop_daemon(adm->daemon);
	free(adm);
}
