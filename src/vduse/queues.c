// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Queue threads of a VDUSE device: started on DRIVER_OK, stopped on reset.
 * Each has its own kick eventfd, IOTLB view, request slots and backend ring.
 */
#include <errno.h>
#include <linux/vduse.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "vduse_dev.h"

/* Interrupt the driver for this queue: once per batch at most. */
static int queue_notify(struct blk_queue *q, void *opaque)
{
	struct vduse_queue *vq = opaque;
	uint32_t index = q->index;

	return ioctl(vq->dev->fd, VDUSE_VQ_INJECT_IRQ, &index) < 0 ? -errno : 0;
}

static void *queue_thread(void *arg)
{
	struct vduse_queue *vq = arg;
	char name[16];

	snprintf(name, sizeof(name), "vdb-q%u", vq->index);
	pthread_setname_np(pthread_self(), name);
	vq->result = blk_queue_run(&vq->q);
	if (vq->result < 0)
		log_err("queue %u stopped: %s", vq->index, strerror(-vq->result));
	return NULL;
}

static void set_kickfd(struct vduse_queue *vq, int fd)
{
	struct vduse_vq_eventfd e = { .index = vq->index, .fd = fd };

	ioctl(vq->dev->fd, VDUSE_VQ_SETUP_KICKFD, &e);
}

static void queue_teardown(struct vduse_queue *vq)
{
	blk_queue_exit(&vq->q);
	iotlb_view_exit(&vq->view);
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	vq->kick_fd = -1;
}

static int queue_start(struct vduse_queue *vq)
{
	struct vduse_dev *dev = vq->dev;
	struct vduse_vq_info info = { .index = vq->index };
	struct blk_queue_ring ring;
	int r;

	if (ioctl(dev->fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return -errno;
	vq->last_avail_idx = info.split.avail_index;
	if (!info.ready)
		return 0;
	/* Split rings are a power of two in size (virtio 1.2, 2.7), at most what we offered. */
	if (info.num == 0 || info.num > dev->blk->queue_size || (info.num & (info.num - 1))) {
		log_err("queue %u: the driver set size %u; it must be a power of two up to %u",
			vq->index, info.num, dev->blk->queue_size);
		return -EINVAL;
	}
	vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick_fd < 0)
		return -errno;
	r = iotlb_view_init(&vq->view, &dev->iotlb, info.num);
	if (r < 0)
		goto fail;
	ring = (struct blk_queue_ring){
		.num = (uint16_t)info.num,
		.desc_iova = info.desc_addr,
		.avail_iova = info.driver_addr,
		.used_iova = info.device_addr,
		.last_avail_idx = info.split.avail_index,
		.has_event_idx = dev->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX),
	};
	r = blk_queue_init(&vq->q, vq->index, dev->blk, dev->img, dev->be, &vq->view.mem,
			   &ring, vq->kick_fd, queue_notify, vq);
	if (r == -EFAULT || r == -EINVAL)
		log_err("queue %u: rings at desc %#llx, avail %#llx, used %#llx (size %u) are "
			"not mapped or misaligned", vq->index, (unsigned long long)info.desc_addr,
			(unsigned long long)info.driver_addr, (unsigned long long)info.device_addr,
			info.num);
	if (r < 0)
		goto fail;
	/* A kick that came before the fd is delivered when it is set. */
	set_kickfd(vq, vq->kick_fd);
	r = -pthread_create(&vq->thread, NULL, queue_thread, vq);
	if (r < 0) {
		set_kickfd(vq, VDUSE_EVENTFD_DEASSIGN);
		goto fail;
	}
	vq->is_running = true;
	return 0;
fail:
	queue_teardown(vq);
	return r;
}

static void queue_stop(struct vduse_queue *vq)
{
	if (!vq->is_running)
		return;
	blk_queue_stop(&vq->q);
	pthread_join(vq->thread, NULL);
	vq->is_running = false;
	vq->last_avail_idx = vq_last_avail_idx(&vq->q.vq);
	set_kickfd(vq, VDUSE_EVENTFD_DEASSIGN);
	queue_teardown(vq);
}

int vduse_dev_start_queues(struct vduse_dev *dev)
{
	for (uint16_t i = 0; i < dev->nr_queues; i++) {
		int r = queue_start(&dev->queues[i]);

		if (r < 0) {
			log_err("starting queue %u of '%s': %s", i, dev->name, strerror(-r));
			vduse_dev_stop_queues(dev);
			return r;
		}
	}
	return 0;
}

void vduse_dev_stop_queues(struct vduse_dev *dev)
{
	if (!dev->queues)
		return;
	for (uint16_t i = 0; i < dev->nr_queues; i++)
		queue_stop(&dev->queues[i]);
}

uint16_t vduse_queue_avail_index(struct vduse_queue *vq)
{
	if (vq->is_running)
		return vq_last_avail_idx(&vq->q.vq);
	return vq->last_avail_idx;
}
