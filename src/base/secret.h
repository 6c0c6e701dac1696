#ifndef KEYGATE_SECRET_H
#define KEYGATE_SECRET_H

#include <stddef.h>

/*
 * Server secrets (the JWT signing key, the API-key sealing key). A secret is
 * the given value when non-empty, else the content of a file less one
 * trailing newline. With generate set, a missing file is created (mode
 * 0600, O_EXCL) holding 32 random bytes as 64 hex digits. Secrets shorter
 * than SECRET_MIN bytes are refused. Start-up only.
 */
#define SECRET_MIN 32
#define SECRET_MAX 512

/* Make jansson wipe every block it frees: parsed passwords and tokens, the
 * parser's own token buffers, rendered replies. Start-up, before threads. */
void secret_wipe_json_frees(void);

int secret_load(
    const char *value, const char *path, int generate, unsigned char *out, size_t *outlen, char *err, size_t errlen);

#endif
