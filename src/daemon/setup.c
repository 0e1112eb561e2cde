// SPDX-License-Identifier: GPL-2.0-or-later
/* Create a device or take an existing one over (see setup.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "daemon/setup.h"
#include "util.h"

static void explain_create_error(const char *name, int r)
{
	switch (r) {
	case -ENOENT:
	case -ENODEV:
	case -ENXIO:
		log_err("creating VDUSE device '%s': %s is missing: load the vduse module "
			"(modprobe vduse)", name, VDUSE_CONTROL_PATH);
		break;
	case -EEXIST:
		log_err("creating VDUSE device '%s': a device of that name appeared meanwhile "
			"(another vduse-blkd starting?)", name);
		break;
	case -EACCES:
	case -EPERM:
		log_err("creating VDUSE device '%s': permission denied (run as root)", name);
		break;
	default:
		log_err("creating VDUSE device '%s': %s", name, strerror(-r));
		break;
	}
}

/* The kernel's patience with a control message nobody answers, in seconds. */
static unsigned int msg_timeout_s(const char *name)
{
	char path[512], buf[32] = "";
	_cleanup_close_ int fd = -1;
	unsigned int t = 30;

	snprintf(path, sizeof(path), "/sys/class/vduse/%s/msg_timeout", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		sscanf(buf, "%u", &t);
	return t;
}

static int create(struct device_setup *s, const struct vdb_identity *id)
{
	int r = vdb_state_init(s->state, s->name, id);

	if (r < 0) {
		log_err("writing state file %s: %s", s->state->path, strerror(-r));
		return r;
	}
	r = vduse_dev_create(s->dev);
	if (r < 0) {
		explain_create_error(s->name, r);
		vdb_state_remove(s->state);
	}
	return r;
}

static void log_takeover(struct device_setup *s, uint64_t silence_ms)
{
	unsigned int timeout_s = msg_timeout_s(s->name);

	if (s->handover->dev_fd >= 0) {
		log_info("live upgrade: serving '%s' again after %llu ms", s->name,
			 (unsigned long long)(monotonic_ms() - s->handover->paused_at_ms));
		return;
	}
	log_info("taking over device '%s' (last served by pid %d; about %llu.%llu s without a "
		 "daemon)", s->name, vdb_state_last_pid(s->state),
		 (unsigned long long)silence_ms / 1000,
		 (unsigned long long)silence_ms % 1000 / 100);
	if (silence_ms / 1000 >= timeout_s)
		log_warn("'%s' was without a daemon for longer than its message timeout (%u s): "
			 "a reset or other control message from the driver in that time made the "
			 "kernel mark it broken", s->name, timeout_s);
}

static int take_over(struct device_setup *s, const struct vdb_identity *id)
{
	uint64_t silence_ms;
	int r;

	/* --ring auto serves the rings the device was created with, packed or not. */
	if (s->blk->ring == VQ_RING_AUTO)
		s->state->features_either = 1ULL << VIRTIO_F_RING_PACKED;
	r = vdb_state_check(s->state, s->name, id);
	if (r == -EBADMSG) {
		/* An empty file is one we just created: do not leave it behind. */
		if (vdb_state_is_empty(s->state))
			vdb_state_remove(s->state);
		log_err("refusing to take over device '%s': %s", s->name, s->state->why);
	} else if (r < 0) {
		log_err("reading state file %s: %s", s->state->path, strerror(-r));
	}
	if (r < 0)
		return r;
	/* What the device offers is what it was created with; its size is what it was resized to. */
	s->dev->features = vdb_state_features(s->state);
	blk_dev_set_capacity(s->blk, vdb_state_capacity(s->state));
	silence_ms = vdb_state_silence_ms(s->state);
	r = vduse_dev_open(s->dev, s->handover->dev_fd);
	if (r == -EBUSY)
		log_err("refusing to take over device '%s': it is being served by another "
			"process (it has %s/%s open)", s->name, VDUSE_DEV_DIR, s->name);
	else if (r == -ERANGE)
		log_err("refusing to take over device '%s': queue count differs: the device does "
			"not have the %u queue(s) of the options", s->name, s->blk->num_queues);
	else if (r < 0)
		log_err("opening %s/%s: %s", VDUSE_DEV_DIR, s->name, strerror(-r));
	if (r < 0)
		return r;
	vdb_state_claim(s->state);
	r = vduse_dev_resume(s->dev);
	if (r < 0) {
		if (r == -EBADMSG)
			log_err("refusing to take over device '%s': its state file does not fit "
				"the driver's rings (see above)", s->name);
		else if (r == -EPROTO)
			log_err("refusing to take over device '%s': the driver negotiated features "
				"the options do not offer", s->name);
		else
			log_err("resuming device '%s': %s", s->name, strerror(-r));
		/* Not ours after all: leave it, closed, for a daemon that fits. */
		s->dev->is_created = false;
		return r;
	}
	s->is_taken_over = true;
	log_takeover(s, silence_ms);
	return 0;
}

int device_setup(struct device_setup *s)
{
	struct blk_dev *blk = s->blk;
	struct vdb_identity id = {
		.capacity_sectors = blk->capacity_sectors,
		.features = vduse_dev_features(blk),
		.block_size = blk->logical_block_size,
		.nr_queues = blk->num_queues,
		.queue_size = blk->queue_size,
		.is_readonly = blk->is_readonly,
	};
	char node[256];
	int pid, r;

	/* A live upgrade's fds: each what it must be (the state file: vdb_state_open()). */
	snprintf(node, sizeof(node), "%s/%s", VDUSE_DEV_DIR, s->name);
	r = upgrade_check_node(s->handover->dev_fd, node);
	if (r == 0)
		r = upgrade_check_node(s->handover->ctl_fd, VDUSE_CONTROL_PATH);
	if (r < 0) {
		log_err("live upgrade: the fds handed over are not %s and %s: %s", node,
			VDUSE_CONTROL_PATH, strerror(-r));
		return r;
	}
	r = vdb_state_open(s->state, s->state_dir, s->name, s->handover->state_fd,
			   s->own_gid, &pid);
	if (r == -EBUSY) {
		log_err("refusing to take over device '%s': it is being served by another "
			"process (pid %d)", s->name, pid);
		return r;
	}
	if (r == -EBADMSG) {
		log_err("refusing to use the state file of device '%s': %s", s->name,
			s->state->why);
		return r;
	}
	if (r == -EACCES || r == -EPERM) {
		log_err("opening state file %s/%s.state: permission denied (run as root, or "
			"give --state-dir a directory you may write)", s->state_dir, s->name);
		return r;
	}
	if (r < 0) {
		log_err("opening state file %s/%s.state: %s", s->state_dir, s->name,
			strerror(-r));
		return r;
	}
	r = vduse_dev_init(s->dev, s->name, blk, s->img, s->be, s->state);
	if (r == 0) {
		s->dev->ctl_fd = s->handover->ctl_fd;
		if (s->handover->dev_fd < 0 && !vduse_dev_exists(s->name))
			r = create(s, &id);
		else
			r = take_over(s, &id);
	}
	if (r < 0) {
		vduse_dev_destroy(s->dev);
		vdb_state_close(s->state);
	}
	return r;
}
