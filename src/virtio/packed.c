// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Packed virtqueue (virtio 1.2, 2.8), device side.
 *
 * One ring of descriptors: the driver makes a chain available by writing its
 * descriptors with AVAIL set to its wrap counter and USED to the opposite;
 * the device returns a buffer by writing one used descriptor (buffer ID,
 * length, AVAIL and USED both its own wrap counter) at its used position,
 * then skips the rest of the chain's slots.  Two event suppression
 * structures replace the split ring's flags and event indices.
 *
 * Positions are the ring index with the wrap counter in bit 15.  Everything
 * read from the ring is driver input: each descriptor is loaded once, a
 * chain must be available for its lap in every slot, no longer than the
 * slots not in flight, and end in a buffer ID inside the ring.
 *
 * The ring's part of the crash journal (chain copies, pop sequence, whether
 * a publish cut short was seen) is in packed_journal.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/packed.h"

static int packed_init(struct vq *vq, const struct vq_state *state)
{
	(void)state;
	/* Aligned for the atomics: descriptors 16 bytes, event structures 4. */
	if (vq->desc_iova % 16 || vq->driver_iova % 4 || vq->device_iova % 4)
		return -EINVAL;
	vq->packed.nr_descs = calloc(vq->num, sizeof(*vq->packed.nr_descs));
	vq->packed.chain = calloc(vq->num, sizeof(*vq->packed.chain));
	vq->packed.pushed = calloc(vq->num, sizeof(*vq->packed.pushed));
	if (!vq->packed.nr_descs || !vq->packed.chain || !vq->packed.pushed)
		return -ENOMEM;
	return 0;
}

static void packed_exit(struct vq *vq)
{
	free(vq->packed.nr_descs);
	free(vq->packed.chain);
	free(vq->packed.pushed);
	free(vq->packed.pool_free);
	free(vq->packed.pool_next);
	free(vq->packed.pool_slots);
	vq->packed.nr_descs = NULL;
	vq->packed.chain = NULL;
	vq->packed.pushed = NULL;
	vq->packed.pool_free = NULL;
	vq->packed.pool_next = NULL;
	vq->packed.pool_slots = NULL;
}

static uint64_t packed_ring_bytes(const struct vq *vq, int which)
{
	return which == 0 ? 16ULL * vq->num : sizeof(struct vring_packed_desc_event);
}

static int packed_set_rings(struct vq *vq, void *desc, void *driver, void *device)
{
	if ((uintptr_t)desc % 16 || (uintptr_t)driver % 4 || (uintptr_t)device % 4)
		return -EFAULT;
	vq->packed.desc = desc;
	vq->packed.driver = driver;
	vq->packed.device = device;
	return 0;
}

/* Both positions inside the ring, used at most one lap behind avail. */
static int packed_set_state(struct vq *vq, const struct vq_state *state)
{
	int nr_inflight;

	if (pos_idx(state->avail) >= vq->num || pos_idx(state->used) >= vq->num)
		return -EINVAL;
	nr_inflight = pos_distance(vq, state->used, state->avail);
	if (nr_inflight < 0)
		return -EINVAL;
	memset(vq->packed.nr_descs, 0, vq->num * sizeof(*vq->packed.nr_descs));
	vq->packed.nr_inflight_descs = (uint16_t)nr_inflight;
	vq->packed.nr_pushed = 0;
	vq->packed.nr_unflushed_descs = 0;
	__atomic_store_n(&vq->state.avail, state->avail, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->state.used, state->used, __ATOMIC_RELAXED);
	vq->signalled_used = state->used;
	vq->has_signalled = false;
	return 0;
}

static inline uint16_t used_flags(bool wrap)
{
	return wrap ? F_AVAIL | F_USED : 0;
}

