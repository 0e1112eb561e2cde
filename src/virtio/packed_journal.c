// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packed ring's part of the crash journal (journal.h).
 *
 * A packed ring reuses a chain's slots for used entries while other chains
 * are in flight, so a restart cannot read a chain in flight from the ring
 * again: the journal keeps a copy of each chain's descriptors, in a pool
 * of the section's queue size entries (never more than the ring holds).
 * Taken from the pool before the chain's take, given back once its used
 * entry is published, rebuilt from the chains that run again at a resume.
 *
 * A chain's pop sequence is the journal's count of chains taken (pop_seq):
 * the avail position moves by a chain's length, not by one.  And whether a
 * publish cut short by a kill reached the driver is decided from the slot
 * it marked last (packed_used_seen()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/packed.h"

/*
 * A flush publishes by marking its first entry used, last: did the driver
 * get to see it?  Decided from what the slot can hold, not from one flag
 * pattern.  Before the flush it held a chain's available descriptor for
 * the used position's lap (the device took it, and nobody wrote it since).
 * After the flush it holds the used entry, until the driver takes it:
 * only then may the driver make the slot available again, for the next
 * lap (virtio 1.2, 2.8.21: a slot is reused once its buffer came back).
 * So "used for this lap" and "available for the next lap" both mean seen;
 * "available for this lap" means not; anything else cannot come from a
 * driver and these rings.
 *
 * Not seen: the entries behind it the flush may have marked are unmarked
 * (flags that say "available", which the device does not read again this
 * lap and the driver does not take for used): re-executed chains write
 * their used entries afresh, maybe elsewhere, and the driver must not read
 * a stale one when it gets there.  The slots are the device's: all in flight.
 */
uint16_t packed_used_seen(struct vq *vq, uint16_t published, uint16_t pending)
{
	int nr = pos_distance(vq, published, pending);
	uint16_t pos = published, flags;
	bool wrap = pos_wrap(published);

	if (published == pending || pos_idx(published) >= vq->num || pos_idx(pending) >= vq->num ||
	    nr < 0)
		return published;
	flags = load_flags(vq, pos_idx(published));
	if (is_used(flags, wrap) || is_avail(flags, !wrap))
		return pending;
	if (!is_avail(flags, wrap)) {
		/* Neither: a position the caller refuses. */
		uint16_t other = published ^ VQ_POS_WRAP;

		return other != pending ? other : pos_add(vq, published, 1);
	}
	for (int i = 0; i < nr; i++, pos = pos_add(vq, pos, 1)) {
		uint16_t *f = &vq->packed.desc[pos_idx(pos)].flags;

		if (is_used(le16toh(*f), pos_wrap(pos)))
			__atomic_store_n(f, htole16(pos_wrap(pos) ? F_AVAIL : F_USED),
					 __ATOMIC_RELAXED);
	}
	return published;
}


/*
 * The chain of buffer ID @id again, from the journal's copy: one that
 * vq_journal_resume() named, whose copy journal_recover() found whole.
 */
int packed_pop_again(struct vq *vq, uint16_t id, struct vq_elem *elem, unsigned int max_iov)
{
	struct vq_journal *jn = &vq->journal;
	uint16_t nr_descs = 0;

	if (vq->is_broken)
		return -EIO;
	if (jn->log && id < vq->num)
		nr_descs = journal_chains(jn->log, jn->log_size)[id] >> 16;
	if (id >= vq->num || nr_descs == 0 || nr_descs > vq->num)
		return vq_ring_error(vq, VQ_ERR_HEAD_RANGE);
	journal_chain(jn->log, jn->log_size, id, vq->packed.chain, NULL);
	return packed_walk(vq, id, vq->packed.chain, nr_descs, elem, max_iov);
}

uint16_t packed_journal_seq(const struct vq *vq)
{
	return vq->journal.pop_seq;
}

/*
 * Copy the chain just popped (vq->packed.chain) into free pool entries.
 * vq_pop() keeps chains within the ring, and the pool is as large; only a
 * driver reusing an ID before its used entry was published gets here
 * without room.
 */
int packed_journal_keep(struct vq *vq, const struct vq_elem *elem)
{
	struct vq_journal *jn = &vq->journal;
	uint16_t *slots = vq->packed.pool_slots;

	if (vq->packed.nr_pool_free < elem->nr_descs)
		return -ENOSPC;
	for (uint16_t i = 0; i < elem->nr_descs; i++) {
		slots[i] = vq->packed.pool_free[--vq->packed.nr_pool_free];
		if (i)
			vq->packed.pool_next[slots[i - 1]] = slots[i];
	}
	journal_keep_chain(jn->log, jn->log_size, elem->head, vq->packed.chain, slots,
			   elem->nr_descs);
	return 0;
}

/* The pool entries of chains the driver has back are free again. */
void packed_journal_returned(struct vq *vq)
{
	struct vq_journal *jn = &vq->journal;
	const uint32_t *chains = journal_chains(jn->log, jn->log_size);

	for (unsigned int i = 0; i < jn->nr_pushed; i++) {
		uint32_t c = chains[jn->pushed[i]];
		uint16_t slot = c & 0xffff;

		/* Bounded: a hostile driver may have had one ID pushed twice in a batch. */
		for (uint16_t j = c >> 16; j > 0 && vq->packed.nr_pool_free < jn->log_size; j--) {
			vq->packed.pool_free[vq->packed.nr_pool_free++] = slot;
			slot = vq->packed.pool_next[slot];
		}
	}
}

/* The pool's entries not holding a copy of a chain of @heads are free. */
int packed_journal_start(struct vq *vq, const uint16_t *heads, unsigned int nr)
{
	struct vq_journal *jn = &vq->journal;
	uint16_t qs = jn->log_size, *slots;
	uint8_t *is_busy;

	vq->packed.pool_free = calloc(qs, sizeof(*vq->packed.pool_free));
	vq->packed.pool_next = calloc(qs, sizeof(*vq->packed.pool_next));
	vq->packed.pool_slots = calloc(qs, sizeof(*vq->packed.pool_slots));
	is_busy = calloc(qs, sizeof(*is_busy));
	if (!vq->packed.pool_free || !vq->packed.pool_next || !vq->packed.pool_slots || !is_busy) {
		free(is_busy);
		return -ENOMEM;
	}
	slots = vq->packed.pool_slots;
	for (unsigned int i = 0; i < nr; i++) {
		/* As journal_recover() checked them: whole, inside the pool. */
		uint16_t n = journal_chain(jn->log, qs, heads[i], vq->packed.chain, slots);

		for (uint16_t j = 0; j < n; j++) {
			is_busy[slots[j]] = 1;
			if (j + 1 < n)
				vq->packed.pool_next[slots[j]] = slots[j + 1];
		}
	}
	vq->packed.nr_pool_free = 0;
	for (uint16_t e = qs; e-- > 0;)
		if (!is_busy[e])
			vq->packed.pool_free[vq->packed.nr_pool_free++] = e;
	free(is_busy);
	return 0;
}
