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

#endif
