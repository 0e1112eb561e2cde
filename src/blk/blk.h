/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BLK_H
#define VDB_BLK_H

/*
 * virtio-blk (virtio 1.2, 5.2): what the device offers, and how a popped
 * chain becomes a request for a backend and goes back with a status byte.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

#include "backends/backend.h"
#include "virtio/vq.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE 512u
#define BLK_MAX_DWZ_SEG BACKEND_MAX_SEGS  /* max_discard_seg / max_write_zeroes_seg */
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
	bool is_write_through;             /* nothing volatile to flush: FLUSH not offered */
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

/* What a request asks: one of its backend's operations, or NONE (answered at once). */
#define BLK_OP_NONE BACKEND_OP_NONE
#define BLK_OP_READ BACKEND_OP_READ
#define BLK_OP_WRITE BACKEND_OP_WRITE
#define BLK_OP_FLUSH BACKEND_OP_FLUSH
#define BLK_OP_DISCARD BACKEND_OP_DISCARD
#define BLK_OP_WRITE_ZEROES BACKEND_OP_WRITE_ZEROES
#define blk_op_name backend_op_name

/*
 * A request: one per popped chain, living in a preallocated per-queue slot.
 *
 * Its first member is the request the backend receives (backend.h): op,
 * offset, data buffers, DISCARD/WRITE_ZEROES ranges, the backend's private
 * state.  It is embedded without a name (-fms-extensions, see meson.build),
 * so req->op and req->data_iov read as the request's own; blk_req_io() is
 * what a backend is handed, blk_req_of() what comes back in its events.
 */
struct blk_req {
	struct backend_req;
	struct vq_elem elem;
	uint8_t status;                  /* decided at parse time when op == BLK_OP_NONE */
	uint8_t *status_ptr;             /* last byte of the device-writable part */
	uint32_t in_len;                 /* used.len on success (bytes written for the driver) */
	uint32_t mem_token;              /* pins the mappings the request uses */
	uint64_t started_ns;             /* CLOCK_MONOTONIC at its start (stats.h) */
	bool is_device_fault;            /* failed by the device, not the driver */
	bool is_mutating;                /* in the backend, may change the image */
	uint16_t slot;                   /* index in the queue's slot array */
};

/* blk_req_io() and blk_req_of() convert between the two: the same address. */
_Static_assert(offsetof(struct blk_req, op) == offsetof(struct backend_req, op),
	       "struct backend_req is struct blk_req's first member");

/* blk_req_io() - the request as its backend receives it. */
static inline struct backend_req *blk_req_io(struct blk_req *req)
{
	return (struct backend_req *)req;
}

/* blk_req_of() - the request a backend reported on. */
static inline struct blk_req *blk_req_of(struct backend_req *io)
{
	return (struct blk_req *)io;
}

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
