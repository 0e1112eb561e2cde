// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The virtqueue's one interface: configuration, ring translation, the
 * buffer walk both layouts share, and dispatch to split.c or packed.c.
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

int vq_pop_again(struct vq *vq, uint16_t head, const struct vring_packed_desc *descs,
		 uint16_t nr_descs, struct vq_elem *elem, unsigned int max_iov)
{
	return vq->ops->pop_again(vq, head, descs, nr_descs, elem, max_iov);
}
