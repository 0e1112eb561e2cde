/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_DAEMON_SETUP_H
#define VDB_DAEMON_SETUP_H

/*
 * Bringing a device up: create it, or take over the one a daemon before us
 * served (a crash, a kill, a stop that left it attached, a live upgrade).
 * One path for all: the state file says what the device is and what was in
 * flight; a device that does not match the options is refused, untouched.
 */

#include <stdbool.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "recovery/state.h"
#include "recovery/upgrade.h"
#include "vduse/dev.h"

struct device_setup {
	const char *name;
	const char *state_dir;
	gid_t own_gid;                     /* the group the daemon runs as */
	struct blk_dev *blk;               /* a takeover sets the device's capacity */
	const struct image *img;
	const struct backend_ops *be;
	const struct handover *handover;   /* fds of a re-exec, or both -1 */
	struct vdb_state *state;           /* out: open and locked */
	struct vduse_dev *dev;             /* out: serving */
	bool is_taken_over;                /* out: the device existed */
};

/**
 * device_setup() - create the device, or take the existing one over
 * Logs why it gives up.  Returns 0, -EBADMSG (refused: the state file or
 * the options do not match the device), -EBUSY (another daemon serves it),
 * or another -errno.  On failure an existing device is left as it was and
 * a created one is destroyed; s->dev and s->state need no cleanup.
 */
int device_setup(struct device_setup *s);

#endif
