// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon confines itself once the device serves (daemon.c's on_ready):
 * --user (its uid, gid and capabilities), then Landlock (the files it may
 * still open), then the seccomp allowlist (the system calls it may still
 * make), with the test hooks that check each.  See "SECURITY MODEL" in
 * vduse-blkd(8) and docs/security.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/confine.h"
#include "daemon/notify.h"
#include "daemon/prepare.h"
#include "log.h"
#include "recovery/upgrade.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"

/* --user: the uid, gid and capabilities of a serving daemon.  Returns 1 when dropped now. */
int confine_drop_privileges(struct options *o)
{
	int r;

	o->run_as.keeps_net_admin = o->is_attach;
	/* A live upgrade's new image: the old one dropped them, and its filter forbids capset. */
	if (sandbox_seccomp_is_own() && getuid() == o->run_as.uid)
		return 0;
	r = privileges_drop(&o->run_as);
	if (r < 0) {
		log_err("dropping privileges to user '%s': %s", o->user, strerror(-r));
		return r;
	}
	log_info("running as uid %u, gid %u, %s", (unsigned int)o->run_as.uid,
		 (unsigned int)o->run_as.gid, o->is_attach ?
		 "with CAP_NET_ADMIN alone (to detach at exit)" : "without capabilities");
	return 1;
}

/*
 * Test hooks (tests/vm runs every suite so): $VDUSE_BLKD_TEST_SANDBOX=record
 * makes --sandbox on record instead of kill, and each recorded call is
 * appended to $VDUSE_BLKD_TEST_SANDBOX_FILE too, which a suite then checks
 * is empty.
 */
static const char *test_sandbox_record_path(void)
{
#ifdef VDB_TEST_HOOKS
	return getenv("VDUSE_BLKD_TEST_SANDBOX_FILE");
#else
	return NULL;
#endif
}

static bool sandbox_records(const struct options *o)
{
#ifdef VDB_TEST_HOOKS
	const char *v = getenv("VDUSE_BLKD_TEST_SANDBOX");

	if (v && !strcmp(v, "record"))
		return true;
#endif
	return o->is_sandbox_recording;
}

/* Where recorded calls go besides stderr: the test hook's file, opened before the filter. */
static int sandbox_record_fd(void)
{
	static int fd = -1;
	const char *path = test_sandbox_record_path();

	/* A live upgrade's new image may not create it: the old one did. */
	if (fd < 0 && path)
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC |
			  (sandbox_seccomp_is_own() ? 0 : O_CREAT), 0600);
	return fd;
}

void confine_open_record_file(const struct options *o)
{
	if (sandbox_records(o))
		sandbox_record_fd();
}

void daemon_sandbox_handler(const struct options *o)
{
	bool is_recording = o->is_sandboxed && sandbox_records(o);

	/*
	 * Not ours (a binary older than the marker ran before): it refuses
	 * seccomp(2), so only the handler; ours: apply() loads nothing more and
	 * sets whether refusals are recorded.
	 */
	if (!sandbox_seccomp_is_own()) {
		sandbox_seccomp_catch_sigsys();
		return;
	}
	sandbox_seccomp_apply(&(struct sandbox_opts){
		.is_recording = is_recording, .record_fd = is_recording ? sandbox_record_fd() : -1 });
}

/*
 * Test hook: with $VDUSE_BLKD_TEST_LANDLOCK_PROBE=PATH, open PATH for
 * writing once the sandbox is on, say what happened, and serve on
 * (tests/vm sandbox: EACCES, and the disk still works).
 */
static void test_landlock_probe(void)
{
	const char *path = getenv("VDUSE_BLKD_TEST_LANDLOCK_PROBE");
#ifdef VDB_TEST_HOOKS
	int fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	log_info("test hook: opening %s for writing: %s", path, fd < 0 ? strerror(errno) :
		 "opened");
	if (fd >= 0)
		close(fd);
#else
	if (path)
		log_err("VDUSE_BLKD_TEST_LANDLOCK_PROBE: test hooks are not compiled in");
#endif
}

