// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Split virtqueue (virtio 1.2, 2.7), device side.  Everything read from the
 * rings is driver input: indices are range-checked, each descriptor is loaded
 * once into a local copy, and chains are bounded by their table size.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio/vq_impl.h"

/* Ring layout (virtio 1.2, 2.7): used_event follows avail->ring, avail_event follows used->ring. */
static inline uint16_t *used_event_ptr(struct vq *vq)
{
	return &vq->split.avail->ring[vq->num];
}

static inline uint16_t *avail_event_ptr(struct vq *vq)
{
	return (uint16_t *)&vq->split.used->ring[vq->num];
}

static inline uint16_t load_avail_idx(struct vq *vq)
{
	return le16toh(__atomic_load_n(&vq->split.avail->idx, __ATOMIC_ACQUIRE));
}

static int split_init(struct vq *vq, const struct vq_state *state)
{
	(void)state;
	/* Aligned for the atomics (virtio 1.2, 2.7): 16, 2, 4. */
	if (vq->desc_iova % 16 || vq->driver_iova % 2 || vq->device_iova % 4)
		return -EINVAL;
	return 0;
}

static void split_exit(struct vq *vq)
{
	(void)vq;
}

static uint64_t split_ring_bytes(const struct vq *vq, int which)
{
	switch (which) {
	case 0:
		return 16ULL * vq->num;
	case 1:
		return 6ULL + 2ULL * vq->num;
	default:
		return 6ULL + 8ULL * vq->num;
	}
}

static int split_set_rings(struct vq *vq, void *desc, void *driver, void *device)
{
	if ((uintptr_t)desc % 16 || (uintptr_t)driver % 2 || (uintptr_t)device % 4)
		return -EFAULT;
	vq->split.desc = desc;
	vq->split.avail = driver;
	vq->split.used = device;
	return 0;
}

/* The avail index to resume from; used goes on from the ring's used->idx. */
static int split_set_state(struct vq *vq, const struct vq_state *state)
{
	uint16_t used = le16toh(__atomic_load_n(&vq->split.used->idx, __ATOMIC_RELAXED));

	__atomic_store_n(&vq->state.avail, state->avail, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->state.used, used, __ATOMIC_RELAXED);
	vq->signalled_used = used;
	vq->has_signalled = false;
	return 0;
}

static uint16_t split_used_seen(struct vq *vq, uint16_t published, uint16_t pending)
{
	(void)published;
	(void)pending;
	return le16toh(__atomic_load_n(&vq->split.used->idx, __ATOMIC_RELAXED));
}

/* Only the queue's thread writes it; GET_VQ_STATE reads it from another. */
static void consume_avail(struct vq *vq)
{
	__atomic_store_n(&vq->state.avail, (uint16_t)(vq->state.avail + 1), __ATOMIC_RELAXED);
}

/* The chain at @head, read from the table (vq_pop_again(): the driver left it there). */
static int split_pop_again(struct vq *vq, uint16_t head, struct vq_elem *elem,
			   unsigned int max_iov)
{
	const struct vring_desc *table = vq->split.desc;
	uint32_t table_size = vq->num, seen = 0;
	struct vq_walk w;
	bool is_indirect = false;
	uint16_t i;
	int r;

	if (vq->is_broken)
		return -EIO;
	if (head >= vq->num)
		return vq_chain_error(vq, VQ_ERR_HEAD_RANGE);
	elem->head = head;
	elem->nr_descs = 1;
	vq_walk_start(&w, elem);
	i = head;
	for (;;) {
		struct vring_desc d;
		uint16_t flags;

		if (i >= table_size)
			return vq_chain_error(vq, VQ_ERR_NEXT_RANGE);
		if (++seen > table_size)
			return vq_chain_error(vq, VQ_ERR_LOOP);
		vq_load16(&table[i], &d);
		flags = le16toh(d.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (is_indirect)
				return vq_chain_error(vq, VQ_ERR_NESTED_INDIRECT);
			if (flags & VRING_DESC_F_NEXT)
				return vq_chain_error(vq, VQ_ERR_INDIRECT_NEXT);
			r = vq_load_indirect(vq, le64toh(d.addr), le32toh(d.len), &table_size);
			if (r == -EINVAL)
				return r;
			if (r < 0) {
				/* The table is out of reach: the device's fault. */
				elem->fault = r;
				return vq_walk_end(vq, elem);
			}
			table = vq->indirect;
			is_indirect = true;
			seen = 0;
			i = 0;
			continue;
		}
		r = vq_walk_buffer(vq, &w, elem, le64toh(d.addr), le32toh(d.len),
				   flags & VRING_DESC_F_WRITE, max_iov);
		if (r < 0)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
	return vq_walk_end(vq, elem);
}

static int split_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov)
{
	uint16_t avail_idx, head, last = vq->state.avail;

	if (vq->is_broken)
		return -EIO;
	for (;;) {
		avail_idx = load_avail_idx(vq);
		if (avail_idx == last)
			return 0;
		if ((uint16_t)(avail_idx - last) > vq->num)
			return vq_ring_error(vq, VQ_ERR_AVAIL_IDX);
		head = le16toh(__atomic_load_n(&vq->split.avail->ring[last % vq->num],
					       __ATOMIC_RELAXED));
		consume_avail(vq);
		last++;
		if (head < vq->num)
			break;
		/* Nothing can be returned for a head we cannot name: skip it. */
		__atomic_store_n(&vq->last_err, VQ_ERR_HEAD_RANGE, __ATOMIC_RELAXED);
		vq->nr_bad_chains++;
		vq->nr_skipped_heads++;
	}
	return split_pop_again(vq, head, elem, max_iov);
}

