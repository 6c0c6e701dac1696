#ifndef KEYGATE_ADDR_H
#define KEYGATE_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Listen addresses: "127.0.0.1:8000", "0.0.0.0:8000", "[::1]:8000",
 * "[::]:8000". Numeric only: a daemon must not depend on DNS to start.
 * Returns 0, or -1 with a reason in err. Thread-safe.
 */
int addr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *outlen, char *err, size_t errlen);

/* A network: 16 bytes (IPv4 as ::ffff:a.b.c.d) and a prefix length over
 * those 16 bytes. */
struct addr_net {
	unsigned char addr[16];
	unsigned prefix;
};
#define ADDR_NETS_MAX 32

/* "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8": comma-separated addresses or
 * CIDR networks. Returns the count, or -1 with a reason in err. */
int addr_parse_nets(const char *s, struct addr_net *out, int max, char *err, size_t errlen);

/* Parse one numeric IPv4 or IPv6 address (no port) into 16 bytes. */
int addr_parse_ip(const char *s, size_t len, unsigned char out[16]);
/* A socket address as 16 bytes. -1 for a family other than IPv4/IPv6. */
int addr_from_sockaddr(const struct sockaddr *sa, unsigned char out[16]);

int addr_in_nets(const unsigned char addr[16], const struct addr_net *nets, int n);

#endif
