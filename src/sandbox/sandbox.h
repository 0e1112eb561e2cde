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
 * of SIGSYS (core dump, systemd's "status=31/SYS"); in record mode the
 * call fails with ENOSYS instead and the line is kept.  A handler an
 * attacker installs instead cannot make the call run either: the kernel
 * skips it.
 */

#include <stdbool.h>

#define SANDBOX_MAX_NO_EXEC_FDS 8

struct sandbox_syscall;

struct sandbox_opts {
	/*
	 * The system calls the backend declares (its ops' syscalls, rows of
	 * syscalls.h) beyond the daemon's own: the other backends' are refused.
	 * NULL is refused: a backend that declares none cannot run under it.
	 */
	const struct sandbox_syscall *backend_syscalls;
	unsigned int nr_backend_syscalls;
	bool may_exec;                /* SIGHUP live upgrade: execve and the new image's startup */
	bool may_attach;              /* --attach: vdpa netlink and sysfs, now or at the detach */
	bool may_notify;              /* sd_notify(): an AF_UNIX datagram to NOTIFY_SOCKET */
	/*
	 * Fds never to be mapped executable (the image, the state file, the
	 * devices): what is in them is the driver's or on disk, never code.
	 */
	unsigned int nr_no_exec_fds;
	int no_exec_fds[SANDBOX_MAX_NO_EXEC_FDS];
	/*
	 * Record mode (--sandbox record): a forbidden call still never runs,
	 * but instead of killing the process it fails with ENOSYS, and the
	 * line naming it goes to stderr and to @record_fd (if >= 0): for
	 * proving that the allowlist covers every path the daemon takes.
	 * x86-64 only; elsewhere the call kills as in the default mode.
	 */
	bool is_recording;
	int record_fd;
	/* The calling thread only, not every thread (the harness's queue thread). */
	bool is_this_thread_only;
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
 * -ENOENT when @o names no backend system calls, -ENOSYS or -EINVAL when the
 * kernel has no seccomp filters, -ENOMEM, or another -errno from libseccomp
 * or the kernel.
 */
int sandbox_seccomp_apply(const struct sandbox_opts *o);

/* sandbox_seccomp_nr_recorded() - forbidden calls recorded (record mode) so far. */
unsigned long sandbox_seccomp_nr_recorded(void);

/* sandbox_seccomp_is_active() - true when this process runs under a seccomp filter. */
bool sandbox_seccomp_is_active(void);

/*
 * Landlock (landlock.c): once the device serves, the daemon may open only
 * what serving, teardown and a live upgrade need, whatever its uid and
 * whatever seccomp allows: a root daemon cannot open core_pattern.
 */
enum {
	SANDBOX_FS_READ = 1 << 0,     /* read files, list directories */
	SANDBOX_FS_WRITE = 1 << 1,    /* open for writing, truncate */
	SANDBOX_FS_EXEC = 1 << 2,     /* execute (and read) */
	SANDBOX_FS_REMOVE = 1 << 3,   /* unlink files in a directory */
};

/* A file or a directory (its whole hierarchy) and what may be done there. */
struct sandbox_path {
	const char *path;             /* NULL: skipped; a missing path allows nothing */
	unsigned int rights;          /* SANDBOX_FS_* */
	bool is_its_dir;              /* the directory that holds @path, not @path itself */
};

/* sandbox_landlock_abi() - the kernel's Landlock ABI version, or -errno (-EOPNOTSUPP: off). */
int sandbox_landlock_abi(void);

/**
 * sandbox_landlock_apply() - from now on, open only under @paths
 * Restricts the calling thread and all it starts (threads, an execve's
 * new image) to @paths; threads started before keep their rights.  Sets
 * no_new_privs.  Returns 0, -EOPNOTSUPP when the kernel has no Landlock
 * (not built in, or not in the lsm= list), or another -errno.
 */
int sandbox_landlock_apply(const struct sandbox_path *paths, unsigned int nr);

#define SANDBOX_MAX_BACKEND_PATHS 8

/* What a serving daemon opens (sandbox_landlock_serving()). */
struct sandbox_serving {
	/* The backend's (its landlock_paths()): the image as served, what its library reads. */
	const struct sandbox_path *backend_paths;
	unsigned int nr_backend_paths;
	const char *state_dir;        /* state files and control sockets (removed at exit) */
	const char *exe;              /* the binary a live upgrade executes (its directory) */
	bool is_attach;               /* --attach: vdpa bus attributes in sysfs */
	const char *dev_name;         /* the device (its vdpa attributes) */
	const char *extra_path;       /* one more file to read and write (tests), or NULL */
};

/**
 * sandbox_landlock_serving() - sandbox_landlock_apply() with what serving,
 * teardown and a live upgrade open: the backend's paths (the image as
 * served, what its library reads), the state directory, /dev/vduse, /proc
 * and /sys to read, the binary's directory with the loader and libraries,
 * the files NSS reads, and with @is_attach the vdpa bus's attributes.
 * Nothing else, for any user.
 */
int sandbox_landlock_serving(const struct sandbox_serving *s);

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
