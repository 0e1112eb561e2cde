// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VDUSE device: created through /dev/vduse/control, then driven by the
 * control messages read from /dev/vduse/NAME.  Messages are answered at once:
 * the kernel marks the device broken when one waits longer than 30 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vduse/dev.h"

#define VQ_ALIGN 4096

uint64_t vduse_dev_features(const struct blk_dev *blk)
{
	uint64_t packed = blk->ring != VQ_RING_SPLIT ? 1ULL << VIRTIO_F_RING_PACKED : 0;

	return blk_dev_features(blk) | packed |
	       1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_F_ACCESS_PLATFORM |
	       1ULL << VIRTIO_RING_F_INDIRECT_DESC |
	       1ULL << VIRTIO_RING_F_EVENT_IDX;
}

static int iotlb_get_fd(void *opaque, uint64_t iova, int *ret_fd, uint64_t *ret_offset,
			uint64_t *ret_start, uint64_t *ret_last, unsigned int *ret_perm)
{
	struct vduse_dev *dev = opaque;
	struct vduse_iotlb_entry e = { .start = iova, .last = iova };
	int fd;

	fd = ioctl(dev->fd, VDUSE_IOTLB_GET_FD, &e);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	*ret_offset = e.offset;
	*ret_start = e.start;
	*ret_last = e.last;
	/* VDUSE_ACCESS_RO/WO/RW are MEM_READ/MEM_WRITE/both. */
	*ret_perm = e.perm & (MEM_READ | MEM_WRITE);
	return 0;
}

/* The IOTLB offers each range it maps: the bounce buffer may be our own memory. */
static int iotlb_adopt(void *opaque, uint64_t start, uint64_t last, unsigned int perm,
		       uint8_t **ret_host, struct iotlb_backing **ret_backing)
{
	struct vduse_dev *dev = opaque;

	return vduse_umem_adopt(&dev->umem, dev->fd, start, last, perm, ret_host, ret_backing);
}

/*
 * O_DIRECT needs memory the kernel can pin: VDUSE's own bounce pages are VM_IO
 * from Linux 6.12.118 on.  Test hook: $VDUSE_BLKD_TEST_NO_UMEM keeps them, so
 * that tests/vm reaches the copying fallback.
 */
static bool wants_umem(const struct image *img)
{
	if (!img->is_direct)
		return false;
#ifdef VDB_TEST_HOOKS
	if (getenv("VDUSE_BLKD_TEST_NO_UMEM"))
		return false;
#endif
	return true;
}

/*
 * Ask the kernel for the highest API version it offers and settle on the
 * lower of that and ours.  The version must be set before VDUSE_CREATE_DEV:
 * a kernel that knows a newer version reads the device config (and later
 * messages) by the version in force on the control fd.
 */
static int api_negotiate(int ctl, uint64_t *ret_kernel)
{
	uint64_t kernel, version;

	if (ioctl(ctl, VDUSE_GET_API_VERSION, &kernel) < 0)
		return -errno;
	version = kernel > VDUSE_DEV_API_VERSION ? VDUSE_DEV_API_VERSION : kernel;
	if (ioctl(ctl, VDUSE_SET_API_VERSION, &version) < 0)
		return -errno;
	if (ret_kernel)
		*ret_kernel = kernel;
	return (int)version;
}

