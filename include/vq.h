/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VQ_H
#define VDB_VQ_H

/*
 * A split virtqueue (virtio 1.2, 2.7), seen from the device.
 *
 * The rings live in driver memory reached through struct mem.  The driver is
 * untrusted: every index, length and address read from the rings is
 * validated, and each descriptor is read exactly once into local memory.
 *
 * A queue is driven by one thread; nothing here locks.  Fields other threads
 * read (last_avail_idx, is_broken, is_unmapped) are stored with relaxed atomics.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "mem.h"

/* Largest queue the device accepts (also the longest legal chain). */
#define VQ_MAX_SIZE 1024

/* Why a chain or the ring was rejected; kept in vq->last_err for tests and stats. */
enum vq_err {
	VQ_ERR_NONE,
	VQ_ERR_AVAIL_IDX,        /* ring: avail.idx moved by more than the queue size */
	VQ_ERR_HEAD_RANGE,       /* ring: head index >= queue size */
	VQ_ERR_NEXT_RANGE,       /* chain: next index outside the table */
	VQ_ERR_LOOP,             /* chain: longer than its table (a loop) */
	VQ_ERR_ADDR_OVERFLOW,    /* chain: addr + len wraps */
	VQ_ERR_FAULT,            /* chain: buffer not mapped, or mapped without the permission */
	VQ_ERR_NESTED_INDIRECT,  /* chain: INDIRECT inside an indirect table */
	VQ_ERR_INDIRECT_LEN,     /* chain: table length 0, not a multiple of 16, or over the limit */
	VQ_ERR_INDIRECT_NEXT,    /* chain: INDIRECT together with NEXT */
	VQ_ERR_READ_AFTER_WRITE, /* chain: device-readable descriptor after a writable one */
	VQ_ERR_TOO_MANY_SEGS,    /* chain: more buffers than the device accepts (vq_accept_chains) */
	VQ_ERR_COUNT,
};

const char *vq_err_str(enum vq_err err);

#define VQ_NO_STATUS UINT64_MAX

/* One popped chain: device-readable iovecs first, then device-writable ones. */
struct vq_elem {
	uint16_t head;
	unsigned int nr_out;     /* readable iovecs: iov[0 .. nr_out) */
	unsigned int nr_in;      /* writable iovecs: iov[nr_out .. nr_out + nr_in) */
	uint64_t out_bytes;
	uint64_t in_bytes;
	struct iovec *iov;       /* provided by the caller */
	uint64_t last_in_iova;   /* IOVA of the last device-writable byte, or VQ_NO_STATUS */
	int fault;               /* vq_pop() returned -ENOMEM: the device's own -errno */
};

struct vq {
	struct mem *mem;
	uint16_t num;                    /* queue size */
	uint16_t last_avail_idx;         /* next avail entry to consume */
	uint16_t used_idx;               /* shadow of used->idx, published by vq_flush() */
	uint16_t signalled_used;         /* used_idx when we last decided about an interrupt */
	bool is_signalled_used_valid;
	bool has_event_idx;
	bool is_broken;                  /* ring state is nonsense: stop serving */
	bool is_unmapped;                /* the rings' memory is gone: touch nothing */
	uint32_t mem_gen;                /* mem generation the ring pointers belong to */
	uint64_t desc_iova, avail_iova, used_iova;
	enum vq_err last_err;
	uint32_t max_chain;              /* buffers in one chain (entries of an indirect table) */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vring_desc *indirect;     /* scratch: an indirect table copied once */
	uint64_t nr_bad_chains;          /* chains rejected so far */
	uint64_t nr_device_faults;       /* chains the device could not translate */
};

