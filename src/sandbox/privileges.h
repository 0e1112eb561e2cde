/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_PRIVILEGES_H
#define VDB_PRIVILEGES_H

/*
 * Dropping privileges once the device serves: creating it, opening the image
 * and attaching it need root; serving needs only the fds setup opened.  The
 * daemon then runs as an unprivileged user with no capabilities, or with
 * CAP_NET_ADMIN alone when it must detach the device over netlink at exit
 * (kept across a live upgrade's exec as an ambient capability), and with
 * no_new_privs.
 */

#include <stdbool.h>
#include <sys/types.h>

struct run_as {
	uid_t uid;
	gid_t gid;
	bool keeps_net_admin;         /* --attach: the daemon detaches at exit */
};

/**
 * privileges_lookup() - the user to run as: a name from the passwd database,
 * or a number (uid, with the same gid, or "UID:GID")
 * Returns 0 or -ENOENT.  Call it before dropping anything (NSS may open files).
 */
int privileges_lookup(const char *user, struct run_as *ret);

/**
 * privileges_drop() - become @as for good, in every thread
 * Supplementary groups go, uid and gid become @as's (already @as after a
 * re-exec: then only the capabilities are set), capabilities are emptied
 * but for CAP_NET_ADMIN when asked, and no_new_privs is set.
 * Returns 0 or -errno (-EPERM when not allowed to change user).
 */
int privileges_drop(const struct run_as *as);

#endif
