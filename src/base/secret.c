/* secret.c: load, or create on first start, the server's secret files. */
#include "base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

static int secret_generate(const char *path, char *err, size_t errlen)
{
	unsigned char raw[32];
	char hex[sizeof(raw) * 2 + 2];

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		if (errno == EEXIST) /* another process won the race: use its file */
			return 0;
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	size_t len = strlen(hex);
	hex[len++] = '\n';
	ssize_t n = write(fd, hex, len);
	sodium_memzero(hex, sizeof(hex));
	if (n != (ssize_t)len || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	log_info("generated a new secret in %s", path);
	return 0;
}

static int secret_read(const char *path, unsigned char *out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0)
		log_warnx("%s is readable by group or others; chmod 600 it", path);
	ssize_t n = read(fd, out, SECRET_MAX);
	char extra;
	if (n >= 0 && n == SECRET_MAX && read(fd, &extra, 1) == 1) {
		close(fd);
		snprintf(err, errlen, "%s: longer than %d bytes", path, SECRET_MAX);
		return -1;
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (n > 0 && out[n - 1] == '\n')
		n--;
	*outlen = (size_t)n;
	return 0;
}

int secret_load(
    const char *value, const char *path, int generate, unsigned char *out, size_t *outlen, char *err, size_t errlen)
{
	if (value != NULL && value[0] != '\0') {
		size_t len = strlen(value);
		if (len > SECRET_MAX) {
			snprintf(err, errlen, "the secret is longer than %d bytes", SECRET_MAX);
			return -1;
		}
		memcpy(out, value, len);
		*outlen = len;
	} else {
		if (generate && access(path, F_OK) == -1 && errno == ENOENT && secret_generate(path, err, errlen) == -1)
			return -1;
		if (secret_read(path, out, outlen, err, errlen) == -1)
			return -1;
	}
	if (*outlen < SECRET_MIN) {
		sodium_memzero(out, *outlen);
		snprintf(err, errlen, "%s: the secret is %zu bytes; at least %d are required",
		    value != NULL && value[0] != '\0' ? "environment" : path, *outlen, SECRET_MIN);
		return -1;
	}
	return 0;
}

/* jansson's allocations, wiped when freed (glibc's usable size: what the
 * block can hold, all of which jansson may have written). */
static void json_free_wiped(void *p)
{
	if (p != NULL)
		sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void secret_wipe_json_frees(void)
{
	json_set_alloc_funcs(malloc, json_free_wiped);
}
