/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BLK_H
#define VDB_BLK_H

/*
 * virtio-blk (virtio 1.2, 5.2): what the device offers, and how a popped
 * chain becomes a request for a backend and goes back with a status byte.
 */

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

#include "virtio/vq.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE 512u
#define BLK_MAX_DWZ_SEG 16u               /* max_discard_seg / max_write_zeroes_seg */
#define BLK_MAX_DWZ_SECTORS (1u << 22)    /* per segment: 2 GiB */
#define BLK_SEG_MAX_CAP 254u              /* seg_max never exceeds this */
#define BLK_IOV_SLACK 16u                 /* iovecs for header, status and split mappings */

/*
 * What the device is: fixed for its lifetime, shared read-only by every queue,
 * but for the capacity (a resize), read and written through the calls below.
 */
struct blk_dev {
	uint64_t capacity_sectors;        /* in 512-byte sectors: blk_dev_capacity() */
	uint32_t logical_block_size;      /* bytes, 512 .. 4096 */
	uint32_t physical_block_size;     /* bytes, >= logical */
	uint32_t min_io_bytes;
	uint32_t opt_io_bytes;
	uint16_t num_queues;
	uint16_t queue_size;
	bool is_readonly;
	bool has_discard;
	bool has_write_zeroes;
	char serial[VIRTIO_BLK_ID_BYTES]; /* not NUL-terminated when 20 bytes long */
	uint32_t poll_us;                 /* --poll-us: spin for new chains before sleeping */
	uint8_t ring;                     /* --ring: enum vq_ring_choice */
};

/* blk_dev_capacity() - the capacity in sectors now; any thread. */
static inline uint64_t blk_dev_capacity(const struct blk_dev *dev)
{
	return __atomic_load_n(&dev->capacity_sectors, __ATOMIC_RELAXED);
}

/*
 * blk_dev_set_capacity() - resize; the control thread only.  Requests the
 * queues check after it see the new end.
 */
static inline void blk_dev_set_capacity(struct blk_dev *dev, uint64_t nr_sectors)
{
	__atomic_store_n(&dev->capacity_sectors, nr_sectors, __ATOMIC_RELAXED);
}

/* blk_seg_max() - data segments per request we advertise for a queue size. */
uint32_t blk_seg_max(uint16_t queue_size);

/* blk_iov_per_req() - iovecs a request slot needs for a queue size. */
unsigned int blk_iov_per_req(uint16_t queue_size);

/* blk_dev_features() - the virtio feature bits the device offers. */
uint64_t blk_dev_features(const struct blk_dev *dev);

/* blk_dev_config() - fill the config space the driver reads. */
void blk_dev_config(const struct blk_dev *dev, struct virtio_blk_config *cfg);

/* What a backend is asked to do. */
enum blk_op {
	BLK_OP_NONE,           /* nothing: the request completes at once */
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

/* blk_op_name() - "read", "write", ... for messages. */
const char *blk_op_name(enum blk_op op);

struct blk_dwz_seg {
	uint64_t offset_bytes;
	uint64_t len_bytes;
	bool is_unmap;         /* WRITE_ZEROES may deallocate */
};

/*
 * A request: one per popped chain, living in a preallocated per-queue slot.
 * The backend reads the op and its arguments, keeps its progress in @be, and
 * reports one result for the whole request.
 */
struct blk_req {
	struct vq_elem elem;
	enum blk_op op;
	uint8_t status;                  /* decided at parse time when op == BLK_OP_NONE */
	uint8_t *status_ptr;             /* last byte of the device-writable part */
	uint32_t in_len;                 /* used.len on success (bytes written for the driver) */
	uint64_t offset_bytes;           /* READ/WRITE: image offset */
	struct iovec *data_iov;          /* READ/WRITE: the data buffers */
	unsigned int nr_data_iov;
	uint64_t data_bytes;
	unsigned int nr_segs;            /* DISCARD/WRITE_ZEROES */
	struct blk_dwz_seg segs[BLK_MAX_DWZ_SEG];
	void *be_priv;                   /* the backend's req_priv_bytes, per slot */
	struct {                         /* the fd backends' bookkeeping */
		uint64_t done_bytes;
		uint32_t nr_pending;
		int error;
		uint8_t zero_mode;       /* how WRITE_ZEROES was attempted */
		bool is_allocating;      /* io_uring: a fallocate of an image in memory, counted */
		void *bounce;            /* aligned copy of the data, for O_DIRECT */
		uint64_t bounce_bytes;   /* of the data it stands for */
		struct iovec bounce_iov; /* what is left of it to transfer */
	} be;
	uint32_t mem_token;              /* pins the mappings the request uses */
	uint64_t started_ns;             /* CLOCK_MONOTONIC at its start (stats.h) */
	bool is_device_fault;            /* failed by the device, not the driver */
	bool is_mutating;                /* in the backend, may change the image */
	uint16_t slot;                   /* index in the queue's slot array */
};

/**
 * blk_req_parse() - turn a popped chain into a request
 * @dev: the device
 * @req: @req->elem holds the chain
 *
 * Sets @req->op and its arguments.  Requests that can be answered at once
 * (GET_ID, out of range, unsupported, read-only) get op BLK_OP_NONE and their
 * status in @req->status.
 * Returns 0, or -EINVAL when the chain has no room for a header or a status
 * byte: nothing can be reported, the chain goes back with used.len 0.
 */
int blk_req_parse(const struct blk_dev *dev, struct blk_req *req);

/**
 * blk_req_finish() - write the status byte for a finished request
 * @req: the request
 * @res: 0, or the negative errno the backend reported (-EOPNOTSUPP -> UNSUPP,
 *       anything else -> IOERR); ignored for BLK_OP_NONE
 * Returns the used.len to report.
 */
uint32_t blk_req_finish(struct blk_req *req, int res);

#endif