int packed_walk(struct vq *vq, uint16_t id, const struct vring_packed_desc *descs,
		uint16_t nr_descs, struct vq_elem *elem, unsigned int max_iov)
{
	struct vq_walk w;
	int r;

	elem->head = id;
	elem->nr_descs = nr_descs;
	vq->packed.nr_descs[id] = nr_descs;
	vq_walk_start(&w, elem);
	for (uint16_t i = 0; i < nr_descs; i++) {
		uint16_t flags = le16toh(descs[i].flags);
		const struct vring_packed_desc *table = vq->indirect;
		uint32_t size;

		if (!(flags & VRING_DESC_F_INDIRECT)) {
			r = vq_walk_buffer(vq, &w, elem, le64toh(descs[i].addr),
					   le32toh(descs[i].len), flags & VRING_DESC_F_WRITE,
					   max_iov);
			if (r < 0)
				return r;
			continue;
		}
		if (flags & VRING_DESC_F_NEXT)
			return vq_chain_error(vq, VQ_ERR_INDIRECT_NEXT);
		if (nr_descs > 1)
			return vq_chain_error(vq, VQ_ERR_INDIRECT_IN_CHAIN);
		r = vq_load_indirect(vq, le64toh(descs[i].addr), le32toh(descs[i].len), &size);
		if (r == -EINVAL)
			return r;
		if (r < 0) {
			/* The table is out of reach: the device's fault. */
			elem->fault = r;
			return vq_walk_end(vq, elem);
		}
		/* Every entry of the table, in order; NEXT means nothing there (2.8.13). */
		for (uint32_t j = 0; j < size; j++) {
			uint16_t tflags = le16toh(table[j].flags);

			if (tflags & VRING_DESC_F_INDIRECT)
				return vq_chain_error(vq, VQ_ERR_NESTED_INDIRECT);
			r = vq_walk_buffer(vq, &w, elem, le64toh(table[j].addr),
					   le32toh(table[j].len), tflags & VRING_DESC_F_WRITE,
					   max_iov);
			if (r < 0)
				return r;
		}
	}
	return vq_walk_end(vq, elem);
}

static int packed_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov)
{
	uint16_t pos = vq->state.avail, idx = pos_idx(pos), flags, id, n = 0;
	bool wrap = pos_wrap(pos);
	/* A copy: the journal keeps it (packed_journal_keep()), the ring may not. */
	struct vring_packed_desc d, *chain = vq->packed.chain;

	if (vq->is_broken)
		return -EIO;
	flags = load_flags(vq, idx);
	if (!is_avail(flags, wrap)) {
		/* The device never marks this slot used in this lap: the driver did. */
		if (is_used(flags, wrap))
			return vq_ring_error(vq, VQ_ERR_PACKED_FLAGS);
		return 0;
	}
	/* Take the chain: every slot available for its lap, at most the slots not in flight. */
	for (;;) {
		if (vq->packed.nr_inflight_descs + n >= vq->num)
			return vq_ring_error(vq, VQ_ERR_RING_OVERRUN);
		vq_load16(&vq->packed.desc[idx], &d);
		if (n && !is_avail(le16toh(d.flags), wrap))
			return vq_ring_error(vq, VQ_ERR_PACKED_WRAP);
		chain[n++] = d;
		if (!(le16toh(d.flags) & VRING_DESC_F_NEXT))
			break;
		if (++idx == vq->num) {
			idx = 0;
			wrap = !wrap;
		}
	}
	/* The buffer ID is the last descriptor's; without one in range nothing can go back. */
	id = le16toh(d.id);
	if (id >= vq->num)
		return vq_ring_error(vq, VQ_ERR_HEAD_RANGE);
	/* Consumed: the slots are the device's until their used entry. */
	vq->packed.nr_inflight_descs += n;
	__atomic_store_n(&vq->state.avail, pos_add(vq, pos, n), __ATOMIC_RELAXED);
	return packed_walk(vq, id, chain, n, elem, max_iov);
}

/*
 * A used entry at the used position, which then skips the chain's slots.
 * Its flags wait for the flush: entries marked used before a crash could be
 * read by the driver once the next daemon wrote others before them.
 * WRITE says the length counts: without it drivers ignore it (2.8.4, 2.8.5).
 */
static void packed_push(struct vq *vq, uint16_t id, uint32_t len_bytes)
{
	uint16_t pos = vq->state.used, n = 1;
	struct vring_packed_desc *d = &vq->packed.desc[pos_idx(pos)];

	if (id < vq->num && vq->packed.nr_descs[id]) {
		n = vq->packed.nr_descs[id];
		vq->packed.nr_descs[id] = 0;
	}
	d->id = htole16(id);
	d->len = htole32(len_bytes);
	if (vq->packed.nr_pushed < vq->num)
		vq->packed.pushed[vq->packed.nr_pushed++] =
			pos | (uint32_t)(used_flags(pos_wrap(pos)) |
					 (len_bytes ? VRING_DESC_F_WRITE : 0)) << 16;
	/* The slots are the device's until the driver can see the entry (the flush). */
	vq->packed.nr_unflushed_descs += n;
	__atomic_store_n(&vq->state.used, pos_add(vq, pos, n), __ATOMIC_RELAXED);
}

