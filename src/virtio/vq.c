// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The virtqueue's one interface: configuration, ring translation, the
 * buffer walk both layouts share, dispatch to split.c or packed.c, and the
 * crash journal's records at pop, push and flush (journal.h).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/vq_impl.h"

static const char *const vq_err_names[VQ_ERR_COUNT] = {
	[VQ_ERR_NONE] = "no error",
	[VQ_ERR_AVAIL_IDX] = "avail index moved by more than the queue size",
	[VQ_ERR_HEAD_RANGE] = "head index or buffer ID out of range",
	[VQ_ERR_NEXT_RANGE] = "next index out of range",
	[VQ_ERR_LOOP] = "chain longer than its table (loop)",
	[VQ_ERR_ADDR_OVERFLOW] = "descriptor address + length overflows",
	[VQ_ERR_FAULT] = "buffer not mapped or lacks permission",
	[VQ_ERR_NESTED_INDIRECT] = "nested indirect table",
	[VQ_ERR_INDIRECT_LEN] = "bad indirect table length",
	[VQ_ERR_INDIRECT_NEXT] = "INDIRECT together with NEXT",
	[VQ_ERR_READ_AFTER_WRITE] = "readable descriptor after a writable one",
	[VQ_ERR_TOO_MANY_SEGS] = "too many segments",
	[VQ_ERR_HEAD_IN_FLIGHT] = "head or buffer ID already in flight",
	[VQ_ERR_PACKED_FLAGS] = "descriptor flags say used by the driver's current lap",
	[VQ_ERR_PACKED_WRAP] = "chain descriptor not available for its lap (wrap counter)",
	[VQ_ERR_RING_OVERRUN] = "more descriptors in flight than the ring holds",
	[VQ_ERR_INDIRECT_IN_CHAIN] = "indirect descriptor not alone in its chain",
	[VQ_ERR_EVENT_OFFSET] = "event suppression offset outside the ring",
};

const char *vq_err_str(enum vq_err err)
{
	if ((unsigned int)err >= VQ_ERR_COUNT)
		return "unknown";
	return vq_err_names[err];
}

const char *vq_layout_name(enum vq_layout layout)
{
	return layout == VQ_LAYOUT_PACKED ? "packed" : "split";
}

static uint32_t mem_generation(struct mem *mem)
{
	return mem->ops->generation ? mem->ops->generation(mem) : 0;
}

bool vq_mem_moved(const struct vq *vq)
{
	return mem_generation(vq->mem) != vq->mem_gen;
}

int vq_remap(struct vq *vq)
{
	/* The device writes used entries into a packed descriptor ring. */
	unsigned int desc_perm = vq->layout == VQ_LAYOUT_PACKED ? MEM_READ | MEM_WRITE : MEM_READ;
	const struct mem_range rings[3] = {
		{ vq->desc_iova, vq->ops->ring_bytes(vq, 0), desc_perm },
		{ vq->driver_iova, vq->ops->ring_bytes(vq, 1), MEM_READ },
		{ vq->device_iova, vq->ops->ring_bytes(vq, 2), MEM_WRITE },
	};
	void *host[3];

	vq->mem_gen = mem_generation(vq->mem);
	vq_set_unmapped(vq);   /* tests watch it */
	/* The rings are read in place: the pointers come from the pinned mappings. */
	if (mem_pin(vq->mem, rings, 3, host) < 0)
		return -EFAULT;
	if (vq->ops->set_rings(vq, host[0], host[1], host[2]) < 0)
		return -EFAULT;
	__atomic_store_n(&vq->is_unmapped, false, __ATOMIC_RELAXED);
	return 0;
}

int vq_init(struct vq *vq, struct mem *mem, const struct vq_config *cfg,
	    const struct vq_state *state)
{
	int r;

	memset(vq, 0, sizeof(*vq));
	if (cfg->num == 0 || cfg->num > VQ_MAX_SIZE)
		return -EINVAL;
	vq->ops = cfg->layout == VQ_LAYOUT_PACKED ? &vq_packed_ops : &vq_split_ops;
	vq->layout = cfg->layout;
	vq->mem = mem;
	vq->num = cfg->num;
	vq->has_event_idx = cfg->has_event_idx;
	vq->desc_iova = cfg->desc_iova;
	vq->driver_iova = cfg->driver_iova;
	vq->device_iova = cfg->device_iova;
	r = vq->ops->init(vq, state);
	if (r < 0)
		goto fail;
	r = vq_remap(vq);
	if (r < 0)
		goto fail;
	r = vq_accept_chains(vq, cfg->num);
	if (r < 0)
		goto fail;
	r = vq->ops->set_state(vq, state);
	if (r < 0)
		goto fail;
	return 0;
fail:
	vq_exit(vq);
	return r;
}

