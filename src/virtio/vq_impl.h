/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VQ_IMPL_H
#define VDB_VQ_IMPL_H

/*
 * Inside the virtqueue: what split.c and packed.c implement behind struct vq,
 * and the buffer walk they share (vq.c).
 */

#include "vq.h"

struct vq_ops {
	int (*init)(struct vq *vq, const struct vq_state *state);
	void (*exit)(struct vq *vq);
	/* Pointers from the pinned host addresses of the three rings. */
	int (*set_rings)(struct vq *vq, void *desc, void *driver, void *device);
	uint64_t (*ring_bytes)(const struct vq *vq, int which);   /* 0 desc, 1 driver, 2 device */
	int (*set_state)(struct vq *vq, const struct vq_state *state);
	uint16_t (*used_seen)(struct vq *vq, uint16_t published, uint16_t pending);
	int (*pop)(struct vq *vq, struct vq_elem *elem, unsigned int max_iov);
	int (*pop_again)(struct vq *vq, uint16_t head, const struct vring_packed_desc *descs,
			 uint16_t nr_descs, struct vq_elem *elem, unsigned int max_iov);
	void (*push)(struct vq *vq, uint16_t head, uint32_t len_bytes);
	void (*flush)(struct vq *vq);
	bool (*should_notify)(struct vq *vq);
	void (*disable_notify)(struct vq *vq);
	bool (*enable_notify)(struct vq *vq);
	bool (*has_avail)(struct vq *vq);
};

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

/* Returns 0, or -EINVAL (malformed: vq->last_err says why). */
int vq_walk_buffer(struct vq *vq, struct vq_walk *w, struct vq_elem *elem, uint64_t addr,
		   uint32_t len, bool is_write, unsigned int max_iov);

/*
 * Copy the indirect table at @addr/@len into vq->indirect.  Returns 0 with
 * its entry count, -EINVAL (malformed), or the device's own -errno.
 */
int vq_load_indirect(struct vq *vq, uint64_t addr, uint32_t len, uint32_t *ret_size);

/* The chain is malformed: count it, say why.  Returns -EINVAL. */
int vq_chain_error(struct vq *vq, enum vq_err err);

/* The ring is broken: stop serving.  Returns -EIO. */
int vq_ring_error(struct vq *vq, enum vq_err err);

/* The walk ended: -ENOMEM when the device faulted on a sound chain, else 1. */
int vq_walk_end(struct vq *vq, struct vq_elem *elem);

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
