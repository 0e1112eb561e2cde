// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef VDB_DAEMON_CONFINE_H
#define VDB_DAEMON_CONFINE_H
/*
 * The step into the sandbox once the device serves, in this order:
 * confine_drop_privileges(), confine_landlock(), confine_seccomp().
 */

#include <stdbool.h>

#include "backends/backend.h"
#include "daemon/daemon.h"

/* The fds whose contents are never code: the image, the state file, the device, control. */
#define CONFINE_NO_EXEC_FDS 4

/* confine_drop_privileges() - become --user.  Returns 1 when dropped now, 0 when already, -errno. */
int confine_drop_privileges(struct options *o);

/* confine_open_record_file() - the test hook's record file, before Landlock forbids it. */
void confine_open_record_file(const struct options *o);

/**
 * confine_landlock() - the files the daemon may still open, for this thread
 * and every thread it starts from now on
 * Returns 1 when applied now, 0 when there is nothing to do (inherited by a
 * live upgrade's new image, or a kernel without Landlock: said once), -errno.
 */
int confine_landlock(const struct options *o, const struct image *img, bool is_reexec);

/**
 * confine_seccomp() - the seccomp allowlist, in every thread
 * @no_exec_fds: never mapped executable (what the guest wrote or the disk holds)
 * Returns 0 or -errno (logged).
 */
int confine_seccomp(const struct options *o, const int no_exec_fds[CONFINE_NO_EXEC_FDS],
		    bool is_reexec);

#endif
