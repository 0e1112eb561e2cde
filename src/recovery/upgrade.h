/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_UPGRADE_H
#define VDB_UPGRADE_H

/*
 * Live upgrade: the daemon executes the binary installed at the path it was
 * started from, in place (same pid, same arguments), handing the new image
 * the device fd, the state file, the image and the control device through the
 * environment.  The new image
 * takes the device over as a restarted daemon would, without reopening it.
 */

#include <stdbool.h>
#include <stdint.h>

#define UPGRADE_ENV "VDUSE_BLKD_HANDOVER"

/* What the new image needs and may no longer be allowed to open (privileges dropped). */
struct handover {
	int dev_fd;                   /* /dev/vduse/NAME, or -1 */
	int state_fd;                 /* the locked state file, or -1 */
	int image_fd;                 /* the image, as the old image opened it, or -1
					 (an image without an fd, rbd, is opened again) */
	int ctl_fd;                   /* /dev/vduse/control, or -1 */
	uint64_t paused_at_ms;        /* CLOCK_MONOTONIC when the old image paused */
};

/* upgrade_save_exe() - remember the binary's path now, before it may be replaced. */
int upgrade_save_exe(void);

/* upgrade_exe() - the path upgrade_exec() executes. */
const char *upgrade_exe(void);

/**
 * upgrade_take_handover() - what a re-executing daemon handed over
 * Reads and clears UPGRADE_ENV.  Returns true with @h filled when this
 * process is a re-exec; false (with both fds -1) for a plain start.
 */
bool upgrade_take_handover(struct handover *h);

/**
 * upgrade_check_node() - is the handed-over @fd the character device @node?
 * The environment of a re-exec is input like any other: each fd must be
 * what it claims (the state file is checked by vdb_state_open(), the image
 * by image_adopt(), the control socket by ctl_server_open()).
 * Returns 0 (also for @fd -1: none handed over), -ENODEV when it is another
 * file, or -errno of fstat/stat.
 */
int upgrade_check_node(int fd, const char *node);

/**
 * upgrade_check_exe() - can the saved path be executed: a regular, executable
 * ELF file?  Checked before the queues pause: a failed exec costs a pause
 * for nothing, and on some kernels (7.2) an exec that fails after io_uring
 * use leaves the process spinning in the kernel.
 * Returns 0 or -errno (-ENOENT, -EACCES, -ENOEXEC).
 */
int upgrade_check_exe(void);

/**
 * upgrade_exec() - execute the saved binary with @argv, handing @h over
 * Returns only on failure, -errno, with the fds as they were.
 */
int upgrade_exec(char **argv, const struct handover *h);


#endif
