// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's lifecycle (see daemon.h): setup, the step into the sandbox
 * once the device serves, live upgrade and teardown.  Like main.c it decides
 * policy: the messages and exit codes of a running daemon are chosen here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/vduse.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "blk/blk.h"
#include "config.h"
#include "daemon/control.h"
#include "ctl/ctl.h"
#include "daemon/daemon.h"
#include "log.h"
#include "daemon/notify.h"
#include "sandbox/privileges.h"
#include "daemon/service.h"
#include "sandbox/sandbox.h"
#include "recovery/state.h"
#include "daemon/setup.h"
#include "recovery/upgrade.h"
#include "util.h"
#include "vduse/vdpa.h"
#include "vduse/dev.h"

/* A serial stable across restarts: a hash of the image's canonical path. */
static void default_serial(const char *image, char serial[VIRTIO_BLK_ID_BYTES])
{
	char path[PATH_MAX];
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[VIRTIO_BLK_ID_BYTES + 1];

	if (!realpath(image, path))
		snprintf(path, sizeof(path), "%s", image);
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "vdb-%016llx", (unsigned long long)h);
	memset(serial, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(serial, buf, strlen(buf));
}

/* What the backend opens: the image and the backend's options. */
static struct image_spec image_spec_of(const struct options *o, int adopt_fd)
{
	struct image_spec spec = {
		.path = o->image_path, .is_readonly = o->is_readonly, .is_direct = o->is_direct,
		.adopt_fd = adopt_fd,
	};

	memcpy(spec.opts, o->backend_opts, sizeof(spec.opts));
	return spec;
}

/* The backend opens its image; an image that refuses writes is served read-only. */
static int open_image(const struct options *o, int adopt_fd, struct image *img)
{
	struct image_spec spec = image_spec_of(o, adopt_fd);
	int r = o->be->open(&spec, img);

	if (adopt_fd < 0 && !o->is_readonly && (r == -EACCES || r == -EROFS || r == -EPERM)) {
		spec.is_readonly = true;
		r = o->be->open(&spec, img);
		if (r == 0)
			log_warn("image '%s' cannot be opened for writing: serving it read-only",
				 o->image);
	}
	if (r < 0 && adopt_fd >= 0)
		log_err("live upgrade: the image handed over: %s", strerror(-r));
	else if (r == -EINVAL && !o->be->image_prefix)
		log_err("image '%s': not a regular file or block device", o->image);
	else if (r < 0 && !o->be->image_prefix)
		log_err("image '%s': %s", o->image, strerror(-r));
	/* A backend with its own prefix (rbd:) logged its reason itself. */
	return r;
}

static int describe_device(const struct options *o, const struct image *img, struct blk_dev *blk)
{
	/* By default the device's own logical block size (512 for files). */
	uint32_t block_size = o->block_size ? o->block_size : MAX(img->logical_block_size, 512u);
	uint64_t bytes = img->size_bytes;
	uint64_t usable = bytes - bytes % block_size;

	if (img->logical_block_size > block_size) {
		log_err("--block-size %u is smaller than the logical block size %u of '%s'",
			block_size, img->logical_block_size, o->image);
		return -EINVAL;
	}
	if (usable < BLK_SECTOR_SIZE || usable < block_size) {
		log_err("image '%s' is %llu bytes: too small to serve (at least %u bytes)",
			o->image, (unsigned long long)bytes, MAX(block_size, BLK_SECTOR_SIZE));
		return -EINVAL;
	}
	if (usable != bytes)
		log_warn("image '%s' is %llu bytes, not a multiple of %u: serving the first %llu",
			 o->image, (unsigned long long)bytes, block_size,
			 (unsigned long long)usable);
	memset(blk, 0, sizeof(*blk));
	blk->capacity_sectors = usable >> BLK_SECTOR_SHIFT;
	blk->logical_block_size = block_size;
	blk->physical_block_size = MAX(img->physical_block_size, block_size);
	blk->min_io_bytes = img->min_io_bytes;
	blk->opt_io_bytes = img->opt_io_bytes;
	blk->num_queues = (uint16_t)o->nr_queues;
	blk->queue_size = (uint16_t)o->queue_size;
	blk->poll_us = o->poll_us;
	blk->ring = (uint8_t)o->ring;
	blk->is_readonly = img->is_readonly;
	blk->has_discard = !img->is_readonly && img->can_discard;
	blk->has_write_zeroes = !img->is_readonly && img->can_write_zeroes;
	if (o->serial) {
		memset(blk->serial, 0, sizeof(blk->serial));
		memcpy(blk->serial, o->serial, strlen(o->serial));
	} else {
		default_serial(o->image, blk->serial);
	}
	return 0;
}

