/* Fuzz: the config value syntaxes (rates, durations, sizes, addresses). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[256];
	struct rate r;
	struct rate_set set;
	char text[RATE_SET_TEXT_MAX];
	uint64_t v;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct addr_net nets[ADDR_NETS_MAX];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_rate(s, &r, err, sizeof(err)) == 0 &&
	    (r.limit < 1 || r.limit > RATE_LIMIT_MAX || r.window_s < 1 || r.window_s > RATE_WINDOW_MAX_S))
		abort();
	if (parse_rate_set(s, &set, err, sizeof(err)) == 0) {
		if (set.n < 1 || set.n > RATE_WINDOWS_MAX)
			abort();
		/* What the configuration prints reads back the same. */
		struct rate_set again;
		if (parse_rate_set(rate_set_format(&set, text, sizeof(text)), &again, err, sizeof(err)) == -1 ||
		    memcmp(&again, &set, sizeof(set)) != 0)
			abort();
	}
	parse_duration_ms(s, 0, UINT64_MAX, &v, err, sizeof(err));
	parse_size(s, 0, UINT64_MAX, &v, err, sizeof(err));
	parse_uint(s, 0, UINT64_MAX, &v, err, sizeof(err));
	addr_parse_listen(s, &ss, &sl, err, sizeof(err));
	int n = addr_parse_nets(s, nets, ADDR_NETS_MAX, err, sizeof(err));
	for (int i = 0; i < n; i++)
		if (nets[i].prefix > 128)
			abort();
	free(s);
	return 0;
}
