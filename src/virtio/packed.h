/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_PACKED_H
#define VDB_PACKED_H

/*
 * Inside the packed ring (virtio 1.2, 2.8): what packed.c (the ring) and
 * packed_journal.c (its part of the crash journal) share.
 *
 * Positions are the ring index with the wrap counter in bit 15 (vq.h).
 */

#include <endian.h>

#include "virtio/vq_impl.h"

#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)

static inline uint16_t pos_idx(uint16_t pos)
{
	return pos & VQ_POS_IDX_MASK;
}

static inline bool pos_wrap(uint16_t pos)
{
	return pos & VQ_POS_WRAP;
}

/* @pos moved on by @n <= num slots. */
static inline uint16_t pos_add(const struct vq *vq, uint16_t pos, uint16_t n)
{
	uint32_t idx = pos_idx(pos) + (uint32_t)n;
	uint16_t wrap = pos & VQ_POS_WRAP;

	if (idx >= vq->num) {
		idx -= vq->num;
		wrap ^= VQ_POS_WRAP;
	}
	return (uint16_t)idx | wrap;
}

/* Slots from @from to @to (at most one lap apart), or -1 when @to is behind. */
static inline int pos_distance(const struct vq *vq, uint16_t from, uint16_t to)
{
	int d = (int)pos_idx(to) - (int)pos_idx(from);

	if (pos_wrap(from) != pos_wrap(to))
		d += vq->num;
	return d < 0 || d > vq->num ? -1 : d;
}

/* Available for the lap with wrap counter @wrap (2.8.1)? */
static inline bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) != wrap;
}

/* Marked used in the lap with wrap counter @wrap? */
static inline bool is_used(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) == wrap;
}

static inline uint16_t load_flags(const struct vq *vq, uint16_t idx)
{
	return le16toh(__atomic_load_n(&vq->packed.desc[idx].flags, __ATOMIC_ACQUIRE));
}

/*
 * The buffers of a chain already taken from the ring (@descs, a local copy):
 * one indirect descriptor alone, or direct descriptors.  Returns as vq_pop().
 */
int packed_walk(struct vq *vq, uint16_t id, const struct vring_packed_desc *descs,
		uint16_t nr_descs, struct vq_elem *elem, unsigned int max_iov);

/* packed_journal.c: the journal's part of the ring (struct vq_ops). */
uint16_t packed_used_seen(struct vq *vq, uint16_t published, uint16_t pending);
int packed_pop_again(struct vq *vq, uint16_t id, struct vq_elem *elem, unsigned int max_iov);
uint16_t packed_journal_seq(const struct vq *vq);
int packed_journal_keep(struct vq *vq, const struct vq_elem *elem);
void packed_journal_returned(struct vq *vq);
int packed_journal_start(struct vq *vq, const uint16_t *heads, unsigned int nr);

#endif