static int block_signals(int *ret_sfd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so queue threads inherit the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	*ret_sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return *ret_sfd < 0 ? -errno : 0;
}

/* The backend: as asked, or io_uring with libaio as the fallback. */
static const struct backend_ops *choose_by_name(const struct options *o)
{
	int r;

	if (o->be)
		return o->be;
	if (o->backend && strcmp(o->backend, "io_uring") != 0)
		return backend_find(o->backend);
	r = backend_io_uring.probe();
	if (r == 0)
		return &backend_io_uring;
	if (o->backend) {
		log_err("--backend io_uring: io_uring is unavailable here: %s%s", strerror(-r),
			r == -EPERM ? " (kernel.io_uring_disabled?)" : "");
		return NULL;
	}
#if HAVE_LIBAIO
	log_warn("io_uring is unavailable (%s%s): using the aio backend", strerror(-r),
		 r == -EPERM ? ", kernel.io_uring_disabled?" : r == -ENOSYS ? ", seccomp?" : "");
	return &backend_aio;
#else
	log_err("io_uring is unavailable (%s) and this build has no aio backend", strerror(-r));
	return NULL;
#endif
}

/* The backend, if it can serve as asked: under the sandbox it must say what it calls. */
static const struct backend_ops *choose_backend(const struct options *o)
{
	const struct backend_ops *be = choose_by_name(o);

	/* The seccomp filter allows a backend what it declares, and nothing it forgot. */
	if (be && o->is_sandboxed && !be->syscalls) {
		log_err("the %s backend declares no system calls (its ops' syscalls): it cannot "
			"serve under the sandbox (--sandbox off serves without it)", be->name);
		return NULL;
	}
	return be;
}

/* Which kernel and VDUSE API this run uses: the first thing to ask in a bug report. */
static void log_kernel(void)
{
	struct utsname u;
	uint64_t kernel_max = 0;
	int version = vduse_api_negotiate(&kernel_max);

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "(unknown)");
	if (version < 0)
		log_info("kernel %s, VDUSE API version unknown: %s", u.release, strerror(-version));
	else
		log_info("kernel %s, VDUSE API version %d (the kernel offers up to %llu)",
			 u.release, version, (unsigned long long)kernel_max);
}

/* One run of the daemon: the options and what the service manager hears. */
struct daemon {
	struct options *o;
	struct service svc;
	const struct image *img;
	const struct vdb_state *state;
	bool is_reexec;               /* a live upgrade's new image */
};

/* From the control loop (control.h): the watchdog pings. */
static void on_beat(struct control *c, void *opaque)
{
	struct daemon *d = opaque;

	(void)c;
	service_beat(&d->svc);
}

static void on_stopping(struct control *c, void *opaque)
{
	struct daemon *d = opaque;

	(void)c;
	service_stopping(&d->svc);
}

/*
 * Test hook: with $VDUSE_BLKD_TEST_STALL_ON_HUP=SECONDS, SIGHUP stops the
 * control loop for that long instead of upgrading, while the queues serve
 * on (tests/vm notify: no watchdog ping from a stuck loop).
 */
static bool test_stall_on_hup(void)
{
	const char *v = getenv("VDUSE_BLKD_TEST_STALL_ON_HUP");

	if (!v)
		return false;
#ifdef VDB_TEST_HOOKS
	log_info("test hook: the control loop stalls for %d s", atoi(v));
	sleep((unsigned int)atoi(v));
	log_info("test hook: the control loop runs again");
	return true;
#else
	log_err("VDUSE_BLKD_TEST_STALL_ON_HUP: test hooks are not compiled in");
	return false;
#endif
}

