/* Runs a fuzz target over files (its corpus and regression inputs) without
 * libFuzzer: `make test` replays every kept input under gcc and, in
 * `make check`, the sanitizers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		/* A copy of exactly len bytes, so ASan sees reads past the end. */
		uint8_t *copy = malloc(len ? len : 1);
		for (size_t j = 0; j < len; j++)
			copy[j] = buf[j];
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
		n++;
	}
	printf("%d inputs replayed\n", n);
	return 0;
}
