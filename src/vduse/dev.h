/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VDUSE_DEV_H
#define VDB_VDUSE_DEV_H

/*
 * A VDUSE virtio-blk device: creation through /dev/vduse/control, the
 * control messages of /dev/vduse/NAME, and one thread per virtqueue.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "vduse/iotlb.h"
#include "blk/queue.h"
#include "recovery/state.h"
#include "vduse/umem.h"

#define VDUSE_CONTROL_PATH "/dev/vduse/control"
#define VDUSE_DEV_DIR "/dev/vduse"

/* How long a reset waits for requests in flight before it abandons them. */
#define VDUSE_RESET_DRAIN_MS 3000
/* How long an abandoned queue thread may take to let go of the rings. */
#define VDUSE_RESET_LET_GO_MS 2000

/*
 * One start of a queue, from DRIVER_OK to its stop: its thread, kick eventfd,
 * IOTLB view and request slots.  A run abandoned at a reset lives on, unseen
 * by the driver, until its backend returns.  The next run of the same queue
 * serves nothing while an abandoned run still has a request in the backend
 * that can change the image: no new request may overtake an old write.
 */
struct vduse_queue_run {
	struct vduse_queue *vq;
	int kick_fd;
	int done_fd;                  /* eventfd: the thread has ended */
	int quiet_fd;                 /* eventfd: abandoned, no write left in the backend */
	pthread_t thread;
	int result;
	struct vduse_queue_run *prev; /* older abandoned runs, newest first */
	struct iotlb_view view;
	struct blk_queue *q;
};

struct vduse_queue {
	struct vduse_dev *dev;
	uint16_t index;
	enum vq_layout layout;        /* of the last run */
	struct vq_state state;        /* saved when the queue stops (GET_VQ_STATE) */
	struct vduse_queue_run *run;  /* serving, or NULL */
	struct vduse_queue_run *abandoned; /* runs let go of at resets, newest first */
	struct blk_stats stats;       /* written by the serving run's thread (stats.h) */
};

struct vduse_dev {
	char name[256];
	int fd;                       /* /dev/vduse/NAME, -1 when closed */
	int ctl_fd;                   /* /dev/vduse/control, kept to destroy the device, or -1 */
	bool is_created;              /* ours to destroy: created, or taken over */
	struct vdb_state *state;      /* its state file, or NULL */
	uint64_t features;            /* offered */
	uint64_t driver_features;     /* negotiated, valid after FEATURES_OK */
	uint8_t status;
	const struct blk_dev *blk;
	const struct image *img;
	const struct backend_ops *be;
	struct iotlb iotlb;
	struct vduse_umem umem;       /* the bounce buffer in our memory (--direct) */
	uint16_t nr_queues;
	struct vduse_queue *queues;
	uint64_t nr_msgs;
	uint32_t last_msg_type;       /* for the caller's log */
	int last_msg_error;           /* 0, or why the last message was refused */
};

/* The highest VDUSE API version this daemon implements (the kernel's 0). */
#define VDUSE_DEV_API_VERSION 0ULL

/**
 * vduse_api_negotiate() - the VDUSE API version the kernel and we agree on
 * @ret_kernel: if not NULL, the highest version the kernel offers
 *
 * Opens /dev/vduse/control, reads the kernel's version and sets the lower of
 * it and VDUSE_DEV_API_VERSION, as every control fd this module opens does.
 *
 * Return: the version in use (>= 0), or -ENOENT (no vduse module), -EACCES,
 * -EINVAL (the kernel refused the version) and other errnos of open/ioctl.
 */
int vduse_api_negotiate(uint64_t *ret_kernel);

/* vduse_dev_features() - virtio-blk features plus the transport bits VDUSE needs. */
uint64_t vduse_dev_features(const struct blk_dev *blk);

/**
 * vduse_dev_init() - describe the device; nothing is asked of the kernel yet
 * @dev: filled in
 * @name: device name (1..255 bytes)
 * @blk, @img, @be: what the queues serve; must outlive the device
 * @state: its state file (acknowledged status, in-flight logs), or NULL
 * Returns 0, -EINVAL (bad name) or -ENOMEM.  vduse_dev_destroy() frees it.
 */
