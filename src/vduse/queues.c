// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Queue threads of a VDUSE device: started on DRIVER_OK, stopped on reset.
 * Each start is a run with its own kick eventfd, IOTLB view, request slots
 * and backend ring.  A reset waits a bounded time for requests in flight;
 * a run whose backend is stalled is abandoned and finishes on its own.
 */
#include <errno.h>
#include <linux/vduse.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vduse/dev.h"

/* Interrupt the driver for this queue: once per batch at most. */
static int queue_notify(struct blk_queue *q, void *opaque)
{
	struct vduse_queue *vq = opaque;
	uint32_t index = vq->index;

	(void)q;
	return ioctl(vq->dev->fd, VDUSE_VQ_INJECT_IRQ, &index) < 0 ? -errno : 0;
}

/*
 * Before serving: wait until no abandoned run of this queue has a request in
 * its backend that can still change the image, so none lands after a newer
 * one.  (Abandoned READs may go on: nobody sees their data.)  Returns 0, or
 * -ECANCELED when the run is stopped first.
 */
static int wait_for_abandoned(struct vduse_queue_run *run)
{
	bool has_waited = false;

	for (struct vduse_queue_run *p = run->prev; p; p = p->prev) {
		for (;;) {
			struct pollfd pfd[2] = {
				{ .fd = p->quiet_fd, .events = POLLIN },
				{ .fd = run->kick_fd, .events = POLLIN },
			};
			eventfd_t v;

			if (blk_queue_is_stopping(run->q))
				return -ECANCELED;
			if (poll(pfd, 2, has_waited ? -1 : 0) < 0 && errno != EINTR)
				return -errno;
			if (pfd[0].revents & POLLIN)
				break;      /* it stays readable: later runs see it too */
			if (!has_waited)
				log_warn("queue %u: waiting for writes abandoned at a reset before "
					 "serving", run->vq->index);
			has_waited = true;
			/* A kick: the first pop of blk_queue_run() will see its chains. */
			if (pfd[1].revents & POLLIN)
				eventfd_read(run->kick_fd, &v);
		}
	}
	if (has_waited)
		log_info("queue %u: the abandoned writes are done; serving", run->vq->index);
	return 0;
}

