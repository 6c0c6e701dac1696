#ifndef KEYGATE_VALIDATE_H
#define KEYGATE_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Field rules, with Django's and DRF's messages. Each check appends its
 * messages to errors[field] (an array made on first use) and returns 0 when
 * the value passed, -1 when it did not. Thread-safe after validate_init.
 */

/* Call once at start-up, before threads (it builds a C.UTF-8 locale). */
int validate_init(void);
void validate_shutdown(void);

#define VALIDATE_REQUIRED 1
#define VALIDATE_OPTIONAL 0
/* obj[name] as a string, borrowed from obj: NULL when absent (an error only
 * if required), null, not a string, holding a NUL, or blank when required.
 * *len gets its length in bytes. */
const char *validate_string(const json_t *obj, const char *name, int required, json_t *errors, size_t *len);

/* Number of code points in valid UTF-8. */
size_t validate_utf8_chars(const char *s, size_t len);

int validate_username(const char *s, size_t len, json_t *errors);
int validate_password(const char *pw, size_t len, const char *username, json_t *errors);
int validate_email(const char *s, size_t len, json_t *errors);
/* Book titles: 1 to 100 characters. */
int validate_title(const char *s, size_t len, json_t *errors);

/* Append msg to errors[field]. */
void validate_fail(json_t *errors, const char *field, const char *msg);

#endif
