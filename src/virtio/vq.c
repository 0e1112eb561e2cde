// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Split virtqueue, device side.  Everything read from the rings is driver
 * input: indices are range-checked, each descriptor is loaded once into a
 * local copy, and chains are bounded by their table size.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vq.h"

static const char *const vq_err_names[VQ_ERR_COUNT] = {
	[VQ_ERR_NONE] = "no error",
	[VQ_ERR_AVAIL_IDX] = "avail index moved by more than the queue size",
	[VQ_ERR_HEAD_RANGE] = "head index out of range",
	[VQ_ERR_NEXT_RANGE] = "next index out of range",
	[VQ_ERR_LOOP] = "chain longer than its table (loop)",
	[VQ_ERR_ADDR_OVERFLOW] = "descriptor address + length overflows",
	[VQ_ERR_FAULT] = "buffer not mapped or lacks permission",
	[VQ_ERR_NESTED_INDIRECT] = "nested indirect table",
	[VQ_ERR_INDIRECT_LEN] = "bad indirect table length",
	[VQ_ERR_INDIRECT_NEXT] = "INDIRECT together with NEXT",
	[VQ_ERR_READ_AFTER_WRITE] = "readable descriptor after a writable one",
	[VQ_ERR_TOO_MANY_SEGS] = "too many segments",
};

const char *vq_err_str(enum vq_err err)
{
	if ((unsigned int)err >= VQ_ERR_COUNT)
		return "unknown";
	return vq_err_names[err];
}

/* Ring layout (virtio 1.2, 2.7): used_event follows avail->ring, avail_event follows used->ring. */
static inline uint16_t *used_event_ptr(struct vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event_ptr(struct vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static inline uint16_t load_avail_idx(struct vq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
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
	const struct mem_range rings[3] = {
		{ vq->desc_iova, 16ULL * vq->num, MEM_READ },
		{ vq->avail_iova, 6ULL + 2ULL * vq->num, MEM_READ },
		{ vq->used_iova, 6ULL + 8ULL * vq->num, MEM_WRITE },
	};
	void *host[3];

	vq->mem_gen = mem_generation(vq->mem);
	__atomic_store_n(&vq->is_unmapped, true, __ATOMIC_RELAXED);   /* tests watch it */
	/* The rings are read in place: the pointers come from the pinned mappings. */
	if (mem_pin(vq->mem, rings, 3, host) < 0)
		return -EFAULT;
	if ((uintptr_t)host[0] % 16 || (uintptr_t)host[1] % 2 || (uintptr_t)host[2] % 4)
		return -EFAULT;
	vq->desc = host[0];
	vq->avail = host[1];
	vq->used = host[2];
	__atomic_store_n(&vq->is_unmapped, false, __ATOMIC_RELAXED);
	return 0;
}

int vq_init(struct vq *vq, struct mem *mem, uint16_t num, uint64_t desc_iova,
	    uint64_t avail_iova, uint64_t used_iova, uint16_t last_avail_idx,
	    bool has_event_idx)
{
	int r;

	memset(vq, 0, sizeof(*vq));
	if (num == 0 || num > VQ_MAX_SIZE)
		return -EINVAL;
	/* The rings are accessed with aligned atomics (virtio 1.2, 2.7: 16, 2, 4). */
	if (desc_iova % 16 || avail_iova % 2 || used_iova % 4)
		return -EINVAL;
	vq->mem = mem;
	vq->num = num;
	vq->has_event_idx = has_event_idx;
	vq->desc_iova = desc_iova;
	vq->avail_iova = avail_iova;
	vq->used_iova = used_iova;
	r = vq_remap(vq);
	if (r < 0)
		return r;
	r = vq_accept_chains(vq, num);
	if (r < 0)
		return r;
	vq->last_avail_idx = last_avail_idx;
	vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED));
	vq->signalled_used = vq->used_idx;
	vq->is_signalled_used_valid = false;
	return 0;
}