int vduse_dev_init(struct vduse_dev *dev, const char *name, const struct blk_dev *blk,
		   const struct image *img, const struct backend_ops *be, struct vdb_state *state);

/**
 * vduse_dev_create() - create /dev/vduse/NAME, open it and set its queues up
 * Returns 0, or -errno: -ENOENT (no /dev/vduse/control: module not loaded),
 * -EEXIST (name in use), -EACCES/-EPERM, -EINVAL (the kernel refused the
 * configuration).  On failure nothing is left behind.
 */
int vduse_dev_create(struct vduse_dev *dev);

/* vduse_dev_exists() - is there a VDUSE device of this name (/dev/vduse/NAME)? */
bool vduse_dev_exists(const char *name);

/**
 * vduse_dev_open() - take over a device that exists: a restart or a re-exec
 * @fd: /dev/vduse/NAME handed over by a re-exec, or -1 to open it
 *
 * Also opens /dev/vduse/control unless dev->ctl_fd was handed over too: the
 * device is destroyed through it, maybe after privileges are gone.
 * The kernel sends again the control messages nobody answered.  Returns 0;
 * -EBUSY when another process has the device open; -ERANGE when its queue
 * count is not ours; other -errno of open/ioctl.  Then vduse_dev_resume().
 */
int vduse_dev_open(struct vduse_dev *dev, int fd);

/**
 * vduse_dev_resume() - serve again from the state file's status
 * If the driver had set DRIVER_OK, its queues start where their in-flight
 * logs say, running again what was in flight.  Returns 0; -EPROTO when the
 * driver's features are not a subset of ours; -EBADMSG when a log does not
 * fit its rings (logged); other -errno.
 */
int vduse_dev_resume(struct vduse_dev *dev);

/**
 * vduse_dev_handle_msg() - read and answer one control message
 * Call when dev->fd is readable.  Returns 0, -EAGAIN when there was none,
 * or -errno when the device fd failed.
 */
int vduse_dev_handle_msg(struct vduse_dev *dev);

/**
 * vduse_dev_start_queues() - start a thread for every ready queue (DRIVER_OK)
 * Reads ring addresses with VDUSE_VQ_GET_INFO, maps them and hands the
 * kernel a kick eventfd.  On failure no queue is left running.
 */
int vduse_dev_start_queues(struct vduse_dev *dev);

/* vduse_queue_get_state() - where the queue is in its rings (GET_VQ_STATE). */
void vduse_queue_get_state(struct vduse_queue *vq, enum vq_layout *ret_layout,
			   struct vq_state *ret_state);

/* vduse_dev_stop_queues() - stop every queue thread, draining in-flight requests. */
void vduse_dev_stop_queues(struct vduse_dev *dev);

/**
 * vduse_dev_reset_queues() - stop every queue for a reset, in bounded time
 * Requests in flight get VDUSE_RESET_DRAIN_MS to complete.  A queue whose
 * backend is slower is abandoned (blk_queue_abandon()): it touches the
 * driver's rings and memory no more, and its requests finish unseen.  The
 * kernel marks a device broken when a reset is not answered in 30 s.
 * Returns the number of queues abandoned.
 */
unsigned int vduse_dev_reset_queues(struct vduse_dev *dev);

/**
 * vduse_dev_config_changed() - hand the kernel the config space of dev->blk
 * again (VDUSE_DEV_SET_CONFIG) and interrupt the driver so that it reads it
 * (VDUSE_DEV_INJECT_CONFIG_IRQ): after a resize.  Returns 0; 1 when the
 * config changed but the driver could not be interrupted (it sees the new
 * one when it reads it again); -errno when the config did not change.
 */
int vduse_dev_config_changed(struct vduse_dev *dev);

/**
 * vduse_dev_destroy() - stop queues, close the device and destroy it
 * Returns 0 or -EBUSY when the device is still attached to the vdpa bus (it
 * is then left to the kernel, closed); other -errno from VDUSE_DESTROY_DEV.
 */
int vduse_dev_destroy(struct vduse_dev *dev);

#endif