/* SIGHUP: pause the queues and execute the installed binary in place. */
static void live_upgrade(char **argv, struct daemon *d, struct control *c,
			 struct vdb_state *state, struct image *img)
{
	struct vduse_dev *dev = c->dev;
	/*
	 * An image without an fd (rbd) is not handed over: it is closed before
	 * the exec, releasing what it holds (the image's exclusive lock, which
	 * the new image would otherwise wait for), and the new image opens it.
	 */
	bool is_reopened = img->fd < 0;
	struct handover h = {
		.dev_fd = dev->fd, .state_fd = state->fd, .image_fd = img->fd, .ctl_fd = dev->ctl_fd,
	};
	int r;

	r = upgrade_check_exe();
	if (r < 0) {
		log_err("live upgrade: %s cannot be executed: %s; serving on with this binary",
			upgrade_exe(), strerror(-r));
		return;
	}
	log_info("live upgrade: re-executing %s", upgrade_exe());
	service_reloading(&d->svc, upgrade_exe());
	h.paused_at_ms = monotonic_ms();
	/* Requests in flight finish first: the new image starts with none. */
	vduse_dev_stop_queues(dev);
	/* The next binary finds the kernel's bounce pages, with what is in flight. */
	vduse_umem_release(&dev->umem, &dev->iotlb);
	if (is_reopened)
		d->o->be->close(img);
	r = notify_prepare_exec();
	if (r == 0) {
		r = upgrade_exec(argv, &h);
		notify_exec_failed();
	}
	log_err("live upgrade: executing %s: %s; serving on with this binary", upgrade_exe(),
		strerror(-r));
	if (is_reopened && open_image(d->o, -1, img) < 0) {
		/* As a crash: the device waits for a new daemon, which takes it over. */
		log_err("live upgrade: cannot open the image again: exiting");
		exit(EXIT_FAILURE_RUNTIME);
	}
	r = vduse_dev_resume(dev);
	if (r < 0)
		log_err("live upgrade: restarting the queues of '%s': %s", dev->name, strerror(-r));
	service_ready(&d->svc, c, " (live upgrade failed)");
}