/*
 * Mark the pushed entries used, the first one last with a release store:
 * the driver reads in order and sees the batch at once.
 */
static void packed_flush(struct vq *vq)
{
	uint16_t nr = vq->packed.nr_pushed;
	uint32_t e;

	if (!nr)
		return;
	vq->packed.nr_pushed = 0;
	vq->packed.nr_inflight_descs -= vq->packed.nr_unflushed_descs < vq->packed.nr_inflight_descs ?
					 vq->packed.nr_unflushed_descs : vq->packed.nr_inflight_descs;
	vq->packed.nr_unflushed_descs = 0;
	for (uint16_t i = nr - 1; i > 0; i--) {
		e = vq->packed.pushed[i];
		__atomic_store_n(&vq->packed.desc[pos_idx((uint16_t)e)].flags, htole16(e >> 16),
				 __ATOMIC_RELAXED);
	}
	e = vq->packed.pushed[0];
	__atomic_store_n(&vq->packed.desc[pos_idx((uint16_t)e)].flags, htole16(e >> 16),
			 __ATOMIC_RELEASE);
}

/*
 * Did the used entries between @old and @new pass the driver's event
 * position?  Positions are compared on a line of two laps ending at @new.
 */
static bool packed_need_event(const struct vq *vq, uint16_t event, uint16_t new, uint16_t old)
{
	int n = vq->num;
	int new_l = pos_idx(new) + n;
	int old_l = pos_idx(old) + (pos_wrap(old) == pos_wrap(new) ? n : 0);
	int event_l = pos_idx(event) + (pos_wrap(event) == pos_wrap(new) ? n : 0);

	return event_l >= old_l && event_l < new_l;
}

static bool packed_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->state.used, flags, off_wrap;
	bool was_valid = vq->has_signalled;

	/* Order the used entries' stores before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->has_signalled = true;
	flags = le16toh(__atomic_load_n(&vq->packed.driver->flags, __ATOMIC_RELAXED));
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->has_event_idx)
		return true;
	off_wrap = le16toh(__atomic_load_n(&vq->packed.driver->off_wrap, __ATOMIC_RELAXED));
	if (pos_idx(off_wrap) >= vq->num) {
		/* Nothing to compare with: interrupt, as if the driver asked for every entry. */
		__atomic_store_n(&vq->last_err, VQ_ERR_EVENT_OFFSET, __ATOMIC_RELAXED);
		return true;
	}
	if (!was_valid)
		return true;
	return packed_need_event(vq, off_wrap, new, old);
}

static void packed_disable_notify(struct vq *vq)
{
	__atomic_store_n(&vq->packed.device->flags, htole16(VRING_PACKED_EVENT_FLAG_DISABLE),
			 __ATOMIC_RELAXED);
}

static bool packed_has_avail(struct vq *vq)
{
	uint16_t pos = vq->state.avail;

	return is_avail(load_flags(vq, pos_idx(pos)), pos_wrap(pos));
}

static bool packed_enable_notify(struct vq *vq)
{
	__atomic_store_n(&vq->packed.device->flags, htole16(VRING_PACKED_EVENT_FLAG_ENABLE),
			 __ATOMIC_RELAXED);
	/* The store must be visible before we look at the ring again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return packed_has_avail(vq);
}

const struct vq_ops vq_packed_ops = {
	.init = packed_init,
	.exit = packed_exit,
	.set_rings = packed_set_rings,
	.ring_bytes = packed_ring_bytes,
	.set_state = packed_set_state,
	.used_seen = packed_used_seen,
	.pop = packed_pop,
	.pop_again = packed_pop_again,
	.push = packed_push,
	.flush = packed_flush,
	.should_notify = packed_should_notify,
	.disable_notify = packed_disable_notify,
	.enable_notify = packed_enable_notify,
	.has_avail = packed_has_avail,
	.journal_seq = packed_journal_seq,
	.journal_keep = packed_journal_keep,
	.journal_returned = packed_journal_returned,
	.journal_start = packed_journal_start,
};
