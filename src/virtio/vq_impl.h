/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VQ_IMPL_H
#define VDB_VQ_IMPL_H

/*
 * Inside the virtqueue: what split.c and packed.c implement behind struct vq,
 * and the buffer walk they share (vq.c).
 */

#include "virtio/vq.h"

extern const struct vq_ops vq_split_ops;
extern const struct vq_ops vq_packed_ops;

/* Building one vq_elem from the chain's buffers, in order. */
struct vq_walk {
	unsigned int nr_iov;
	uint32_t nr_bufs;
	bool has_write;
};

static inline void vq_walk_start(struct vq_walk *w, struct vq_elem *elem)
{
	*w = (struct vq_walk){ 0 };
	elem->nr_out = elem->nr_in = 0;
	elem->out_bytes = elem->in_bytes = 0;
	elem->last_in_iova = VQ_NO_STATUS;
	elem->fault = 0;
}


/*
 * Copy the indirect table at @addr/@len into vq->indirect.  Returns 0 with
 * its entry count, -EINVAL (malformed), or the device's own -errno.
 */
int vq_load_indirect(struct vq *vq, uint64_t addr, uint32_t len, uint32_t *ret_size);

/* The chain is malformed: count it, say why.  Returns -EINVAL. */
int vq_chain_error(struct vq *vq, enum vq_err err);

/* The ring is broken: stop serving.  Returns -EIO. */
int vq_ring_error(struct vq *vq, enum vq_err err);


/* One buffer of the chain.  Returns 0, or -EINVAL (malformed: vq->last_err says why). */
static inline int vq_walk_buffer(struct vq *vq, struct vq_walk *w, struct vq_elem *elem, uint64_t addr,
		   uint32_t len, bool is_write, unsigned int max_iov)
{
	unsigned int perm = is_write ? MEM_WRITE : MEM_READ;
	uint64_t end;
	int r;

	if (__builtin_add_overflow(addr, (uint64_t)len, &end))
		return vq_chain_error(vq, VQ_ERR_ADDR_OVERFLOW);
	if (is_write) {
		w->has_write = true;
		if (len)
			elem->last_in_iova = end - 1;
	} else if (w->has_write) {
		/* Even an empty writable buffer ends the readable part. */
		return vq_chain_error(vq, VQ_ERR_READ_AFTER_WRITE);
	}
	if (++w->nr_bufs > vq->max_chain)
		return vq_chain_error(vq, VQ_ERR_TOO_MANY_SEGS);
	/* After a fault of our own, walk on: the chain may still be malformed. */
	if (elem->fault)
		return 0;
	r = mem_to_iov(vq->mem, addr, len, perm, elem->iov, &w->nr_iov, max_iov);
	if (r == -EFAULT)
		return vq_chain_error(vq, VQ_ERR_FAULT);
	if (r < 0) {
		elem->fault = r;
	} else if (is_write) {
		elem->nr_in = w->nr_iov - elem->nr_out;
		elem->in_bytes += len;
	} else {
		elem->nr_out = w->nr_iov;
		elem->out_bytes += len;
	}
	return 0;
}

/* The walk ended: -ENOMEM when the device faulted on a sound chain, else 1. */
static inline int vq_walk_end(struct vq *vq, struct vq_elem *elem)
{
	if (!elem->fault)
		return 1;
	vq->nr_device_faults++;
	return -ENOMEM;
}

/* Load 16 bytes once: two 64-bit loads the compiler may not repeat. */
static inline void vq_load16(const void *src, void *dst)
{
	const uint64_t *s = src;
	uint64_t w[2];

	w[0] = __atomic_load_n(&s[0], __ATOMIC_RELAXED);
	w[1] = __atomic_load_n(&s[1], __ATOMIC_RELAXED);
	__builtin_memcpy(dst, w, sizeof(w));
}

#endif