/* --sandbox on: the seccomp allowlist, in every thread, after privileges are dropped. */
int confine_seccomp(const struct options *o, const int no_exec_fds[CONFINE_NO_EXEC_FDS],
		    bool is_reexec)
{
	struct sandbox_opts so = {
		.backend_syscalls = o->be->syscalls,
		.nr_backend_syscalls = o->be->nr_syscalls,
		.may_exec = true,
		.may_attach = o->is_attach,
		.may_notify = notify_is_enabled(),
		/* What the guest wrote or the disk holds is never code. */
		.nr_no_exec_fds = CONFINE_NO_EXEC_FDS,
		.no_exec_fds = { no_exec_fds[0], no_exec_fds[1], no_exec_fds[2], no_exec_fds[3] },
		.is_recording = sandbox_records(o),
		.record_fd = sandbox_records(o) ? sandbox_record_fd() : -1,
	};
	int r;

	log_debug_cat(LOG_CAT_SANDBOX, "seccomp allowlist: backend %s%s%s%s", o->be->name,
		      so.may_exec ? ", live upgrade" : "", so.may_attach ? ", vdpa netlink" : "",
		      so.may_notify ? ", sd_notify" : "");
	/*
	 * A live upgrade from a binary older than the marker: its filter (or,
	 * under systemd, the unit's, which it took for its own) refuses
	 * seccomp(2), so stacking ours would kill us.  Keep it; the next
	 * restart installs ours.
	 */
	if (is_reexec && sandbox_seccomp_is_active() && !sandbox_seccomp_is_own()) {
		r = sandbox_seccomp_catch_sigsys();
		if (r == 0)
			log_warn("seccomp sandbox: kept the filter the previous binary ran under, "
				 "which is not this binary's (a restart installs it)");
	} else {
		r = sandbox_seccomp_apply(&so);
		if (r >= 0)
			log_info("%s%s", r == 1 ? "seccomp sandbox: kept the filter of the previous "
				 "binary" : "seccomp sandbox on", so.is_recording ? " (recording "
				 "forbidden calls, failing them with ENOSYS)" : "");
	}
	if (r < 0) {
		log_err("installing the seccomp sandbox: %s (--sandbox off serves without it)",
			strerror(-r));
		return r;
	}
	test_landlock_probe();
	if (getenv("VDUSE_BLKD_TEST_SECCOMP_VIOLATION")) {
#ifdef VDB_TEST_HOOKS
		log_info("test hook: making a forbidden system call");
		r = sandbox_test_violation();
		log_err("test hook: the forbidden call returned %d", r);
#else
		log_err("VDUSE_BLKD_TEST_SECCOMP_VIOLATION: test hooks are not compiled in");
#endif
		return -EPERM;
	}
	return 0;
}

/*
 * --sandbox on: Landlock, the files the daemon may still open, for this
 * thread and every thread it starts from now on.  Returns 1 when applied
 * now, 0 when there is nothing to do (inherited by a live upgrade's new
 * image, or a kernel without Landlock: said once), or -errno.
 */
int confine_landlock(const struct options *o, const struct image *img, bool is_reexec)
{
	struct sandbox_path backend_paths[SANDBOX_MAX_BACKEND_PATHS];
	struct image_spec spec = prepare_image_spec(o, -1);
	struct sandbox_serving sv = {
		.backend_paths = backend_paths,
		.nr_backend_paths = o->be->landlock_paths ?
			o->be->landlock_paths(&spec, img, backend_paths,
					      SANDBOX_MAX_BACKEND_PATHS) : 0,
		.state_dir = o->state_dir,
		.exe = upgrade_exe(),
		.is_attach = o->is_attach,
		.dev_name = o->name,
		.extra_path = test_sandbox_record_path(),
	};
	int r;

	/*
	 * A live upgrade's new image runs in the domain the old one made.  Not
	 * any filter (systemd's SystemCallFilter=): a first start is not one.
	 */
	if (is_reexec)
		return 0;
	r = sandbox_landlock_serving(&sv);
	if (r == -EOPNOTSUPP) {
		log_warn("Landlock is not enabled in this kernel (CONFIG_SECURITY_LANDLOCK, lsm=): "
			 "the daemon may open any file its user may");
		return 0;
	}
	if (r < 0) {
		log_err("restricting the files the daemon may open (Landlock): %s "
			"(--sandbox off serves without it)", strerror(-r));
		return r;
	}
	log_info("Landlock on: files beyond the image, the state directory and /dev/vduse "
		 "cannot be opened");
	return 1;
}