/**
 * vq_init() - attach to rings at the given IOVAs
 * @vq: the queue
 * @mem: address space of the rings and buffers
 * @num: queue size (1 .. VQ_MAX_SIZE)
 * @desc_iova, @avail_iova, @used_iova: ring addresses
 * @last_avail_idx: where to resume consuming (VDUSE's split state)
 * @has_event_idx: VIRTIO_RING_F_EVENT_IDX was negotiated
 *
 * Each ring must lie in one host mapping.  used_idx resumes from used->idx.
 * Returns 0, -EINVAL for a bad size or misaligned rings (desc 16, avail 2,
 * used 4 bytes), -EFAULT for unmapped rings, -ENOMEM.
 */
int vq_init(struct vq *vq, struct mem *mem, uint16_t num, uint64_t desc_iova,
	    uint64_t avail_iova, uint64_t used_iova, uint16_t last_avail_idx,
	    bool has_event_idx);

/**
 * vq_remap() - translate the ring addresses again
 * For when the driver remapped memory (the mem generation moved).  On
 * failure vq->is_unmapped is set and nothing may touch the rings until a
 * later vq_remap() succeeds.  Returns 0 or -EFAULT.
 */
int vq_remap(struct vq *vq);

/* vq_mem_moved() - has the mem generation moved since the rings were translated? */
bool vq_mem_moved(const struct vq *vq);

/**
 * vq_accept_chains() - the longest chain the device accepts, in buffers
 * What the device advertised (virtio-blk: seg_max + 2), whatever ring size
 * the driver chose.  vq_init() accepts the ring size.  Returns 0 or -ENOMEM.
 */
int vq_accept_chains(struct vq *vq, uint32_t max_buffers);

/* vq_last_avail_idx() - next avail entry the queue consumes; any thread. */
uint16_t vq_last_avail_idx(const struct vq *vq);

/* vq_exit() - free what vq_init() allocated; NULL-safe and idempotent. */
void vq_exit(struct vq *vq);

/**
 * vq_pop() - take the next available chain
 * @vq: the queue
 * @elem: filled with the chain; @elem->iov must hold @max_iov entries
 * @max_iov: capacity of @elem->iov
 *
 * Returns 1 with a chain in @elem, 0 when the ring is empty,
 * -EINVAL when the chain at @elem->head is malformed (the driver's fault: the
 * caller returns it with vq_push(head, 0); vq->last_err says why), -EIO when
 * the ring itself is broken (vq->is_broken is set; stop serving the queue),
 * or -ENOMEM when the chain is well formed but the device could not reach
 * its buffers (mmap failed, a table is full, more mapping pieces than
 * @max_iov: the device's fault, errno in @elem->fault).  The caller then
 * fails the request where the driver looks for the result: the last
 * writable byte, @elem->last_in_iova.
 * A head outside the table is consumed and skipped: there is nothing to
 * return to the driver.
 */
int vq_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov);

/**
 * vq_pop_head() - take the chain at @head, not from the avail ring
 * For a chain taken before (by a daemon that died): the driver made it
 * available once and it is still the device's.  Returns as vq_pop(), never 0.
 */
int vq_pop_head(struct vq *vq, uint16_t head, struct vq_elem *elem, unsigned int max_iov);

/* vq_push() - record a used entry; the driver sees it after vq_flush(). */
void vq_push(struct vq *vq, uint16_t head, uint32_t len_bytes);

/* vq_flush() - publish every pushed entry (one release store of used->idx). */
void vq_flush(struct vq *vq);

/**
 * vq_should_notify() - does the driver want an interrupt for what was flushed?
 * Honours VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX.
 */
bool vq_should_notify(struct vq *vq);

/* vq_disable_notify() - ask the driver not to kick while we are polling. */
void vq_disable_notify(struct vq *vq);

/**
 * vq_enable_notify() - ask for kicks again
 * Returns true when chains arrived meanwhile: pop again before sleeping,
 * since the driver may have decided not to kick for them.
 */
bool vq_enable_notify(struct vq *vq);

/* vq_has_avail() - true when the driver made chains available we did not pop. */
bool vq_has_avail(struct vq *vq);

#endif