int vq_accept_chains(struct vq *vq, uint32_t max_buffers)
{
	void *table;

	if (max_buffers == 0)
		return -EINVAL;
	/* Split and packed descriptors are both 16 bytes. */
	table = calloc(max_buffers, sizeof(struct vring_desc));
	if (!table)
		return -ENOMEM;
	free(vq->indirect);
	vq->indirect = table;
	vq->max_chain = max_buffers;
	return 0;
}

void vq_exit(struct vq *vq)
{
	if (!vq)
		return;
	free(vq->indirect);
	vq->indirect = NULL;
	free(vq->journal.own);
	free(vq->journal.pushed);
	vq->journal = (struct vq_journal){ 0 };
	if (vq->ops)
		vq->ops->exit(vq);
}

int vq_set_state(struct vq *vq, const struct vq_state *state)
{
	return vq->ops->set_state(vq, state);
}

uint16_t vq_used_seen(struct vq *vq, uint16_t published, uint16_t pending)
{
	return vq->ops->used_seen(vq, published, pending);
}

int vq_chain_error(struct vq *vq, enum vq_err err)
{
	__atomic_store_n(&vq->last_err, err, __ATOMIC_RELAXED);
	vq->nr_bad_chains++;
	return -EINVAL;
}

int vq_ring_error(struct vq *vq, enum vq_err err)
{
	__atomic_store_n(&vq->last_err, err, __ATOMIC_RELAXED);
	vq_set_broken(vq);
	return -EIO;
}

int vq_load_indirect(struct vq *vq, uint64_t addr, uint32_t len, uint32_t *ret_size)
{
	uint64_t end;
	int r;

	if (len == 0 || len % 16 || len / 16 > vq->max_chain)
		return vq_chain_error(vq, VQ_ERR_INDIRECT_LEN);
	if (__builtin_add_overflow(addr, (uint64_t)len, &end))
		return vq_chain_error(vq, VQ_ERR_ADDR_OVERFLOW);
	r = mem_read(vq->mem, addr, vq->indirect, len);
	if (r == -EFAULT)
		return vq_chain_error(vq, VQ_ERR_FAULT);
	if (r < 0)
		return r;
	*ret_size = len / 16;
	return 0;
}

int vq_pop_again(struct vq *vq, uint16_t head, struct vq_elem *elem, unsigned int max_iov)
{
	return vq->ops->pop_again(vq, head, elem, max_iov);
}

/* ---- the journal's records (journal.h) ------------------------------------ */

/* The chain popped last is consumed (taken, or skipped): the section says so. */
static void record_consume(struct vq *vq, bool is_taken)
{
	struct vq_journal *jn = &vq->journal;

	if (is_taken)
		jn->pop_seq++;
	journal_consume(jn->log, vq->state.avail, jn->pop_seq);
}

/*
 * Was the chain just popped taken already, by the run before a resume that
 * died between recording it and consuming it?  It runs again already
 * (vq_journal_resume()) and must not run twice.  Only the first chain
 * after a resume can be that one.
 */
static bool is_retaken(struct vq *vq, uint16_t head)
{
	struct vq_journal *jn = &vq->journal;
	uint32_t e;

	if (!jn->may_retake)
		return false;
	jn->may_retake = false;
	e = jn->log->heads[head];
	return (e & JOURNAL_TAKEN) && (e & JOURNAL_POP_MASK) == vq->ops->journal_seq(vq);
}

/*
 * Record the chain just popped before it is consumed: a crash between the
 * two runs it again.  The journal knows what is the device's: in flight,
 * or returned and not yet published (a malformed chain).  A driver
 * offering it again broke the ring.
 */
static int record_take(struct vq *vq, const struct vq_elem *elem, int pop_result)
{
	struct vq_journal *jn = &vq->journal;

	if ((jn->log->heads[elem->head] & JOURNAL_TAKEN) ||
	    (vq->ops->journal_keep && vq->ops->journal_keep(vq, elem) < 0)) {
		record_consume(vq, false);
		return vq_ring_error(vq, VQ_ERR_HEAD_IN_FLIGHT);
	}
	journal_take(jn->log, elem->head, vq->ops->journal_seq(vq));
	record_consume(vq, true);
	return pop_result;
}