/* --user: the uid, gid and capabilities of a serving daemon.  Returns 1 when dropped now. */
static int drop_privileges(struct options *o)
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
static int start_sandbox(const struct daemon *d, const struct control *c)
{
	const struct options *o = d->o;
	struct sandbox_opts so = {
		.backend_syscalls = o->be->syscalls,
		.nr_backend_syscalls = o->be->nr_syscalls,
		.may_exec = true,
		.may_attach = o->is_attach,
		.may_notify = notify_is_enabled(),
		/* What the guest wrote or the disk holds is never code. */
		.nr_no_exec_fds = 4,
		.no_exec_fds = { d->img->fd, d->state->fd, c->dev->fd, c->dev->ctl_fd },
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
	if (d->is_reexec && sandbox_seccomp_is_active() && !sandbox_seccomp_is_own()) {
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
static int start_landlock(const struct daemon *d)
{
	const struct options *o = d->o;
	struct sandbox_path backend_paths[SANDBOX_MAX_BACKEND_PATHS];
	struct image_spec spec = image_spec_of(o, -1);
	struct sandbox_serving sv = {
		.backend_paths = backend_paths,
		.nr_backend_paths = o->be->landlock_paths ?
			o->be->landlock_paths(&spec, d->img, backend_paths,
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
	if (d->is_reexec)
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

/* The device serves: from here on only what serving needs (a failure stops the daemon). */
static int on_ready(struct control *c, void *opaque)
{
	struct daemon *d = opaque;
	struct options *o = d->o;
	bool must_restart = false;
	int r;

	if (o->user) {
		r = drop_privileges(o);
		if (r < 0)
			return r;
		must_restart = r == 1;
	}
	if (o->is_sandboxed) {
		/* Made before Landlock, which then lets it be written (tests only). */
		if (sandbox_records(o))
			sandbox_record_fd();
		r = start_landlock(d);
		if (r < 0)
			return r;
		must_restart = must_restart || r == 1;
	}
	/*
	 * Queues that served already run in threads made before: as root (and
	 * their io_uring workers, kernel threads that keep the credentials they
	 * were made with), outside the Landlock domain, which covers only
	 * threads made from here on.  Start them again (the in-flight log
	 * carries their requests over).
	 */
	if (must_restart) {
		vduse_dev_stop_queues(c->dev);
		r = vduse_dev_resume(c->dev);
		if (r < 0) {
			log_err("restarting the queues of '%s'%s%s: %s", c->dev->name,
				o->user ? " as user " : "", o->user ? o->user : "", strerror(-r));
			return r;
		}
	}
	r = o->is_sandboxed ? start_sandbox(d, c) : 0;
	if (r == 0)
		service_ready(&d->svc, c, "");
	return r;
}

/* Stopping: flush, destroy, and forget the state of a device that is gone. */
static int teardown(const struct options *o, struct vduse_dev *dev, struct vdb_state *state,
		    const struct image *img)
{
	int code = EXIT_OK;
	int r;

	vduse_dev_stop_queues(dev);
	r = o->be->flush(img);
	if (r < 0) {
		log_err("flushing '%s': %s", o->image, strerror(-r));
		code = EXIT_FAILURE_RUNTIME;
	}
	r = vduse_dev_destroy(dev);
	if (r == -EBUSY) {
		log_err("device '%s' is still attached to the vdpa bus and was not destroyed; "
			"its I/O waits for a new vduse-blkd with the same options, which takes it "
			"over (or detach it with 'vdpa dev del %s' before stopping)", o->name,
			o->name);
		vdb_state_close(state);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r < 0) {
		log_err("destroying device '%s': %s", o->name, strerror(-r));
		vdb_state_close(state);
		return EXIT_FAILURE_RUNTIME;
	}
	log_info("device '%s' destroyed", o->name);
	vdb_state_remove(state);
	return code;
}

int daemon_run(struct options *o, struct handover *handover, char **argv)
{
	struct image img = { .fd = -1 };
	struct blk_dev blk;
	struct vduse_dev dev;
	struct vdb_state state;
	struct device_setup setup;
	struct daemon d = { .o = o, .img = &img, .state = &state,
			   .is_reexec = handover->dev_fd >= 0 };
	const struct backend_ops *be;
	_cleanup_close_ int sfd = -1;
	int r, code = EXIT_FAILURE_RUNTIME;

	service_start(&d.svc, o->name);
	if (handover->dev_fd >= 0)
		log_debug_cat(LOG_CAT_RECOVERY, "live upgrade: handed fds device %d, state %d, image "
			      "%d, control %d; paused %llu ms ago", handover->dev_fd,
			      handover->state_fd, handover->image_fd, handover->ctl_fd,
			      (unsigned long long)(monotonic_ms() - handover->paused_at_ms));
	if (upgrade_save_exe() < 0)
		log_warn("cannot tell this binary's path: SIGHUP (live upgrade) will fail");
	/*
	 * Before the image is opened: a backend's own threads (librbd's
	 * messengers, made by the connect) inherit the mask, so SIGTERM comes
	 * through the signalfd as a stop, never as the default action that
	 * would kill the process without a teardown in one of them.
	 */
	if (block_signals(&sfd) < 0) {
		log_err("setting up signal handling: %s", strerror(errno));
		return EXIT_FAILURE_RUNTIME;
	}
	be = choose_backend(o);
	if (!be)
		return EXIT_FAILURE_RUNTIME;
	o->be = be;
	if (open_image(o, handover->image_fd, &img) < 0)
		return EXIT_FAILURE_RUNTIME;
	if (describe_device(o, &img, &blk) < 0)
		goto out_image;
	r = image_fit_direct(&img, blk.logical_block_size);
	if (r < 0) {
		log_err("reopening image '%s': %s", o->image, strerror(-r));
		goto out_image;
	}
	if (r > 0)
		log_warn("--direct: '%s' needs %u-byte aligned direct I/O but the device's blocks "
			 "are %u bytes: serving it through the page cache instead (--block-size %u "
			 "keeps O_DIRECT)", o->image, img.dio_offset_align, blk.logical_block_size,
			 img.dio_offset_align);
	if (handover->dev_fd < 0)
		log_kernel();
	service_tell(handover->dev_fd >= 0 ? "STATUS=live upgrade: taking over device %s" :
		     "STATUS=setting up device %s (created, or taken over if it exists)", o->name);
	setup = (struct device_setup){
		.name = o->name, .state_dir = o->state_dir, .own_gid = o->run_as.gid, .blk = &blk, .img = &img, .be = be,
		.handover = handover, .state = &state, .dev = &dev,
	};
	/*
	 * While privileged, before a takeover's queues start: the bounce buffer in
	 * our memory (--direct, umem.h) is locked memory.  A live upgrade's new
	 * image keeps the limit the old one set (its filter forbids setting one).
	 */
	if (img.is_direct && !d.is_reexec && vduse_umem_reserve(o->name) < 0)
		log_debug("--direct: cannot raise the locked-memory limit for the bounce buffer");
	if (device_setup(&setup) < 0)
		goto out_image;
	log_info("serving '%s' as /dev/vduse/%s: %llu sectors, %u queue(s) of %u, block size %u, "
		 "backend %s%s%s", o->image, o->name, (unsigned long long)blk.capacity_sectors,
		 blk.num_queues, blk.queue_size, blk.logical_block_size, be->name,
		 blk.is_readonly ? ", read-only" : "", img.is_direct ? ", O_DIRECT" : "");
	if (!o->is_attach && !setup.is_taken_over)
		log_info("attach with: vdpa dev add name %s mgmtdev vduse", o->name);
	log_debug_cat(LOG_CAT_RECOVERY, "%s device '%s', state file in %s", setup.is_taken_over ?
		      "took over" : "created", o->name, o->state_dir);
	service_tell("STATUS=%s device %s%s", setup.is_taken_over ? "took over" : "created",
		     o->name, o->is_attach ? ", attaching it" : "");

	struct ctl_server ctl;
	struct control c = { .name = o->name, .is_attach = o->is_attach,
			     .attach_driver = o->attach_driver, .dev = &dev, .sfd = sfd,
			     .on_ready = on_ready, .on_stopping = on_stopping, .on_beat = on_beat,
			     .beat_ms = service_beat_ms(&d.svc), .opaque = &d,
			     .job = { .done_fd = -1 }, .ctl = &ctl };

	/* The control socket (vduse-blkctl), made before privileges are dropped. */
	r = ctl_server_open(&ctl, o->state_dir, &(struct ctl_target){ .name = o->name,
			    .image_path = o->image, .backend_name = be->name, .dev = &dev,
			    .blk = &blk, .img = &img, .state = &state, .be = be,
			    .get_status = control_status, .status_opaque = &c },
			    o->user ? &o->run_as : NULL, handover->dev_fd >= 0);
	if (r == -EADDRINUSE)
		log_err("control socket %s: a live process listens on it", ctl.path);
	else if (r < 0)
		log_warn("control socket %s: %s: vduse-blkctl cannot reach this daemon", ctl.path,
			 strerror(-r));
	c.has_failed = r == -EADDRINUSE;
	while (!c.has_failed && (r = control_serve(&c)) == CONTROL_RELOAD) {
		if (!test_stall_on_hup())
			live_upgrade(argv, &d, &c, &state, &img);
	}
	on_stopping(&c, &d);
	ctl_server_close(&ctl);
	control_exit(&c);
	code = teardown(o, &dev, &state, &img);
	if (r < 0 || c.has_failed)
		code = EXIT_FAILURE_RUNTIME;
out_image:
	be->close(&img);
	if (code != EXIT_OK)
		service_tell("STATUS=failed: device %s (see the log)", o->name);
	return code;
}