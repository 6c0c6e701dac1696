#ifndef KEYGATE_HTTP_ADMIN_H
#define KEYGATE_HTTP_ADMIN_H

#include <stddef.h>

struct app;
struct http_admin;

/*
 * The admin listener ([server] admin_listen): GET /metrics in the
 * Prometheus text format, on its own address and one thread of its own,
 * apart from the API. NULL with err when it cannot listen; main thread.
 */
struct http_admin *http_admin_start(const struct app *app, const char *listen, char *err, size_t errlen);
unsigned http_admin_port(const struct http_admin *adm);
void http_admin_stop(struct http_admin *adm);

#endif