int vq_accept_chains(struct vq *vq, uint32_t max_buffers)
{
	struct vring_desc *table;

	if (max_buffers == 0)
		return -EINVAL;
	table = calloc(max_buffers, sizeof(*table));
	if (!table)
		return -ENOMEM;
	free(vq->indirect);
	vq->indirect = table;
	vq->max_chain = max_buffers;
	return 0;
}

uint16_t vq_last_avail_idx(const struct vq *vq)
{
	return __atomic_load_n(&vq->last_avail_idx, __ATOMIC_RELAXED);
}

/* Only the queue's thread writes it; GET_VQ_STATE reads it from another. */
static void consume_avail(struct vq *vq)
{
	__atomic_store_n(&vq->last_avail_idx, (uint16_t)(vq->last_avail_idx + 1),
			 __ATOMIC_RELAXED);
}

void vq_exit(struct vq *vq)
{
	if (!vq)
		return;
	free(vq->indirect);
	vq->indirect = NULL;
}

/* Load a descriptor once: two 64-bit loads the compiler may not repeat. */
static inline void load_desc(const struct vring_desc *src, struct vring_desc *dst)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t w[2];

	w[0] = __atomic_load_n(&s[0], __ATOMIC_RELAXED);
	w[1] = __atomic_load_n(&s[1], __ATOMIC_RELAXED);
	memcpy(dst, w, sizeof(w));
}

static int chain_error(struct vq *vq, enum vq_err err)
{
	vq->last_err = err;
	vq->nr_bad_chains++;
	vq->nr_errs[err]++;
	return -EINVAL;
}

/*
 * Copy the indirect table described by @d into vq->indirect.  Returns 0 with
 * its entry count, -EINVAL (malformed), or the device's own -errno.
 */
static int load_indirect(struct vq *vq, const struct vring_desc *d, uint32_t *ret_size)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	uint64_t end;
	int r;

	if (len == 0 || len % sizeof(struct vring_desc) ||
	    len / sizeof(struct vring_desc) > vq->max_chain)
		return chain_error(vq, VQ_ERR_INDIRECT_LEN);
	if (__builtin_add_overflow(addr, (uint64_t)len, &end))
		return chain_error(vq, VQ_ERR_ADDR_OVERFLOW);
	r = mem_read(vq->mem, addr, vq->indirect, len);
	if (r == -EFAULT)
		return chain_error(vq, VQ_ERR_FAULT);
	if (r < 0)
		return r;
	*ret_size = len / sizeof(struct vring_desc);
	return 0;
}

/* The chain is sound but the device could not reach it. */
static int device_fault(struct vq *vq, struct vq_elem *elem, int err)
{
	elem->fault = err;
	vq->nr_device_faults++;
	return -ENOMEM;
}

int vq_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov)
{
	uint16_t avail_idx, head;

	if (vq->is_broken)
		return -EIO;
	for (;;) {
		avail_idx = load_avail_idx(vq);
		if (avail_idx == vq->last_avail_idx)
			return 0;
		if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
			vq->last_err = VQ_ERR_AVAIL_IDX;
			vq->nr_errs[VQ_ERR_AVAIL_IDX]++;
			__atomic_store_n(&vq->is_broken, true, __ATOMIC_RELAXED);
			return -EIO;
		}
		head = le16toh(__atomic_load_n(&vq->avail->ring[vq->last_avail_idx % vq->num],
					       __ATOMIC_RELAXED));
		consume_avail(vq);
		if (head < vq->num)
			break;
		/* Nothing can be returned for a head we cannot name: skip it. */
		vq->last_err = VQ_ERR_HEAD_RANGE;
		vq->nr_errs[VQ_ERR_HEAD_RANGE]++;
		vq->nr_bad_chains++;
	}
	return vq_pop_head(vq, head, elem, max_iov);
}