static void *queue_thread(void *arg)
{
	struct vduse_queue_run *run = arg;
	char name[16];

	snprintf(name, sizeof(name), "vdb-q%u", run->vq->index);
	pthread_setname_np(pthread_self(), name);
	/* A queue thread never executes anything; it must never gain privileges either. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (!run->prev || wait_for_abandoned(run) == 0) {
		run->result = blk_queue_run(run->q);
		if (run->result < 0)
			log_err("queue %u stopped: %s", run->vq->index, strerror(-run->result));
	}
	eventfd_write(run->done_fd, 1);
	return NULL;
}

static void set_kickfd(struct vduse_queue *vq, int fd)
{
	struct vduse_vq_eventfd e = { .index = vq->index, .fd = fd };

	ioctl(vq->dev->fd, VDUSE_VQ_SETUP_KICKFD, &e);
}

/* Free a run whose thread has ended (or never started). */
static void run_free(struct vduse_queue_run *run)
{
	blk_queue_free(run->q);
	iotlb_view_exit(&run->view);
	if (run->kick_fd >= 0)
		close(run->kick_fd);
	if (run->done_fd >= 0)
		close(run->done_fd);
	if (run->quiet_fd >= 0)
		close(run->quiet_fd);
	free(run);
}

static bool run_is_done(const struct vduse_queue_run *run)
{
	struct pollfd pfd = { .fd = run->done_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* Free the abandoned runs in @chain whose requests all came back; returns what is left. */
static struct vduse_queue_run *reap_abandoned(struct vduse_queue_run *chain, bool may_wait)
{
	struct vduse_queue_run **link = &chain;

	while (*link) {
		struct vduse_queue_run *run = *link;

		if (!may_wait && !run_is_done(run)) {
			link = &run->prev;
			continue;
		}
		pthread_join(run->thread, NULL);
		*link = run->prev;
		run_free(run);
	}
	return chain;
}

/* The kernel's record of where the rings are (set by the driver, or 0 at first). */
static struct vq_state queue_info_state(enum vq_layout layout, const struct vduse_vq_info *info)
{
	const struct vduse_vq_state_packed *p = &info->packed;

	if (layout == VQ_LAYOUT_SPLIT)
		return (struct vq_state){ .avail = info->split.avail_index };
	return (struct vq_state){
		.avail = (uint16_t)((p->last_avail_idx & VQ_POS_IDX_MASK) |
				    (p->last_avail_counter ? VQ_POS_WRAP : 0)),
		.used = (uint16_t)((p->last_used_idx & VQ_POS_IDX_MASK) |
				   (p->last_used_counter ? VQ_POS_WRAP : 0)),
	};
}

/*
 * Can the queue serve the rings the driver set up?  A packed ring needs
 * room for chain copies in the state file; a journal left active by a
 * daemon before us (no reset since) must describe these rings, and the
 * queue goes on where it ends (*ret_is_resume).  Returns 0, or -EPROTO,
 * -EBADMSG, -EINVAL (logged).
 */
static int queue_check_rings(struct vduse_queue *vq, const struct vduse_vq_info *info,
			     const struct journal *log, bool *ret_is_resume)
{
	struct vduse_dev *dev = vq->dev;

	*ret_is_resume = false;
	/* A state file of version 1 has no room for a packed ring's chain copies. */
	if (vq->layout == VQ_LAYOUT_PACKED && !vdb_state_keeps_chains(dev->state)) {
		log_err("queue %u: the driver chose a packed ring, which the device's state "
			"file (format version 1) cannot record", vq->index);
		return -EPROTO;
	}
	/* A log left active by a daemon before us (no reset since): go on where it ends. */
	if (log && journal_is_active(log)) {
		if (!journal_matches(log, vq->layout, (uint16_t)info->num, info->desc_addr,
				     info->driver_addr, info->device_addr)) {
			log_err("queue %u: the state file describes other rings than the driver's "
				"(size %u, desc %#llx)", vq->index, info->num,
				(unsigned long long)info->desc_addr);
			return -EBADMSG;
		}
		*ret_is_resume = true;
	}
	/* Split rings are a power of two in size (virtio 1.2, 2.7), at most what we offered. */
	if (info->num == 0 || info->num > dev->blk->queue_size ||
	    (vq->layout == VQ_LAYOUT_SPLIT && (info->num & (info->num - 1)))) {
		log_err("queue %u: the driver set size %u; it must be %s up to %u", vq->index,
			info->num, vq->layout == VQ_LAYOUT_SPLIT ? "a power of two" : "at least 1",
			dev->blk->queue_size);
		return -EINVAL;
	}
	return 0;
}

/*
 * Everything a queue needs before its thread runs: ring addresses, a view,
 * request slots.  Nothing is popped yet, so a DRIVER_OK refused later (another
 * queue failing) has consumed nothing.  *ret_run is NULL for a queue the
 * driver did not enable.
 */
static int queue_prepare(struct vduse_queue *vq, struct vduse_queue_run **ret_run)
{
	struct vduse_dev *dev = vq->dev;
	struct vduse_vq_info info = { .index = vq->index };
	struct journal *log = vdb_state_queue(dev->state, vq->index);
	struct vduse_queue_run *run;
	struct blk_queue_ring ring;
	bool is_resume;
	int r;

	*ret_run = NULL;
	if (ioctl(dev->fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return -errno;
	vq->layout = dev->driver_features & (1ULL << VIRTIO_F_RING_PACKED) ? VQ_LAYOUT_PACKED
									  : VQ_LAYOUT_SPLIT;
	vq->state = queue_info_state(vq->layout, &info);
	if (!info.ready)
		return 0;
	r = queue_check_rings(vq, &info, log, &is_resume);
	if (r < 0)
		return r;
	run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->vq = vq;
	run->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	run->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	run->quiet_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (run->kick_fd < 0 || run->done_fd < 0 || run->quiet_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = iotlb_view_init(&run->view, &dev->iotlb, info.num);
	if (r < 0)
		goto fail;
	ring = (struct blk_queue_ring){
		.cfg = {
			.layout = vq->layout,
			.num = (uint16_t)info.num,
			.desc_iova = info.desc_addr,
			.driver_iova = info.driver_addr,
			.device_iova = info.device_addr,
			.has_event_idx = dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX),
		},
		.state = vq->state,
		.log = log,
		.is_resume = is_resume,
	};
	r = blk_queue_new(vq->index, dev->blk, dev->img, dev->be, &run->view.mem, &ring,
			  run->kick_fd, queue_notify, vq, &run->q);
	if (r == -EFAULT || r == -EINVAL)
		log_err("queue %u: %s rings at desc %#llx, driver %#llx, device %#llx (size %u, "
			"avail %#x, used %#x) are not mapped, misaligned or out of range", vq->index,
			vq_layout_name(vq->layout), (unsigned long long)info.desc_addr,
			(unsigned long long)info.driver_addr, (unsigned long long)info.device_addr,
			info.num, vq->state.avail, vq->state.used);
	if (r < 0)
		goto fail;
	blk_queue_set_quiet_fd(run->q, run->quiet_fd);
	/* Counted across runs, read by the control socket. */
	blk_queue_set_counters(run->q, &vq->stats);
	*ret_run = run;
	return 0;
fail:
	run_free(run);
	return r;
}

/* Start the thread of a prepared run. */
static int queue_launch(struct vduse_queue *vq, struct vduse_queue_run *run)
{
	int r;

	/* Writes abandoned at earlier resets come back before this run serves. */
	vq->abandoned = reap_abandoned(vq->abandoned, false);
	run->prev = vq->abandoned;
	/* A kick that came before the fd is delivered when it is set. */
	set_kickfd(vq, run->kick_fd);
	r = -pthread_create(&run->thread, NULL, queue_thread, run);
	if (r < 0) {
		set_kickfd(vq, VDUSE_EVENTFD_DEASSIGN);
		run->prev = NULL;
		return r;
	}
	vq->abandoned = NULL;
	vq->run = run;
	return 0;
}

/* The run's thread has ended: keep what the next run needs, free the rest. */
static void queue_finish(struct vduse_queue *vq)
{
	struct vduse_queue_run *run = vq->run;

	vq->run = NULL;
	vq_get_state(blk_queue_vq(run->q), &vq->state);
	set_kickfd(vq, VDUSE_EVENTFD_DEASSIGN);
	/* The abandoned runs it knew of are the next run's to wait for. */
	vq->abandoned = run->prev;
	run_free(run);
}

static void queue_stop(struct vduse_queue *vq)
{
	if (!vq->run)
		return;
	blk_queue_stop(vq->run->q);
	pthread_join(vq->run->thread, NULL);
	queue_finish(vq);
}

int vduse_dev_start_queues(struct vduse_dev *dev)
{
	struct vduse_queue_run **runs = calloc(dev->nr_queues, sizeof(*runs));
	uint16_t i;
	int r = 0;

	if (!runs)
		return -ENOMEM;
	/* Every queue ready first, then the threads: a failure leaves the rings untouched. */
	for (i = 0; i < dev->nr_queues && r == 0; i++) {
		r = queue_prepare(&dev->queues[i], &runs[i]);
		if (r < 0)
			log_err("starting queue %u of '%s': %s", i, dev->name, strerror(-r));
	}
	for (i = 0; i < dev->nr_queues && r == 0; i++) {
		if (!runs[i])
			continue;
		r = queue_launch(&dev->queues[i], runs[i]);
		if (r < 0)
			log_err("starting queue %u of '%s': %s", i, dev->name, strerror(-r));
		else
			runs[i] = NULL;
	}
	for (i = 0; i < dev->nr_queues; i++)
		if (runs[i])
			run_free(runs[i]);
	free(runs);
	if (r < 0)
		for (i = 0; i < dev->nr_queues; i++)
			queue_stop(&dev->queues[i]);
	return r;
}

void vduse_dev_stop_queues(struct vduse_dev *dev)
{
	if (!dev->queues)
		return;
	for (uint16_t i = 0; i < dev->nr_queues; i++) {
		struct vduse_queue *vq = &dev->queues[i];

		queue_stop(vq);
		/* The daemon is going away: wait for abandoned requests too. */
		vq->abandoned = reap_abandoned(vq->abandoned, true);
	}
}

static void deadline_after(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Abandon a run that did not drain in time; true when it let go of the rings. */
static bool queue_abandon(struct vduse_queue *vq)
{
	struct vduse_queue_run *run = vq->run;
	struct timespec ms = { 0, 1000000L };

	blk_queue_abandon(run->q);
	for (int i = 0; i < VDUSE_RESET_LET_GO_MS && !blk_queue_has_let_go(run->q); i++)
		nanosleep(&ms, NULL);
	if (!blk_queue_has_let_go(run->q))
		return false;
	/* It heads the chain of abandoned runs; older ones stay behind it. */
	vq->run = NULL;
	vq_get_state(blk_queue_vq(run->q), &vq->state);
	set_kickfd(vq, VDUSE_EVENTFD_DEASSIGN);
	vq->abandoned = run;
	return true;
}

unsigned int vduse_dev_reset_queues(struct vduse_dev *dev)
{
	struct timespec deadline;
	unsigned int nr_abandoned = 0;

	if (!dev->queues)
		return 0;
	/* Ask them all first: they drain side by side. */
	for (uint16_t i = 0; i < dev->nr_queues; i++)
		if (dev->queues[i].run)
			blk_queue_stop(dev->queues[i].run->q);
	deadline_after(&deadline, VDUSE_RESET_DRAIN_MS);
	for (uint16_t i = 0; i < dev->nr_queues; i++) {
		struct vduse_queue *vq = &dev->queues[i];

		if (!vq->run)
			continue;
		if (pthread_timedjoin_np(vq->run->thread, NULL, &deadline) == 0) {
			queue_finish(vq);
			continue;
		}
		if (queue_abandon(vq)) {
			log_warn("queue %u: requests in flight for over %d ms at a reset; abandoned "
				 "them so the reset is answered in time", i, VDUSE_RESET_DRAIN_MS);
			nr_abandoned++;
			continue;
		}
		log_err("queue %u: its thread is stuck in a system call; waiting for it (the kernel "
			"marks the device broken if the reset is not answered in 30 s)", i);
		pthread_join(vq->run->thread, NULL);
		queue_finish(vq);
	}
	return nr_abandoned;
}

/*
 * The layout the kernel reads the answer by is the driver's features now.
 * Asked before the queue ever ran on it (after a reset, before DRIVER_OK),
 * the state is the one the driver set: the kernel's (VDUSE_VQ_GET_INFO).
 */
void vduse_queue_get_state(struct vduse_queue *vq, enum vq_layout *ret_layout,
			   struct vq_state *ret_state)
{
	struct vduse_vq_info info = { .index = vq->index };
	uint64_t features;
	enum vq_layout layout;

	*ret_layout = vq->layout;
	if (vq->run) {
		vq_get_state(blk_queue_vq(vq->run->q), ret_state);
		return;
	}
	*ret_state = vq->state;
	if (ioctl(vq->dev->fd, VDUSE_DEV_GET_FEATURES, &features) < 0)
		return;
	layout = features & (1ULL << VIRTIO_F_RING_PACKED) ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT;
	if (layout == vq->layout || ioctl(vq->dev->fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return;
	*ret_layout = layout;
	*ret_state = queue_info_state(layout, &info);
}
