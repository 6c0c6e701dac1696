#ifndef KEYGATE_LOG_INT_H
#define KEYGATE_LOG_INT_H

#include <stddef.h>

/* Shared by log.c and log_access.c only. */

/* "2026-11-29T06:46:16.070Z " into buf; its length. */
size_t log_stamp(char *buf, size_t cap);
/* Add the newline (buf has room at buf[len]) and write the line at once. */
void log_emit(char *buf, size_t len, size_t cap);

#endif