static int open_control(void)
{
	int fd = open(VDUSE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = api_negotiate(fd, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int vduse_api_negotiate(uint64_t *ret_kernel)
{
	_cleanup_close_ int ctl = open(VDUSE_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (ctl < 0)
		return -errno;
	return api_negotiate(ctl, ret_kernel);
}

/*
 * /dev/vduse/control, opened once while the daemon may still open it: the
 * device is destroyed through it after privileges are dropped.
 */
static int dev_control(struct vduse_dev *dev)
{
	if (dev->ctl_fd < 0)
		dev->ctl_fd = open_control();
	return dev->ctl_fd;
}

static int destroy_by_name(struct vduse_dev *dev)
{
	char buf[VDUSE_NAME_MAX] = { 0 };
	int ctl = dev_control(dev);

	if (ctl < 0)
		return ctl;
	snprintf(buf, sizeof(buf), "%s", dev->name);
	return ioctl(ctl, VDUSE_DESTROY_DEV, buf) < 0 ? -errno : 0;
}

static int create_dev(struct vduse_dev *dev)
{
	struct {
		struct vduse_dev_config c;
		struct virtio_blk_config blk;
	} __attribute__((packed)) cfg;
	int ctl = dev_control(dev);

	if (ctl < 0)
		return ctl;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.c.name, sizeof(cfg.c.name), "%s", dev->name);
	cfg.c.device_id = VIRTIO_ID_BLOCK;
	cfg.c.vendor_id = 0;
	cfg.c.features = dev->features;
	cfg.c.vq_num = dev->blk->num_queues;
	cfg.c.vq_align = VQ_ALIGN;
	cfg.c.config_size = sizeof(cfg.blk);
	blk_dev_config(dev->blk, &cfg.blk);
	return ioctl(ctl, VDUSE_CREATE_DEV, &cfg) < 0 ? -errno : 0;
}

/* The node appears through devtmpfs as the ioctl returns; udev may lag a little. */
static int open_dev_node(const char *name)
{
	char path[sizeof(VDUSE_DEV_DIR) + VDUSE_NAME_MAX + 1];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", VDUSE_DEV_DIR, name);
	for (int tries = 0; tries < 100; tries++) {
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0 || errno != ENOENT)
			break;
		usleep(10000);
	}
	return fd < 0 ? -errno : fd;
}

int vduse_dev_init(struct vduse_dev *dev, const char *name, const struct blk_dev *blk,
		   const struct image *img, const struct backend_ops *be, struct vdb_state *state)
{
	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	dev->ctl_fd = -1;
	if (!name[0] || strlen(name) >= VDUSE_NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->blk = blk;
	dev->img = img;
	dev->be = be;
	dev->state = state;
	dev->nr_queues = blk->num_queues;
	dev->features = vduse_dev_features(blk);
	iotlb_init(&dev->iotlb, iotlb_get_fd, dev);
	vduse_umem_init(&dev->umem, wants_umem(img));
	iotlb_set_adopt(&dev->iotlb, iotlb_adopt, dev);
	dev->queues = calloc(dev->nr_queues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (uint16_t i = 0; i < dev->nr_queues; i++)
		dev->queues[i] = (struct vduse_queue){ .dev = dev, .index = i };
	return 0;
}

int vduse_dev_create(struct vduse_dev *dev)
{
	int r;

	r = create_dev(dev);
	if (r < 0)
		return r;
	dev->is_created = true;
	r = open_dev_node(dev->name);
	if (r < 0)
		goto fail;
	dev->fd = r;
	for (uint16_t i = 0; i < dev->nr_queues; i++) {
		struct vduse_vq_config vc = { .index = i, .max_size = dev->blk->queue_size };

		if (ioctl(dev->fd, VDUSE_VQ_SETUP, &vc) < 0) {
			r = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	destroy_by_name(dev);
	dev->is_created = false;
	return r;
}

bool vduse_dev_exists(const char *name)
{
	char path[sizeof(VDUSE_DEV_DIR) + VDUSE_NAME_MAX + 1];

	snprintf(path, sizeof(path), "%s/%s", VDUSE_DEV_DIR, name);
	return access(path, F_OK) == 0;
}

/* Does the kernel's device have as many queues as ours? */
static int check_queue_count(struct vduse_dev *dev)
{
	struct vduse_vq_info info = { .index = dev->nr_queues - 1 };

	if (ioctl(dev->fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return errno == EINVAL ? -ERANGE : -errno;
	info = (struct vduse_vq_info){ .index = dev->nr_queues };
	if (dev->nr_queues < UINT16_MAX && ioctl(dev->fd, VDUSE_VQ_GET_INFO, &info) == 0)
		return -ERANGE;
	return 0;
}

int vduse_dev_open(struct vduse_dev *dev, int fd)
{
	int r;

	if (fd < 0) {
		char path[sizeof(VDUSE_DEV_DIR) + VDUSE_NAME_MAX + 1];

		snprintf(path, sizeof(path), "%s/%s", VDUSE_DEV_DIR, dev->name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return -errno;
	} else {
		/* Handed over: memory the previous binary registered is out of our reach. */
		vduse_umem_forget(fd);
	}
	dev->fd = fd;
	r = check_queue_count(dev);
	if (r < 0)
		goto fail;
	/* Destroying it later needs the control device: open it while we may. */
	dev_control(dev);
	/* Ours from now on: destroyed when we stop. */
	dev->is_created = true;
	return 0;
fail:
	close(dev->fd);
	dev->fd = -1;
	return r;
}

/*
 * --ring packed: the user forbade split rings, so a driver that did not accept
 * VIRTIO_F_RING_PACKED gets no queue served (its DRIVER_OK is refused).
 */
static int check_ring_layout(const struct vduse_dev *dev)
{
	if (dev->blk->ring != VQ_RING_PACKED ||
	    (dev->driver_features & (1ULL << VIRTIO_F_RING_PACKED)))
		return 0;
	log_err("device '%s': the driver did not accept packed rings (VIRTIO_F_RING_PACKED) "
		"and --ring packed forbids split ones: refusing DRIVER_OK", dev->name);
	return -EPROTONOSUPPORT;
}

int vduse_dev_resume(struct vduse_dev *dev)
{
	uint8_t status = dev->state ? vdb_state_status(dev->state) : dev->status;
	int r;

	dev->status = status;
	if (!(status & VIRTIO_CONFIG_S_DRIVER_OK))
		return 0;
	if (ioctl(dev->fd, VDUSE_DEV_GET_FEATURES, &dev->driver_features) < 0)
		return -errno;
	if (dev->driver_features & ~dev->features)
		return -EPROTO;
	r = check_ring_layout(dev);
	if (r < 0)
		return r;
	r = vduse_dev_start_queues(dev);
	return r;
}

int vduse_dev_destroy(struct vduse_dev *dev)
{
	int r = 0;

	if (!dev || !dev->queues)
		return 0;
	vduse_dev_stop_queues(dev);
	vduse_umem_exit(&dev->umem);
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	if (dev->is_created) {
		r = destroy_by_name(dev);
		if (r == 0)
			dev->is_created = false;
	}
	if (dev->ctl_fd >= 0)
		close(dev->ctl_fd);
	dev->ctl_fd = -1;
	iotlb_exit(&dev->iotlb);
	free(dev->queues);
	dev->queues = NULL;
	return r;
}

int vduse_dev_config_changed(struct vduse_dev *dev)
{
	struct {
		struct vduse_config_data hdr;
		struct virtio_blk_config blk;
	} __attribute__((packed)) cfg;

	memset(&cfg, 0, sizeof(cfg));
	blk_dev_config(dev->blk, &cfg.blk);
	cfg.hdr.offset = 0;
	cfg.hdr.length = sizeof(cfg.blk);
	if (ioctl(dev->fd, VDUSE_DEV_SET_CONFIG, &cfg) < 0)
		return -errno;
	/* Without a driver (not DRIVER_OK) there is nobody to tell: it reads the new one. */
	if (ioctl(dev->fd, VDUSE_DEV_INJECT_CONFIG_IRQ) < 0 &&
	    (errno != EINVAL || (dev->status & VIRTIO_CONFIG_S_DRIVER_OK)))
		return 1;
	return 0;
}

/* GET_VQ_STATE: the split avail index, or the packed positions and wrap counters. */
static void answer_vq_state(struct vduse_queue *vq, struct vduse_vq_state *ret)
{
	enum vq_layout layout;
	struct vq_state st;

	vduse_queue_get_state(vq, &layout, &st);
	if (layout == VQ_LAYOUT_SPLIT) {
		ret->split.avail_index = st.avail;
		return;
	}
	ret->packed.last_avail_counter = !!(st.avail & VQ_POS_WRAP);
	ret->packed.last_avail_idx = st.avail & VQ_POS_IDX_MASK;
	ret->packed.last_used_counter = !!(st.used & VQ_POS_WRAP);
	ret->packed.last_used_idx = st.used & VQ_POS_IDX_MASK;
}

static int handle_status(struct vduse_dev *dev, uint8_t status)
{
	int r = 0;

	if (status == 0) {
		/* Reset: nothing may touch driver memory after we answer, and we answer in time. */
		vduse_dev_reset_queues(dev);
		iotlb_invalidate(&dev->iotlb, 0, UINT64_MAX);
		dev->driver_features = 0;
		/* A reset rings start from 0: GET_VQ_STATE must not report the old index. */
		for (uint16_t i = 0; i < dev->nr_queues; i++) {
			struct journal *log = vdb_state_queue(dev->state, i);

			dev->queues[i].layout = VQ_LAYOUT_SPLIT;
			dev->queues[i].state = (struct vq_state){ 0 };
			if (log)
				journal_end(log);
		}
	} else if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		   !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (ioctl(dev->fd, VDUSE_DEV_GET_FEATURES, &dev->driver_features) < 0)
			return -errno;
		r = check_ring_layout(dev);
		if (r < 0)
			return r;
		r = vduse_dev_start_queues(dev);
		if (r < 0)
			return r;
	}
	dev->status = status;
	/* Before the answer: a daemon taking over must know what the driver was told. */
	if (dev->state)
		vdb_state_set_status(dev->state, status);
	return 0;
}

int vduse_dev_handle_msg(struct vduse_dev *dev)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	ssize_t n;
	int r = 0;

	n = read(dev->fd, &req, sizeof(req));
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n != sizeof(req))
		return -EIO;
	dev->nr_msgs++;
	memset(&resp, 0, sizeof(resp));
	resp.request_id = req.request_id;

	switch (req.type) {
	case VDUSE_GET_VQ_STATE:
		if (req.vq_state.index >= dev->nr_queues) {
			r = -EINVAL;
			break;
		}
		resp.vq_state.index = req.vq_state.index;
		answer_vq_state(&dev->queues[req.vq_state.index], &resp.vq_state);
		break;
	case VDUSE_SET_STATUS:
		r = handle_status(dev, req.s.status);
		break;
	case VDUSE_UPDATE_IOTLB:
		iotlb_invalidate(&dev->iotlb, req.iova.start, req.iova.last);
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	resp.result = r < 0 ? VDUSE_REQ_RESULT_FAILED : VDUSE_REQ_RESULT_OK;
	dev->last_msg_error = r;
	dev->last_msg_type = req.type;
	n = write(dev->fd, &resp, sizeof(resp));
	if (n < 0)
		return -errno;
	return n == sizeof(resp) ? 0 : -EIO;   /* a short write sets no errno */
}