int vq_pop_head(struct vq *vq, uint16_t head, struct vq_elem *elem, unsigned int max_iov)
{
	const struct vring_desc *table = vq->desc;
	uint32_t table_size = vq->num, seen = 0, nr_bufs = 0;
	unsigned int nr_iov = 0;
	bool is_indirect = false, has_write = false;
	uint16_t i;
	int r;

	if (vq->is_broken)
		return -EIO;
	if (head >= vq->num)
		return chain_error(vq, VQ_ERR_HEAD_RANGE);
	elem->head = head;
	elem->nr_out = elem->nr_in = 0;
	elem->out_bytes = elem->in_bytes = 0;
	elem->last_in_iova = VQ_NO_STATUS;
	elem->fault = 0;
	i = head;
	for (;;) {
		struct vring_desc d;
		uint16_t flags;
		uint64_t addr, end;
		uint32_t len;
		unsigned int perm;

		if (i >= table_size)
			return chain_error(vq, VQ_ERR_NEXT_RANGE);
		if (++seen > table_size)
			return chain_error(vq, VQ_ERR_LOOP);
		load_desc(&table[i], &d);
		flags = le16toh(d.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (is_indirect)
				return chain_error(vq, VQ_ERR_NESTED_INDIRECT);
			if (flags & VRING_DESC_F_NEXT)
				return chain_error(vq, VQ_ERR_INDIRECT_NEXT);
			r = load_indirect(vq, &d, &table_size);
			if (r == -EINVAL)
				return r;
			if (r < 0)
				return device_fault(vq, elem, r);   /* the table is out of reach */
			table = vq->indirect;
			is_indirect = true;
			seen = 0;
			i = 0;
			continue;
		}

		addr = le64toh(d.addr);
		len = le32toh(d.len);
		if (__builtin_add_overflow(addr, (uint64_t)len, &end))
			return chain_error(vq, VQ_ERR_ADDR_OVERFLOW);
		if (flags & VRING_DESC_F_WRITE) {
			perm = MEM_WRITE;
			has_write = true;
			if (len)
				elem->last_in_iova = end - 1;
		} else {
			/* Even an empty writable buffer ends the readable part. */
			if (has_write)
				return chain_error(vq, VQ_ERR_READ_AFTER_WRITE);
			perm = MEM_READ;
		}
		if (++nr_bufs > vq->max_chain)
			return chain_error(vq, VQ_ERR_TOO_MANY_SEGS);
		/* After a fault of our own, walk on: the chain may still be malformed. */
		if (!elem->fault) {
			r = mem_to_iov(vq->mem, addr, len, perm, elem->iov, &nr_iov, max_iov);
			if (r == -EFAULT)
				return chain_error(vq, VQ_ERR_FAULT);
			if (r < 0) {
				elem->fault = r;
			} else if (perm == MEM_WRITE) {
				elem->nr_in = nr_iov - elem->nr_out;
				elem->in_bytes += len;
			} else {
				elem->nr_out = nr_iov;
				elem->out_bytes += len;
			}
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
	if (elem->fault)
		return device_fault(vq, elem, elem->fault);
	return 1;
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len_bytes)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];

	e->id = htole32(head);
	e->len = htole32(len_bytes);
	vq->used_idx++;
}

void vq_flush(struct vq *vq)
{
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool was_valid = vq->is_signalled_used_valid;

	/* Order the used->idx store before reading the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->is_signalled_used_valid = true;
	if (!vq->has_event_idx)
		return !(le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	if (!was_valid)
		return true;
	return vring_need_event(le16toh(__atomic_load_n(used_event_ptr(vq), __ATOMIC_RELAXED)),
				new, old);
}

void vq_disable_notify(struct vq *vq)
{
	/*
	 * With EVENT_IDX: an avail_event the driver has already passed.  (The
	 * one vq_enable_notify() left asks for a kick at the very next chain.)
	 */
	if (vq->has_event_idx)
		__atomic_store_n(avail_event_ptr(vq), htole16((uint16_t)(vq->last_avail_idx - 1)),
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used->flags, htole16(VRING_USED_F_NO_NOTIFY),
				 __ATOMIC_RELAXED);
}

bool vq_enable_notify(struct vq *vq)
{
	if (vq->has_event_idx)
		__atomic_store_n(avail_event_ptr(vq), htole16(vq->last_avail_idx),
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	/* The store must be visible before we look at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(vq);
}

bool vq_has_avail(struct vq *vq)
{
	return load_avail_idx(vq) != vq->last_avail_idx;
}