static void split_push(struct vq *vq, uint16_t head, uint32_t len_bytes)
{
	uint16_t used = vq->state.used;
	struct vring_used_elem *e = &vq->split.used->ring[used % vq->num];

	e->id = htole32(head);
	e->len = htole32(len_bytes);
	__atomic_store_n(&vq->state.used, (uint16_t)(used + 1), __ATOMIC_RELAXED);
}

static void split_flush(struct vq *vq)
{
	__atomic_store_n(&vq->split.used->idx, htole16(vq->state.used), __ATOMIC_RELEASE);
}

static bool split_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->state.used;
	bool was_valid = vq->has_signalled;

	/* Order the used->idx store before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->has_signalled = true;
	if (!vq->has_event_idx)
		return !(le16toh(__atomic_load_n(&vq->split.avail->flags, __ATOMIC_RELAXED)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	if (!was_valid)
		return true;
	return vring_need_event(le16toh(__atomic_load_n(used_event_ptr(vq), __ATOMIC_RELAXED)),
				new, old);
}

static void split_disable_notify(struct vq *vq)
{
	/*
	 * With EVENT_IDX: an avail_event the driver has already passed.  (The
	 * one enable left asks for a kick at the very next chain.)
	 */
	if (vq->has_event_idx)
		__atomic_store_n(avail_event_ptr(vq), htole16((uint16_t)(vq->state.avail - 1)),
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->split.used->flags, htole16(VRING_USED_F_NO_NOTIFY),
				 __ATOMIC_RELAXED);
}

static bool split_has_avail(struct vq *vq)
{
	return load_avail_idx(vq) != vq->state.avail;
}

static bool split_enable_notify(struct vq *vq)
{
	if (vq->has_event_idx)
		__atomic_store_n(avail_event_ptr(vq), htole16(vq->state.avail), __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->split.used->flags, 0, __ATOMIC_RELAXED);
	/* The store must be visible before we look at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return split_has_avail(vq);
}

/*
 * The journal's part of a split ring: a chain's pop sequence is the avail
 * index it was taken at, and the table keeps it for vq_pop_again() while it
 * is the device's.  Nothing more to keep.
 */
static uint16_t split_journal_seq(const struct vq *vq)
{
	return (uint16_t)(vq->state.avail - 1);
}

const struct vq_ops vq_split_ops = {
	.init = split_init,
	.exit = split_exit,
	.set_rings = split_set_rings,
	.ring_bytes = split_ring_bytes,
	.set_state = split_set_state,
	.used_seen = split_used_seen,
	.pop = split_pop,
	.pop_again = split_pop_again,
	.push = split_push,
	.flush = split_flush,
	.should_notify = split_should_notify,
	.disable_notify = split_disable_notify,
	.enable_notify = split_enable_notify,
	.has_avail = split_has_avail,
	.journal_seq = split_journal_seq,
};
