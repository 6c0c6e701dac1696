/* Fuzz: whole config files through libinih and the key table. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config cfg;
	char err[512];

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/kg-fuzz-config-%d.ini", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	config_defaults(&cfg);
	if (config_load_file(&cfg, path, err, sizeof(err)) == 0)
		config_finish(&cfg, err, sizeof(err));
	/* An error names the file. */
	else if (strncmp(err, path, strlen(path)) != 0)
		__builtin_trap();
	return 0;
}
