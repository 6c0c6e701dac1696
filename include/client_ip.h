#ifndef KEYGATE_CLIENT_IP_H
#define KEYGATE_CLIENT_IP_H

#include "http_request.h"

/*
 * The client's address for per-address limits: the socket peer, unless the
 * peer is a trusted proxy ([server] trusted_proxies); then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (entries left of it
 * are the client's to forge). Cached in the request. 0, or -1 when the
 * peer's address cannot be had.
 */
int client_ip_get(struct request *req, unsigned char out[16]);

#endif
