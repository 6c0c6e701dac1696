#ifndef KEYGATE_SDNOTIFY_H
#define KEYGATE_SDNOTIFY_H

#include <stdint.h>

/*
 * systemd integration without libsystemd: the documented sd_notify
 * datagram protocol and LISTEN_FDS socket activation. Without
 * $NOTIFY_SOCKET / $LISTEN_FDS both do nothing. Main thread only.
 */

/* Send "READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1", ...: 0, or -1
 * (logged once; a notify failure never stops the server). */
int sdnotify(const char *state);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC for this
 * process), in microseconds; 0 when there is none. */
uint64_t sdnotify_watchdog_usec(void);

/* The socket systemd passed (fd 3), made close-on-exec, or -1 when this
 * process was not socket-activated. Unsets the LISTEN_* variables. */
int sdnotify_listen_fd(void);

#endif
