/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_SERVICE_H
#define VDB_SERVICE_H

/*
 * What the service manager hears from the daemon: readiness, STATUS= lines,
 * reloads, stopping and watchdog pings, in the words the daemon chooses
 * (policy over notify.h, which only speaks the protocol).  Every call is a
 * no-op without $NOTIFY_SOCKET; a message the manager misses never stops
 * the daemon.  Main thread only (NotifyAccess=main).
 */

#include <stdbool.h>
#include <stdint.h>

#include "daemon/control.h"

struct service {
	const char *name;             /* the device's name */
	int64_t watchdog_usec;        /* the unit's WatchdogSec=, 0 without a watchdog */
	uint64_t watchdog_sent_usec;  /* CLOCK_MONOTONIC of the last WATCHDOG=1 */
	bool has_said_stopping;
};

/**
 * service_start() - open $NOTIFY_SOCKET and read the watchdog settings
 * Call it before privileges drop and the seccomp filter starts.  Logs a
 * warning for a socket or watchdog setting it cannot use.
 */
void service_start(struct service *s, const char *name);

/* service_tell() - one message, e.g. "STATUS=..."; a debug line (daemon category). */
void service_tell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* service_ready() - READY=1 with the STATUS= of a serving device; @note is appended. */
void service_ready(struct service *s, const struct control *c, const char *note);

/* service_reloading() - RELOADING=1 and MONOTONIC_USEC= before a live upgrade's exec. */
void service_reloading(struct service *s, const char *exe);

/* service_stopping() - STOPPING=1 once; the watchdog pings end with it. */
void service_stopping(struct service *s);

/**
 * service_beat() - WATCHDOG=1 when half the interval has passed since the last
 * Call it from the control loop only, so that a stuck loop stops the pings.
 */
void service_beat(struct service *s);

/* service_beat_ms() - how often to call service_beat(): a quarter of the interval, 0 without. */
unsigned int service_beat_ms(const struct service *s);

#endif
