/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_SANDBOX_H
#define VDB_SANDBOX_H

/*
 * The seccomp sandbox: once the device serves, every thread of the daemon
 * may make only the system calls the control loop, the queue threads, the
 * vdpa job, teardown and (optionally) a live upgrade's re-exec make.
 *
 * Threat model: the driver side is untrusted (a VM writes the rings and the
 * buffers we parse).  A memory bug on the data path must not hand the VM a
 * root process that can mount, ptrace, load modules, open network sockets,
 * create files or map new executable memory.  The filter is a second wall
 * behind correct parsing, not a substitute for it.
 *
 * A forbidden call never runs.  The thread that made it gets SIGSYS
 * (SCMP_ACT_TRAP); our handler writes one line to stderr naming the call
 * and re-raises SIGSYS with its default action, so the whole process dies
 * of SIGSYS (core dump, systemd's "status=31/SYS").  A handler an attacker
 * installs instead cannot make the call run either: the kernel skips it.
 */

#include <stdbool.h>

enum sandbox_backend {
	SANDBOX_BACKEND_IO_URING,
	SANDBOX_BACKEND_AIO,
	SANDBOX_BACKEND_NULL,
	SANDBOX_BACKEND_RBD,          /* librbd's messenger threads: TCP to the cluster */
};

struct sandbox_opts {
	enum sandbox_backend backend; /* the syscalls of the other backends are refused */
	bool may_exec;                /* SIGHUP live upgrade: execve and the new image's startup */
	bool may_attach;              /* --attach: vdpa netlink and sysfs, now or at the detach */
	bool may_notify;              /* sd_notify(): an AF_UNIX datagram to NOTIFY_SOCKET */
};

/**
 * sandbox_seccomp_apply() - install the allowlist in every thread of the process
 * @o: what must stay possible
 *
 * Sets no_new_privs, installs the SIGSYS handler and loads the filter with
 * TSYNC, so queue threads that run already are covered; threads created later
 * inherit it.  Call it once setup is done: the device open, the image open,
 * the state file mapped, the signalfd made.
 *
 * This filter, inherited from the previous image of a live upgrade (execve
 * keeps it), is kept as it is and none is stacked on it: stacked filters
 * would grow with every upgrade until the kernel refuses them, and a stacked
 * filter can only narrow the inherited one.  Any other filter (systemd's
 * SystemCallFilter=, which must allow seccomp(2)) gets ours on top: which
 * is which is told by sandbox_seccomp_is_own(), not by PR_GET_SECCOMP.
 *
 * Returns 0 when a filter was installed, 1 when ours was inherited and kept,
 * -ENOSYS or -EINVAL when the kernel has no seccomp filters, -ENOMEM, or
 * another -errno from libseccomp or the kernel.
 */
int sandbox_seccomp_apply(const struct sandbox_opts *o);

/* sandbox_seccomp_is_active() - true when this process runs under a seccomp filter. */
bool sandbox_seccomp_is_active(void);

/**
 * sandbox_seccomp_is_own() - true when the filter sandbox_seccomp_apply()
 * installs is among those this process runs under
 *
 * The filter carries a marker no other filter has: it answers one fcntl
 * command that no kernel knows with an errno no system call returns.  The
 * probe is harmless without it (fcntl on fd -1: EBADF).  A service manager's
 * filter cannot pass for ours, whatever PR_GET_SECCOMP says.
 */
bool sandbox_seccomp_is_own(void);

/**
 * sandbox_seccomp_catch_sigsys() - install the SIGSYS handler that names a
 * refused call, without loading a filter (the new image of a live upgrade,
 * under the old image's filter, before it parses its options).
 * Returns 0 or -errno.
 */
int sandbox_seccomp_catch_sigsys(void);

#ifdef VDB_TEST_HOOKS
/**
 * sandbox_test_violation() - make a call the filter forbids (test builds only)
 * Calls mount(2) with no arguments: under the filter the process dies of
 * SIGSYS after the log line; without it the call fails (EFAULT) and this
 * returns -errno.
 */
int sandbox_test_violation(void);
#endif

#endif
