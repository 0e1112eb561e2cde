// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Resizing the device (see ctl.h): the control socket's resize command,
 * and following an image someone else resized (an rbd header watch).
 *
 * The control loop answers the kernel's messages and pings the watchdog;
 * nothing that can wait for a disk or a cluster may run on it.  What can
 * (ftruncate, BLKGETSIZE64, rbd_resize, rbd_get_size) runs in a job
 * thread; the loop changes the device (capacity, state file, config space,
 * the driver's interrupt) before the job for a shrink, after it for a
 * grow, and replies once the job is over.  One job at a time.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "log.h"

/* The job thread: only the backend's slow calls, nothing the loop reads meanwhile. */
static void *job_thread(void *arg)
{
	struct ctl_resize *rz = arg;

	if (rz->is_follow)
		rz->result = rz->be->get_size(rz->img, &rz->image_bytes);
	else
		rz->result = rz->be->resize(rz->img, rz->new_sectors << BLK_SECTOR_SHIFT,
					    rz->new_sectors < rz->old_sectors, &rz->why);
	eventfd_write(rz->done_fd, 1);
	return NULL;
}

static int job_start(struct ctl_resize *rz)
{
	pthread_t t;
	int r;

	r = pthread_create(&t, NULL, job_thread, rz);
	if (r)
		return -r;
	rz->thread = (unsigned long)t;
	rz->is_running = true;
	return 0;
}

static void job_join(struct ctl_resize *rz)
{
	uint64_t v;

	if (!rz->is_running)
		return;
	pthread_join((pthread_t)rz->thread, NULL);
	eventfd_read(rz->done_fd, &v);
	rz->is_running = false;
}

/*
 * The device has @sectors now: every queue checks requests against it, a
 * daemon taking the device over finds it in the state file, and the driver
 * is told.  Returns 0, 1 when the driver could not be interrupted (it
 * reads the new size later), or -errno (nothing changed).
 */
static int set_capacity(struct ctl_target *t, uint64_t sectors)
{
	uint64_t old = blk_dev_capacity(t->blk);
	int r;

	blk_dev_set_capacity(t->blk, sectors);
	t->img->size_bytes = sectors << BLK_SECTOR_SHIFT;
	vdb_state_set_capacity(t->state, sectors);
	r = t->config_changed ? t->config_changed(t->dev) : vduse_dev_config_changed(t->dev);
	if (r < 0) {
		blk_dev_set_capacity(t->blk, old);
		t->img->size_bytes = old << BLK_SECTOR_SHIFT;
		vdb_state_set_capacity(t->state, old);
		return r;
	}
	if (r == 1)
		log_warn("resizing '%s': the driver could not be interrupted; it sees the new "
			 "size when it reads the config space again", t->name);
	return r;
}

static char *capacity_reply(const struct ctl_target *t)
{
	struct json_object *obj = json_object_new_object();
	uint64_t sectors = blk_dev_capacity(t->blk);

	if (!obj)
		return NULL;
	json_object_object_add(obj, "capacity_bytes",
			       json_object_new_uint64(sectors << BLK_SECTOR_SHIFT));
	json_object_object_add(obj, "capacity_sectors", json_object_new_uint64(sectors));
	return ctl_reply_ok(obj);
}

#define CONFIG_WHY "updating the config space (VDUSE_DEV_SET_CONFIG, INJECT_CONFIG_IRQ)"

char *ctl_resize_start(struct ctl_resize *rz, struct ctl_target *t,
		       const struct ctl_request *req, bool *ret_is_later)
{
	uint64_t old_sectors = blk_dev_capacity(t->blk);
	uint64_t new_sectors = req->size_bytes >> BLK_SECTOR_SHIFT;
	int r;

	*ret_is_later = false;
	if (t->blk->is_readonly)
		return ctl_reply_error(-EROFS, "the device is read-only");
	if (req->size_bytes % t->blk->logical_block_size)
		return ctl_reply_error(-EINVAL, "the size is not a multiple of the device's "
				       "logical block size");
	if (new_sectors < old_sectors && !req->is_shrink)
		return ctl_reply_error(-EINVAL, "the size is smaller than the device: shrinking "
				       "loses data, ask with --shrink");
	if (new_sectors == old_sectors)
		return capacity_reply(t);
	/* Known before anything changes: a backend that cannot resize changes nothing. */
	if (!t->be || !t->be->resize)
		return ctl_reply_error(-EOPNOTSUPP, "this backend's images cannot be resized");
	/* Reading the size after a watch event (maybe our own resize's): this one waits its turn. */
	if (rz->is_running && rz->is_follow && !rz->has_waiting_req) {
		rz->has_waiting_req = true;
		rz->waiting_req = *req;
		*ret_is_later = true;
		return NULL;
	}
	if (rz->is_running)
		return ctl_reply_error(-EBUSY, "a resize is in progress");
	rz->is_follow = false;
	rz->be = t->be;
	rz->img = t->img;
	rz->old_sectors = old_sectors;
	rz->new_sectors = new_sectors;
	rz->why = NULL;
	/* A shrink: the driver stops using the end before the image loses it. */
	if (new_sectors < old_sectors) {
		r = set_capacity(t, new_sectors);
		if (r < 0) {
			log_err("resizing '%s' to %llu bytes: %s: %s", t->name,
				(unsigned long long)req->size_bytes, CONFIG_WHY, strerror(-r));
			return ctl_reply_error(r, CONFIG_WHY);
		}
	}
	r = job_start(rz);
	if (r < 0) {
		if (new_sectors < old_sectors)
			set_capacity(t, old_sectors);
		return ctl_reply_error(r, "starting the resize");
	}
	*ret_is_later = true;
	return NULL;
}

static char *resize_done(struct ctl_resize *rz, struct ctl_target *t)
{
	uint64_t old_bytes = rz->old_sectors << BLK_SECTOR_SHIFT;
	uint64_t new_bytes = rz->new_sectors << BLK_SECTOR_SHIFT;
	bool is_shrink = rz->new_sectors < rz->old_sectors;
	int r = rz->result;

	if (r < 0) {
		/* The image did not shrink: the device goes back to the size it still has. */
		if (is_shrink)
			set_capacity(t, rz->old_sectors);
		log_err("resizing '%s' to %llu bytes: %s: %s", t->name,
			(unsigned long long)new_bytes, rz->why, strerror(-r));
		return ctl_reply_error(r, rz->why);
	}
	if (!is_shrink) {
		r = set_capacity(t, rz->new_sectors);
		if (r < 0) {
			/* The driver did not hear of it: serve the old size (a grown image is harmless). */
			log_err("resizing '%s' to %llu bytes: %s: %s", t->name,
				(unsigned long long)new_bytes, CONFIG_WHY, strerror(-r));
			return ctl_reply_error(r, CONFIG_WHY);
		}
	}
	log_info("resized '%s' from %llu to %llu bytes", t->name, (unsigned long long)old_bytes,
		 (unsigned long long)new_bytes);
	return capacity_reply(t);
}

/* Someone else resized the image: the device takes its size, in whole blocks. */
static void follow_done(struct ctl_resize *rz, struct ctl_target *t)
{
	uint64_t bytes = rz->image_bytes - rz->image_bytes % t->blk->logical_block_size;
	uint64_t sectors = bytes >> BLK_SECTOR_SHIFT, old = blk_dev_capacity(t->blk);
	int r;

	if (rz->result < 0) {
		log_warn("'%s': reading the image's size after it changed: %s", t->name,
			 strerror(-rz->result));
		return;
	}
	if (sectors == old || sectors == 0)
		return;
	r = set_capacity(t, sectors);
	if (r < 0)
		log_err("'%s': the image was resized to %llu bytes, but the device could not "
			"follow: %s: %s", t->name, (unsigned long long)rz->image_bytes, CONFIG_WHY,
			strerror(-r));
	else
		log_info("'%s': the image was resized to %llu bytes elsewhere: the device "
			 "follows, from %llu to %llu bytes", t->name,
			 (unsigned long long)rz->image_bytes, (unsigned long long)old << BLK_SECTOR_SHIFT,
			 (unsigned long long)bytes);
}

static void follow_start(struct ctl_resize *rz, struct ctl_target *t)
{
	rz->is_follow_pending = false;
	rz->is_follow = true;
	rz->be = t->be;
	rz->img = t->img;
	rz->image_bytes = 0;
	if (job_start(rz) < 0)
		rz->is_follow_pending = true;     /* at the next event */
}

char *ctl_resize_done(struct ctl_resize *rz, struct ctl_target *t, bool *ret_has_reply)
{
	char *reply = NULL;

	*ret_has_reply = false;
	if (!rz->is_running)
		return NULL;
	job_join(rz);
	if (rz->is_follow) {
		follow_done(rz, t);
	} else {
		reply = resize_done(rz, t);
		*ret_has_reply = true;
	}
	if (rz->has_waiting_req) {
		bool is_later;

		/* The request that waited for the size: its reply now, or when its job ends. */
		rz->has_waiting_req = false;
		reply = ctl_resize_start(rz, t, &rz->waiting_req, &is_later);
		*ret_has_reply = !is_later;
		return reply;
	}
	if (rz->is_follow_pending)
		follow_start(rz, t);
	return reply;
}

void ctl_resize_watch_event(struct ctl_resize *rz, struct ctl_target *t)
{
	uint64_t v;

	eventfd_read(rz->watch_fd, &v);
	if (rz->is_running)
		rz->is_follow_pending = true;    /* after the job that runs now */
	else
		follow_start(rz, t);
}

int ctl_resize_init(struct ctl_resize *rz, struct ctl_target *t)
{
	memset(rz, 0, sizeof(*rz));
	rz->watch_fd = -1;
	rz->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rz->done_fd < 0)
		return -errno;
	if (!t->be || !t->be->watch_size || !t->be->get_size)
		return 0;
	rz->watch_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rz->watch_fd < 0)
		return -errno;
	if (t->be->watch_size(t->img, rz->watch_fd) < 0) {
		close(rz->watch_fd);
		rz->watch_fd = -1;
	}
	return 0;
}

void ctl_resize_exit(struct ctl_resize *rz, struct ctl_target *t)
{
	job_join(rz);
	if (rz->watch_fd >= 0 && t->be && t->be->unwatch_size)
		t->be->unwatch_size(t->img);
	if (rz->watch_fd >= 0)
		close(rz->watch_fd);
	if (rz->done_fd >= 0)
		close(rz->done_fd);
	rz->watch_fd = rz->done_fd = -1;
}
