// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control loop (see control.h).  Messages are answered as they come:
 * the kernel marks the device broken when one waits longer than its timeout.
 */
#include <errno.h>
#include <linux/vduse.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon/control.h"
#include "ctl/ctl.h"
#include "log.h"
#include "recovery/state.h"

/* How often the state file hears that the daemon is alive. */
#define HEARTBEAT_MS 1000

static const char *msg_name(uint32_t type)
{
	switch (type) {
	case VDUSE_GET_VQ_STATE:
		return "GET_VQ_STATE";
	case VDUSE_SET_STATUS:
		return "SET_STATUS";
	case VDUSE_UPDATE_IOTLB:
		return "UPDATE_IOTLB";
	default:
		return "unknown message";
	}
}

static void explain_attach_error(const char *name, const struct vdpa_job *job)
{
	const char *drv = vdpa_driver_name(job->drv);
	int r = job->result;

	if (job->step == VDPA_STEP_ADD && r == -ENOENT)
		log_err("attaching '%s': the vdpa netlink family is missing: load the vdpa "
			"module (modprobe vdpa)", name);
	else if (job->step == VDPA_STEP_ADD && (r == -EPERM || r == -EACCES))
		log_err("attaching '%s': permission denied (needs CAP_NET_ADMIN)", name);
	else if (job->step == VDPA_STEP_ADD && r == -EEXIST)
		log_err("attaching '%s': a vdpa device of that name already exists", name);
	else if (job->step == VDPA_STEP_ADD)
		log_err("attaching '%s' (vdpa dev add): %s", name, strerror(-r));
	else if (job->step == VDPA_STEP_BIND && r == -ENOENT)
		log_err("attaching '%s': the %s bus driver is not loaded (modprobe %s)", name,
			drv, drv);
	else if (job->step == VDPA_STEP_BIND)
		log_err("attaching '%s': binding it to %s: %s", name, drv, strerror(-r));
	else
		log_err("attaching '%s': no %s appeared%s", name,
			job->drv == VDPA_DRIVER_VHOST ? "/dev/vhost-vdpa-N" : "/dev/vdX",
			job->drv == VDPA_DRIVER_VIRTIO ? " (is virtio_blk loaded?)" : "");
}

static void log_status_change(struct control *c)
{
	uint8_t status = c->dev->status;

	if (status == c->old_status)
		return;
	if ((status & 0x4 /* DRIVER_OK */) && !(c->old_status & 0x4))
		log_info("driver ready: serving %u queue(s)", c->dev->nr_queues);
	else if (status == 0)
		log_info("driver reset the device");
	c->old_status = status;
}

/* Begin shutting down; returns true when the loop can end now. */
static bool begin_stop(struct control *c)
{
	int r;

	if (!c->is_stopping && c->on_stopping)
		c->on_stopping(c, c->opaque);
	c->is_stopping = true;
	if (c->job.is_running)
		return false;   /* an attach in progress: detach once it is done */
	if (!c->is_attached)
		return true;
	log_debug_cat(LOG_CAT_VDPA, "detaching '%s' (vdpa dev del)", c->name);
	r = vdpa_job_detach(&c->job, c->name);
	if (r < 0) {
		log_err("detaching '%s': %s", c->name, strerror(-r));
		return true;
	}
	return false;
}

/* Set up: tell the caller once.  Returns true when the loop must stop now. */
static bool become_ready(struct control *c)
{
	int r;

	if (c->is_ready)
		return false;
	c->is_ready = true;
	r = c->on_ready ? c->on_ready(c, c->opaque) : 0;
	if (r == 0)
		return false;
	c->has_failed = true;
	return c->is_stopping || begin_stop(c);
}

/* The job is over.  Returns true when the loop can end now. */
static bool job_done(struct control *c)
{
	bool was_detach = c->job.is_detach;
	int r = vdpa_job_finish(&c->job);

	log_debug_cat(LOG_CAT_VDPA, "vdpa %s job of '%s' done: %s", was_detach ? "detach" :
		      "attach", c->name, r < 0 ? strerror(-r) : "ok");
	if (was_detach) {
		if (r < 0)
			log_err("detaching '%s' (vdpa dev del): %s", c->name, strerror(-r));
		else
			log_info("detached '%s' from the vdpa bus", c->name);
		c->is_attached = r < 0;
		return true;
	}
	if (r < 0) {
		explain_attach_error(c->name, &c->job);
		c->has_failed = true;
		c->is_stopping = true;
		return true;
	}
	c->is_attached = true;
	log_info("%s '%s' to %s: %s", c->job.was_attached ? "found" : "attached", c->name,
		 vdpa_driver_name(c->job.drv), c->job.node);
	printf("%s\n", c->job.node);
	fflush(stdout);
	if (c->is_stopping)
		return begin_stop(c);
	return become_ready(c);
}