int vq_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov)
{
	for (;;) {
		int r = vq->ops->pop(vq, elem, max_iov);

		if (!vq->journal.log)
			return r;
		if (r == 0 || r == -EIO) {
			/* Heads skipped on the way are consumed too. */
			record_consume(vq, false);
			vq->journal.may_retake = false;
			return r;
		}
		if (!is_retaken(vq, elem->head))
			return record_take(vq, elem, r);
		record_consume(vq, true);
	}
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len_bytes)
{
	struct vq_journal *jn = &vq->journal;

	vq->ops->push(vq, head, len_bytes);
	if (!jn->log)
		return;
	journal_push(jn->log, head);
	/* Bounded for a caller that pushes a head twice (vq_push()'s contract). */
	if (jn->nr_pushed < vq->num)
		jn->pushed[jn->nr_pushed++] = head;
}

/* Before the ring's publish the section says which used position it makes visible. */
void vq_flush(struct vq *vq)
{
	struct vq_journal *jn = &vq->journal;
	uint16_t used = vq->state.used;

	if (!jn->log) {
		vq->ops->flush(vq);
		return;
	}
	journal_publish_begin(jn->log, used);
	vq->ops->flush(vq);
	if (vq->ops->journal_returned)
		vq->ops->journal_returned(vq);
	journal_publish_end(jn->log, used, jn->pushed, jn->nr_pushed);
	jn->nr_pushed = 0;
}

/* The queue's own section (also where it writes after a let-go), the list of pushes. */
static int journal_attach(struct vq *vq, struct journal *log, uint16_t log_size)
{
	struct vq_journal *jn = &vq->journal;

	if (log_size < vq->num || jn->own)
		return -EINVAL;
	jn->own = calloc(1, journal_bytes(log_size));
	jn->pushed = calloc(vq->num, sizeof(*jn->pushed));
	if (!jn->own || !jn->pushed)
		return -ENOMEM;
	jn->log_size = log_size;
	jn->log = log ? log : jn->own;
	return 0;
}

int vq_journal_start(struct vq *vq, struct journal *log, uint16_t log_size)
{
	int r = journal_attach(vq, log, log_size);

	if (r < 0)
		return r;
	/* The ring keeps the driver's view of the used position: a new run goes on from there. */
	journal_start(vq->journal.log, log_size, vq->layout, vq->num, vq->desc_iova,
		      vq->driver_iova, vq->device_iova, vq->state.avail, vq->state.used);
	return vq->ops->journal_start ? vq->ops->journal_start(vq, NULL, 0) : 0;
}

int vq_journal_resume(struct vq *vq, struct journal *log, uint16_t log_size,
		      uint16_t *ret_heads, unsigned int *ret_nr, const char **ret_why)
{
	struct vq_journal *jn = &vq->journal;
	uint16_t seen;
	int r;

	*ret_nr = 0;
	r = journal_attach(vq, log, log_size);
	if (r < 0)
		return r;
	if (!journal_matches(jn->log, vq->layout, vq->num, vq->desc_iova, vq->driver_iova,
			     vq->device_iova)) {
		*ret_why = "it describes other rings than the driver's";
		return -EBADMSG;
	}
	seen = vq->ops->used_seen(vq, jn->log->used_idx, jn->log->pending_used_idx);
	r = journal_recover(jn->log, log_size, seen, ret_heads, ret_nr, ret_why);
	if (r < 0)
		return r;
	if (vq->ops->set_state(vq, &(struct vq_state){ .avail = jn->log->avail_idx,
						       .used = seen }) < 0) {
		*ret_why = "its positions do not fit the ring";
		return -EBADMSG;
	}
	jn->pop_seq = jn->log->pop_seq;
	jn->may_retake = true;
	return vq->ops->journal_start ? vq->ops->journal_start(vq, ret_heads, *ret_nr) : 0;
}

void vq_journal_let_go(struct vq *vq)
{
	struct vq_journal *jn = &vq->journal;

	if (!jn->log)
		return;
	jn->log = jn->own;
	jn->nr_pushed = 0;
}
