// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's lifecycle (see daemon.h): setup (what it serves: prepare.c;
 * the device: setup.c), the step into the sandbox once the device serves
 * (confine.c), live upgrade and teardown.  Like main.c it decides
 * policy: the messages and exit codes of a running daemon are chosen here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <linux/vduse.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "ctl/ctl.h"
#include "daemon/confine.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "daemon/prepare.h"
#include "daemon/service.h"
#include "daemon/setup.h"
#include "log.h"
#include "recovery/state.h"
#include "recovery/upgrade.h"
#include "util.h"
#include "vduse/dev.h"
#include "vduse/vdpa.h"

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
	if (is_reopened && prepare_open_image(d->o, -1, img) < 0) {
		/* As a crash: the device waits for a new daemon, which takes it over. */
		log_err("live upgrade: cannot open the image again: exiting");
		exit(EXIT_FAILURE_RUNTIME);
	}
	r = vduse_dev_resume(dev);
	if (r < 0)
		log_err("live upgrade: restarting the queues of '%s': %s", dev->name, strerror(-r));
	service_ready(&d->svc, c, " (live upgrade failed)");
}

/* The device serves: from here on only what serving needs (a failure stops the daemon). */
static int on_ready(struct control *c, void *opaque)
{
	struct daemon *d = opaque;
	struct options *o = d->o;
	bool must_restart = false;
	int r;

	if (o->user) {
		r = confine_drop_privileges(o);
		if (r < 0)
			return r;
		must_restart = r == 1;
	}
	if (o->is_sandboxed) {
		/* Made before Landlock, which then lets it be written (tests only). */
		confine_open_record_file(o);
		r = confine_landlock(o, d->img, d->is_reexec);
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
	r = o->is_sandboxed ? confine_seccomp(o, (int[CONFINE_NO_EXEC_FDS]){ d->img->fd,
			d->state->fd, c->dev->fd, c->dev->ctl_fd }, d->is_reexec) : 0;
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

/*
 * The device exists: serve it, through the control loop (control.h) and
 * the control socket, until a stop; live upgrades on the way.  Returns the
 * exit code, the device torn down.
 */
static int serve(struct daemon *d, struct vduse_dev *dev, struct blk_dev *blk,
		 struct vdb_state *state, struct image *img, int sfd, char **argv)
{
	struct options *o = d->o;
	int r, code;

	struct ctl_server ctl;
	struct control c = { .name = o->name, .is_attach = o->is_attach,
			     .attach_driver = o->attach_driver, .dev = dev, .sfd = sfd,
			     .on_ready = on_ready, .on_stopping = on_stopping, .on_beat = on_beat,
			     .beat_ms = service_beat_ms(&d->svc), .opaque = d,
			     .job = { .done_fd = -1 }, .ctl = &ctl };

	/* The control socket (vduse-blkctl), made before privileges are dropped. */
	r = ctl_server_open(&ctl, o->state_dir, &(struct ctl_target){ .name = o->name,
			    .image_path = o->image, .backend_name = o->be->name, .dev = dev,
			    .blk = blk, .img = img, .state = state, .be = o->be,
			    .get_status = control_status, .status_opaque = &c },
			    o->user ? &o->run_as : NULL, d->is_reexec);
	if (r == -EADDRINUSE)
		log_err("control socket %s: a live process listens on it", ctl.path);
	else if (r < 0)
		log_warn("control socket %s: %s: vduse-blkctl cannot reach this daemon", ctl.path,
			 strerror(-r));
	c.has_failed = r == -EADDRINUSE;
	while (!c.has_failed && (r = control_serve(&c)) == CONTROL_RELOAD) {
		if (!test_stall_on_hup())
			live_upgrade(argv, d, &c, state, img);
	}
	on_stopping(&c, d);
	ctl_server_close(&ctl);
	control_exit(&c);
	code = teardown(o, dev, state, img);
	if (r < 0 || c.has_failed)
		code = EXIT_FAILURE_RUNTIME;
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
	int code = EXIT_FAILURE_RUNTIME;

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
	if (daemon_prepare(o, handover, &img, &blk) < 0)
		goto out;
	be = o->be;
	service_tell(handover->dev_fd >= 0 ? "STATUS=live upgrade: taking over device %s" :
		     "STATUS=setting up device %s (created, or taken over if it exists)", o->name);
	setup = (struct device_setup){
		.name = o->name, .state_dir = o->state_dir, .own_gid = o->run_as.gid, .blk = &blk,
		.img = &img, .be = be, .handover = handover, .state = &state, .dev = &dev,
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

	code = serve(&d, &dev, &blk, &state, &img, sfd, argv);
out_image:
	be->close(&img);
out:
	if (code != EXIT_OK)
		service_tell("STATUS=failed: device %s (see the log)", o->name);
	return code;
}