/*
 * The kernel marked the device broken (a control message went unanswered
 * for its timeout): nothing can use it again.  Detach what we attached, so
 * that its disk goes away and a new daemon can create the device again,
 * then exit with an error.  Returns true when the loop can end now.
 */
static bool device_broken(struct control *c)
{
	log_err("the kernel marked device '%s' broken (a control message went "
		"unanswered); it must be recreated", c->dev->name);
	c->is_broken = true;
	c->has_failed = true;
	return c->is_stopping || begin_stop(c);
}

/* A signal: SIGHUP asks for a live upgrade, the others for a stop. */
static int control_signal(struct control *c, bool *ret_end)
{
	struct signalfd_siginfo si;

	*ret_end = false;
	if (read(c->sfd, &si, sizeof(si)) != sizeof(si))
		return CONTROL_STOP;
	if (si.ssi_signo == SIGHUP) {
		if (c->is_stopping || c->job.is_running) {
			log_warn("SIGHUP received while %s: no live upgrade now",
				 c->is_stopping ? "stopping" : "attaching");
			return CONTROL_STOP;
		}
		*ret_end = true;
		return CONTROL_RELOAD;
	}
	log_info("%s received: shutting down", strsignal((int)si.ssi_signo));
	*ret_end = !c->is_stopping && begin_stop(c);
	return CONTROL_STOP;
}

void control_status(void *opaque, struct ctl_device_status *ret)
{
	const struct control *c = opaque;

	*ret = (struct ctl_device_status){
		.is_broken = c->is_broken, .is_stopping = c->is_stopping,
		.attached_node = c->is_attached && c->job.node[0] ? c->job.node : NULL,
	};
}

void control_exit(struct control *c)
{
	vdpa_job_finish(&c->job);
}

int control_serve(struct control *c)
{
	struct vduse_dev *dev = c->dev;

	c->old_status = dev->status;
	/* Taken over already attached: the job adopts the attachment and finds the node. */
	if (c->is_attach && !c->is_attached) {
		int r;

		log_debug_cat(LOG_CAT_VDPA, "attaching '%s' to %s (vdpa dev add)", c->name,
			      vdpa_driver_name(c->attach_driver));
		r = vdpa_job_attach(&c->job, c->name, c->attach_driver);

		if (r < 0) {
			log_err("attaching '%s': %s", c->name, strerror(-r));
			return r;
		}
	} else if (become_ready(c)) {
		return CONTROL_STOP;
	}
	for (;;) {
		struct pollfd pfd[3 + CTL_NR_POLLFDS] = {
			{ .fd = c->is_broken ? -1 : dev->fd, .events = POLLIN },
			{ .fd = c->sfd, .events = POLLIN },
			{ .fd = c->job.is_running ? c->job.done_fd : -1, .events = POLLIN },
		};
		unsigned int nr_ctl = ctl_server_pollfds(c->ctl, pfd + 3);
		/* The heartbeat's timeout also ends control socket clients that stall. */
		int timeout_ms = dev->state || nr_ctl ? HEARTBEAT_MS : -1;
		int r;

		if (c->beat_ms && (timeout_ms < 0 || c->beat_ms < (unsigned int)timeout_ms))
			timeout_ms = (int)c->beat_ms;
		vdb_state_beat(dev->state);
		if (c->on_beat)
			c->on_beat(c, c->opaque);
		if (poll(pfd, 3 + nr_ctl, timeout_ms) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents & POLLERR) {
			if (device_broken(c))
				return -EIO;
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			r = vduse_dev_handle_msg(dev);
			/* Answered too late: the kernel gave up on the message. */
			if (r == -ENOENT) {
				if (device_broken(c))
					return -EIO;
				continue;
			}
			if (r < 0 && r != -EAGAIN) {
				log_err("reading control messages of '%s': %s", dev->name,
					strerror(-r));
				return r;
			}
			if (r == 0 && dev->last_msg_error)
				log_err("%s refused: %s", msg_name(dev->last_msg_type),
					strerror(-dev->last_msg_error));
			else if (r == 0)
				log_debug_cat(LOG_CAT_VDUSE, "%s answered (device status 0x%x)",
					      msg_name(dev->last_msg_type), dev->status);
			log_status_change(c);
		}
		ctl_server_handle(c->ctl, pfd + 3, nr_ctl);
		if ((pfd[2].revents & POLLIN) && job_done(c))
			return 0;
		if (pfd[1].revents & POLLIN) {
			bool is_end;

			r = control_signal(c, &is_end);
			if (is_end)
				return r;
		}
	}
}

