/* client_ip.c: who the client is, behind trusted proxies or not. */
#include "http/client_ip.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "lib/addr.h"
#include "base/app.h"
#include "base/log.h"
#include "base/metrics.h"
#include "throttle/throttle.h"

/* Field lines kept: the right-most ones, which are all the walk reads. */
#define XFF_LINES_MAX 32
/* A new incident of ignored headers after this long without one. */
#define IGNORED_QUIET_MS 60000

struct xff_lines {
	const char *line[XFF_LINES_MAX];
	int n;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct xff_lines *x = cls;
	(void)kind;

	if (key == NULL || value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
		return MHD_YES;
	if (x->n == XFF_LINES_MAX) { /* keep the right-most lines */
		memmove(x->line, x->line + 1, sizeof(x->line[0]) * (XFF_LINES_MAX - 1));
		x->n--;
	}
	x->line[x->n++] = value;
	return MHD_YES;
}

/* One line's entries from the right. 1: out is the client (the first
 * entry that is not a trusted proxy); 0: every entry was trusted; -1: an
 * entry is not an address. */
static int walk_line(const struct config *cfg, const char *xff, unsigned char out[16])
{
	size_t end = strlen(xff);

	while (end > 0) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		size_t a = start, b = end;
		while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
			a++;
		while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
			b--;
		end = start > 0 ? start - 1 : 0;
		if (a == b)
			continue; /* "a, , b": an empty list element (RFC 9110 5.6.1) */
		/* A proxy we trust wrote this entry: garbage means a broken
		 * proxy, not a client to key on. */
		if (addr_parse_ip(xff + a, b - a, out) == -1)
			return -1;
		if (!addr_in_nets(out, cfg->trusted, cfg->ntrusted))
			return 1;
	}
	return 0;
}

/* Every X-Forwarded-For field line, joined in order (RFC 9110 5.3), read
 * from the right: the right-most entry that is not a trusted proxy. The
 * entries left of it are the client's to forge. -1 when there is none. */
static int forwarded_for(const struct request *req, unsigned char out[16])
{
	struct xff_lines x = { .n = 0 };

	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &x);
	for (int i = x.n - 1; i >= 0; i--) {
		int rc = walk_line(req->cfg, x.line[i], out);
		if (rc != 0)
			return rc == 1 ? 0 : -1;
	}
	return -1;
}

/* A peer that is no trusted proxy sent X-Forwarded-For: ignored, counted,
 * and said once an incident (express-rate-limit warns alike), since it
 * usually means a proxy missing from [server] trusted_proxies. */
static void forwarded_ignored(const unsigned char peer[16])
{
	static _Atomic uint64_t last_ms;
	char text[INET6_ADDRSTRLEN];
	uint64_t now = throttle_now_ms();

	metrics_forwarded_ignored();
	if (now - atomic_exchange_explicit(&last_ms, now, memory_order_relaxed) < IGNORED_QUIET_MS)
		return;
	if (memcmp(peer, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
		inet_ntop(AF_INET, peer + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, peer, text, sizeof(text));
	log_warnx("client_ip: X-Forwarded-For from %s, which is not a trusted proxy: ignored, the peer is the client "
		  "(if it is your proxy, add it to [server] trusted_proxies); counted in "
		  "keygate_forwarded_for_ignored_total",
	    text);
}

int client_ip_get(struct request *req, unsigned char out[16])
{
	const struct config *cfg = req->cfg;
	unsigned char hop[16];

	if (req->client_addr_known) {
		memcpy(out, req->client_addr, 16);
		return 0;
	}
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL || addr_from_sockaddr(ci->client_addr, req->client_addr) == -1)
		return -1;
	if (cfg->ntrusted > 0 && addr_in_nets(req->client_addr, cfg->trusted, cfg->ntrusted)) {
		if (forwarded_for(req, hop) == 0)
			memcpy(req->client_addr, hop, 16);
	} else if (http_request_header(req, "X-Forwarded-For") != NULL) {
		forwarded_ignored(req->client_addr);
	}
	req->client_addr_known = 1;
	memcpy(out, req->client_addr, 16);
	return 0;
}

void client_ip_prefix(unsigned char addr[16], unsigned v6_prefix)
{
	if (memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
		return; /* IPv4 (mapped or not): the whole /32 */
	if (v6_prefix >= 128)
		return;
	unsigned full = v6_prefix / 8, rest = v6_prefix % 8;
	if (rest != 0)
		addr[full++] &= (unsigned char)(0xff << (8 - rest));
	memset(addr + full, 0, 16 - full);
}
