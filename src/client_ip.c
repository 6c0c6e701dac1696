/* client_ip.c: who the client is, behind trusted proxies or not. */
#include "client_ip.h"

#include <string.h>

#include "addr.h"
#include "app.h"

/* Walk X-Forwarded-For from the right; return in out the first entry that
 * is not a trusted proxy. -1 when there is none usable. */
static int forwarded_for(const struct config *cfg, const char *xff, unsigned char out[16])
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
		/* A proxy we trust wrote this entry: garbage means a broken
		 * proxy, not a client to key on. */
		if (addr_parse_ip(xff + a, b - a, out) == -1)
			return -1;
		if (!addr_in_nets(out, cfg->trusted, cfg->ntrusted))
			return 0;
		end = start > 0 ? start - 1 : 0;
	}
	return -1;
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
		const char *xff = http_request_header(req, "X-Forwarded-For");
		if (xff != NULL && forwarded_for(cfg, xff, hop) == 0)
			memcpy(req->client_addr, hop, 16);
	}
	req->client_addr_known = 1;
	memcpy(out, req->client_addr, 16);
	return 0;
}
