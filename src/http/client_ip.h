#ifndef KEYGATE_CLIENT_IP_H
#define KEYGATE_CLIENT_IP_H

#include "http/http_request.h"

/*
 * The client's address for per-address limits: the socket peer, unless the
 * peer is a trusted proxy ([server] trusted_proxies); then the right-most
 * X-Forwarded-For entry that is not a trusted proxy, every field line
 * joined in order (entries left of it are the client's to forge). From a
 * peer that is not trusted the header is ignored, counted and logged once
 * an incident. Cached in the request. 0, or -1 when the peer's address
 * cannot be had.
 */
int client_ip_get(struct request *req, unsigned char out[16]);

/* The part of a client address a per-address limit counts: an IPv6
 * address's first v6_prefix bits (one subscriber has a whole /64), an
 * IPv4 address (::ffff:a.b.c.d) whole. */
void client_ip_prefix(unsigned char addr[16], unsigned v6_prefix);

#endif
