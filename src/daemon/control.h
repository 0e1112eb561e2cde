/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_CONTROL_H
#define VDB_CONTROL_H

/*
 * The daemon's control loop: the device's control messages, signals, the
 * vdpa attach/detach job and the state file's heartbeat.  Queue threads do
 * the I/O; this thread answers the kernel in time.
 */

#include <stdbool.h>
#include <stdint.h>

#include "vduse/vdpa.h"
#include "vduse/dev.h"

struct ctl_server;
struct ctl_device_status;

struct control {
	/* Set by the caller. */
	const char *name;
	bool is_attach;               /* --attach: attach now, detach when stopping */
	enum vdpa_bus_driver attach_driver;
	struct vduse_dev *dev;
	int sfd;                      /* signalfd: SIGTERM, SIGINT, SIGHUP */
	/*
	 * Called once the device is set up: created or taken over, and attached
	 * with is_attach.  Privileges go here.  Returns 0, or -errno to stop.
	 */
	int (*on_ready)(struct control *c, void *opaque);
	/* Called once when stopping begins (a signal, a failure); may be NULL. */
	void (*on_stopping)(struct control *c, void *opaque);
	/*
	 * Called from the loop on every pass and at least every beat_ms (0:
	 * no minimum): the service manager's watchdog, which must hear from
	 * this loop, not from a thread that would beat while the loop is stuck.
	 */
	void (*on_beat)(struct control *c, void *opaque);
	unsigned int beat_ms;
	void *opaque;
	struct ctl_server *ctl;       /* the control socket (ctl.h), or NULL */
	bool is_ready;

	struct vdpa_job job;
	bool is_attached;             /* by us, or found attached when taking over */
	bool is_stopping;             /* a signal came, or attaching failed */
	bool is_broken;               /* the kernel gave up on the device */
	bool has_failed;              /* exit with an error */
	uint8_t old_status;
};

enum control_end {
	CONTROL_STOP,                 /* SIGTERM/SIGINT, or a failure (has_failed) */
	CONTROL_RELOAD,               /* SIGHUP: re-execute in place */
};

/**
 * control_serve() - serve until a signal
 * Attaches first with is_attach (or adopts the attachment of a device taken
 * over), detaches when stopping.  Returns CONTROL_STOP, CONTROL_RELOAD, or
 * -errno when the device fd failed.
 */
int control_serve(struct control *c);

/* control_status() - the device as the loop sees it, for the control socket (ctl.h). */
void control_status(void *opaque, struct ctl_device_status *ret);

/* control_exit() - wait for an attach or detach job still running. */
void control_exit(struct control *c);

#endif
