// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A queue's crash journal as data: starting a section, matching it with
 * rings, and settling one a killed daemon left (the data path's stores are
 * inline, in journal.h; vq.c makes them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/journal.h"

void journal_start(struct journal *log, uint16_t queue_size, uint8_t layout,
		   uint16_t num, uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova,
		   uint16_t avail_idx, uint16_t used_idx)
{
	/* Inactive while it is rewritten: a crash here leaves a queue that starts afresh. */
	journal_store(&log->is_active, 0);
	memset(log->heads, 0, 4ULL * queue_size);
	log->num = num;
	log->layout = layout;
	log->pop_seq = 0;
	log->desc_iova = desc_iova;
	log->avail_iova = avail_iova;
	log->used_iova = used_iova;
	log->avail_idx = avail_idx;
	log->used_idx = used_idx;
	log->pending_used_idx = used_idx;
	journal_store(&log->is_active, 1);
}

bool journal_matches(const struct journal *log, uint8_t layout, uint16_t num,
		     uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova)
{
	return log->is_active == 1 && log->layout == layout && log->num == num && log->desc_iova == desc_iova &&
	       log->avail_iova == avail_iova && log->used_iova == used_iova;
}

struct taken {
	uint16_t head;
	uint16_t age;      /* pops since it was taken */
};

/* Should @a come before @b?  The older chain first. */
static bool is_older(const struct taken *a, const struct taken *b)
{
	return a->age > b->age;
}

static void sift_down(struct taken *t, unsigned int root, unsigned int n)
{
	for (unsigned int child; (child = 2 * root + 1) < n; root = child) {
		struct taken tmp;

		/* A heap with the youngest on top: popping it fills the end. */
		if (child + 1 < n && is_older(&t[child], &t[child + 1]))
			child++;
		if (!is_older(&t[root], &t[child]))
			return;
		tmp = t[root];
		t[root] = t[child];
		t[child] = tmp;
	}
}

/*
 * Oldest first.  A heapsort of our own, not qsort(): glibc's qsort() calls
 * sysinfo(2) the first time it sorts 1 KiB or more, and a live upgrade's
 * new image recovers under the seccomp filter, which refuses it.
 */
static void sort_older_first(struct taken *t, unsigned int n)
{
	for (unsigned int i = n / 2; i-- > 0;)
		sift_down(t, i, n);
	for (unsigned int end = n; end-- > 1;) {
		struct taken tmp = t[0];

		t[0] = t[end];
		t[end] = tmp;
		sift_down(t, 0, end);
	}
}

/* The chain's copy: 1 .. num entries, linked inside the pool, none shared. */
static bool chain_is_whole(struct journal *log, uint16_t queue_size, uint16_t head,
			   uint8_t *pool_owner)
{
	const struct vring_packed_desc *pool = journal_pool(log, queue_size);
	uint32_t c = journal_chains(log, queue_size)[head];
	uint16_t slot = c & 0xffff, n = c >> 16;

	if (n == 0 || n > log->num)
		return false;
	for (uint16_t i = 0; i < n; i++) {
		if (slot >= queue_size || pool_owner[slot])
			return false;
		pool_owner[slot] = 1;
		slot = pool[slot].id;
	}
	return slot == JOURNAL_POOL_END;
}

uint16_t journal_chain(struct journal *log, uint16_t queue_size, uint16_t head,
		       struct vring_packed_desc *ret_descs, uint16_t *ret_slots)
{
	const struct vring_packed_desc *pool = journal_pool(log, queue_size);
	uint32_t c = journal_chains(log, queue_size)[head];
	uint16_t slot = c & 0xffff, n = c >> 16;

	for (uint16_t i = 0; i < n; i++) {
		ret_descs[i] = pool[slot];
		if (ret_slots)
			ret_slots[i] = slot;
		slot = pool[slot].id;
	}
	return n;
}

int journal_recover(struct journal *log, uint16_t queue_size, uint16_t ring_used_idx,
		    uint16_t *ret_heads, unsigned int *ret_nr, const char **ret_why)
{
	struct taken *taken;
	uint8_t *pool_owner = NULL;
	bool is_published;
	unsigned int nr = 0;
	uint16_t num = log->num, next_seq = log->avail_idx;
	const char *why = NULL;

	*ret_nr = 0;
	/* Split rings are a power of two in size; packed rings any size. */
	if (log->is_active != 1 || num == 0 || num > queue_size || log->layout > 1 ||
	    (!log->layout && (num & (num - 1)))) {
		*ret_why = "its ring size is not one the device offers";
		return -EBADMSG;
	}
	/* Did the last publish reach the ring before the daemon died? */
	if (ring_used_idx == log->used_idx) {
		is_published = false;
	} else if (ring_used_idx == log->pending_used_idx) {
		is_published = true;
	} else {
		*ret_why = "the ring's used index is neither the one published nor the one "
			   "being published";
		return -EBADMSG;
	}
	taken = calloc(num, sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	if (log->layout) {
		/* Packed: numbered by pop_seq, and every chain's copy whole and its own. */
		next_seq = log->pop_seq;
		pool_owner = calloc(queue_size, sizeof(*pool_owner));
		if (!pool_owner) {
			free(taken);
			return -ENOMEM;
		}
	}
	for (uint32_t h = 0; h < queue_size; h++) {
		uint32_t e = log->heads[h];

		if (e == 0)
			continue;
		if (h >= num || !(e & JOURNAL_TAKEN) ||
		    (e & ~(JOURNAL_TAKEN | JOURNAL_PUSHED | JOURNAL_POP_MASK))) {
			why = "a descriptor head entry is not valid";
			break;
		}
		if (e & JOURNAL_PUSHED) {
			/* Its used entry reached the driver, or it runs again. */
			log->heads[h] = is_published ? 0 : e & ~JOURNAL_PUSHED;
			if (is_published)
				continue;
		}
		if (pool_owner && !chain_is_whole(log, queue_size, (uint16_t)h, pool_owner)) {
			why = "a packed chain's copy is not whole";
			break;
		}
		taken[nr].head = (uint16_t)h;
		taken[nr].age = (uint16_t)(next_seq - (e & JOURNAL_POP_MASK));
		nr++;
	}
	free(pool_owner);
	if (why) {
		free(taken);
		*ret_why = why;
		return -EBADMSG;
	}
	sort_older_first(taken, nr);
	for (unsigned int i = 0; i < nr; i++)
		ret_heads[i] = taken[i].head;
	free(taken);
	log->used_idx = ring_used_idx;
	log->pending_used_idx = ring_used_idx;
	*ret_nr = nr;
	return 0;
}
