// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the split or packed virtqueue and virtio-blk parsing over
 * a fuzzed ring and memory image (the input format is in fuzz_vq.h).
 *
 * The target builds the driver's world, then serves it the way blk/queue.c
 * does: vq_pop() every available chain, blk_req_parse(), a backend that
 * touches every data byte (fills READ buffers, reads WRITE buffers),
 * blk_req_finish(), vq_push(), vq_flush() and the notification calls.
 *
 * Besides what ASan and UBSan see, it checks the contract and abort()s when
 * it breaks:
 *  - an independent model of the chain rules (virtio 1.2, 2.7.5 and 2.7.7)
 *    decides whether each chain is valid; vq_pop() must agree, and for a
 *    valid chain give the same byte counts and iovec count;
 *  - every iovec lies inside one mapping that grants the permission its side
 *    needs; the status byte is the last byte of the writable part; READ
 *    data is the writable part but the status, WRITE data the readable part
 *    past the header; requests lie inside the device;
 *  - used.len never exceeds the writable bytes; the status byte is the one
 *    the result calls for; bytes the device may only read never change.
 *
 * Packed rings (FZ_F_PACKED) get a model of their own, reading the ring
 * independently of packed.c: which slot is available for which lap (2.8.1),
 * how long a list is, its buffer ID, whether it overruns the slots not in
 * flight; then the same buffer rules (tables: every entry, NEXT ignored,
 * 2.8.8).  vq_pop() must agree (1, -EINVAL, -ENOMEM, or -EIO for a broken
 * ring), return the list's ID, length and descriptors, and move avail by
 * it.  Completions go back in order or out of order; the model writes the
 * used descriptors it expects (ID, length, AVAIL = USED = wrap, WRITE iff
 * length, skipping the list's slots; a batch's first flags at the flush)
 * and the ring must equal it before and after every flush.  vq_used_seen(),
 * vq_should_notify() (driver event suppression, counted on its own line of
 * positions) and vq_enable_notify() are checked against the model too.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blk/blk.h"
#include "fuzz_vq.h"
#include "virtio/vq.h"

#define RING_MAP 0               /* split: desc + avail (RO); packed: the ring (RW) */
#define TABLE_MAP 1
#define USED_MAP (FZ_NR_REGIONS + 2) /* split: used ring; packed: device event */
#define DRV_EVENT_MAP (USED_MAP + 1) /* packed: driver event (RO) */
#define NR_MAPS (DRV_EVENT_MAP + 1)
#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)
#define CAPACITY_SECTORS 2048u
#define HUGE_CAPACITY_SECTORS (1ULL << 40)
#define TOUCH_BYTES 4096u        /* of a huge buffer: its first and last bytes */
#define ODD_DESC_FLAG 0x10

#include "fuzz_check.h"

struct map {
	uint64_t iova;
	uint64_t len;
	unsigned int perm;
	uint8_t *host;
	uint8_t *snapshot;       /* device-readable only: must not change */
};

struct world {
	struct mem mem;
	struct map maps[NR_MAPS];        /* desc+avail, tables, data regions 0..3, used */
	uint16_t num;
	uint8_t *ring;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	size_t ring_bytes, ro_ring_bytes;
	uint8_t *tables;
	size_t tables_bytes;
	uint64_t table_iova[FZ_NR_TABLES];
	uint32_t table_bytes[FZ_NR_TABLES];
	struct blk_dev dev;
	unsigned int max_iov;
	bool is_huge;                    /* region 3 is the huge mapping */
	/* packed */
	bool is_packed;
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *drv_event, *dev_event;
	uint16_t start, start_used;      /* positions: index | wrap << 15 */
	uint32_t max_chain;              /* buffers per list the device accepts */
};

static uint8_t *huge_host;               /* FZ_HUGE_BYTES, reserved once */


struct reader {
	const uint8_t *p;
	size_t n;
};

/* Copy @len bytes from the input; zeroes once it runs out. */
static void take(struct reader *rd, void *dst, size_t len)
{
	size_t k = rd->n < len ? rd->n : len;

	memcpy(dst, rd->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	rd->p += k;
	rd->n -= k;
}

/* ---- the address space ---------------------------------------------------- */

static struct map *map_of(struct world *w, uint64_t iova)
{
	for (unsigned int i = 0; i < NR_MAPS; i++) {
		struct map *m = &w->maps[i];

		if (m->len && m->perm && iova >= m->iova && iova - m->iova < m->len)
			return m;
	}
	return NULL;
}

static void *fz_lookup(struct mem *mem, uint64_t iova, unsigned int perm, uint64_t *ret_len,
		       int *ret_err)
{
	struct world *w = (struct world *)mem;
	struct map *m = map_of(w, iova);

	*ret_err = -EFAULT;
	if (!m || (m->perm & perm) != perm)
		return NULL;
	*ret_len = m->len - (iova - m->iova);
	return m->host + (iova - m->iova);
}

static const struct mem_ops fz_mem_ops = { .lookup = fz_lookup };

/* Does host range [p, p + len) lie inside one mapping granting @perm? */
static bool host_ok(struct world *w, const void *p, size_t len, unsigned int perm)
{
	const uint8_t *b = p;

	for (unsigned int i = 0; i < NR_MAPS; i++) {
		struct map *m = &w->maps[i];

		if (!m->len || !m->perm || b < m->host || b >= m->host + m->len)
			continue;
		return (m->perm & perm) == perm && len <= (size_t)(m->host + m->len - b);
	}
	return false;
}

/* ---- building the world -------------------------------------------------- */

static uint64_t desc_addr(struct world *w, const struct fz_desc *f)
{
	unsigned int r = f->off & 3;

	switch (f->kind % 8) {
	case FZ_K_REGION0: case FZ_K_REGION1: case FZ_K_REGION2: case FZ_K_REGION3:
		return w->maps[2 + f->kind % 8].iova + f->off;
	case FZ_K_HOLE:
		return w->maps[2 + r].iova + w->maps[2 + r].len + (f->off >> 2);
	case FZ_K_TOP:
		return UINT64_MAX - f->off;
	case FZ_K_TABLE:
		return w->table_iova[r] + (f->off >> 2);
	default:
		return FZ_RING_IOVA + f->off;
	}
}

static struct vring_desc make_desc(struct world *w, const struct fz_desc *f)
{
	uint32_t len = f->len;
	uint16_t flags = 0;

	if ((f->flags & FZ_D_TABLE_LEN) && f->kind % 8 == FZ_K_TABLE)
		len = w->table_bytes[f->off & 3];
	else if (f->flags & FZ_D_HUGE_LEN)
		len = (uint32_t)f->len << 16 | 0xffff;
	if (f->flags & FZ_D_NEXT)
		flags |= VRING_DESC_F_NEXT;
	if (f->flags & FZ_D_WRITE)
		flags |= VRING_DESC_F_WRITE;
	if (f->flags & FZ_D_INDIRECT)
		flags |= VRING_DESC_F_INDIRECT;
	if (f->flags & FZ_D_ODD_FLAG)
		flags |= ODD_DESC_FLAG;
	return (struct vring_desc){
		.addr = htole64(desc_addr(w, f)), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(f->next),
	};
}

static void *xalloc(size_t len);

/* Packed: the same, the ID in place of next; @bits: AVAIL/USED. */
static struct vring_packed_desc make_pdesc(struct world *w, const struct fz_desc *f, uint16_t bits)
{
	struct vring_desc d = make_desc(w, f);

	return (struct vring_packed_desc){
		.addr = d.addr, .len = d.len, .id = htole16(f->next),
		.flags = htole16(le16toh(d.flags) | bits),
	};
}

static uint16_t pk_num(const struct fz_hdr *h)
{
	return h->queue_log2 < 9 ? 1u << h->queue_log2 : h->queue_log2;
}

/* @pos moved by @n slots (forwards, or backwards when @n < 0) on a ring of @num. */
static uint16_t pk_move(uint16_t num, uint16_t pos, int n)
{
	int idx = (pos & VQ_POS_IDX_MASK) + n;
	uint16_t wrap = pos & VQ_POS_WRAP;

	while (idx >= num) {
		idx -= num;
		wrap ^= VQ_POS_WRAP;
	}
	while (idx < 0) {
		idx += num;
		wrap ^= VQ_POS_WRAP;
	}
	return (uint16_t)idx | wrap;
}

/*
 * The packed rings: descriptor ring (RW), driver event (RO), device event
 * (WO), back to back; where the device starts; the driver's event wishes.
 */
static void build_packed_rings(struct world *w, const struct fz_hdr *h)
{
	uint16_t num = w->num, s_idx = (h->last_avail_idx & VQ_POS_IDX_MASK) % num;
	unsigned int k0 = h->idx_skew & 0x80 ? (h->idx_skew & 0x3fu) % (num + 1u) : 0;
	unsigned int off = h->used_event % (num + 2u);
	uint16_t flags, off_wrap;

	w->is_packed = true;
	w->ring_bytes = 16u * num + 8u;
	w->ring = xalloc(w->ring_bytes);
	w->pdesc = (struct vring_packed_desc *)w->ring;
	w->drv_event = (struct vring_packed_desc_event *)(w->ring + 16u * num);
	w->dev_event = w->drv_event + 1;
	w->maps[RING_MAP] = (struct map){ FZ_RING_IOVA, 16u * num, MEM_READ | MEM_WRITE, w->ring,
					  NULL };
	w->maps[DRV_EVENT_MAP] = (struct map){ FZ_RING_IOVA + 16u * num, 4, MEM_READ,
					       (uint8_t *)w->drv_event, NULL };
	w->maps[USED_MAP] = (struct map){ FZ_RING_IOVA + 16u * num + 4u, 4, MEM_WRITE,
					  (uint8_t *)w->dev_event, NULL };
	w->start = s_idx | (h->last_avail_idx & VQ_POS_WRAP);
	w->start_used = pk_move(num, w->start, -(int)k0);
	w->max_chain = h->idx_skew & 0x40 ? 1u + (h->idx_skew & 0x3fu) % num : num;

	if (h->flags & FZ_F_NO_INTR)
		flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	else if (h->flags & FZ_F_EVENT_IDX)
		flags = VRING_PACKED_EVENT_FLAG_DESC;
	else
		flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	if (off >= num)
		off_wrap = (uint16_t)off;        /* outside the ring */
	else
		off_wrap = pk_move(num, w->start, (int)off) ^ (h->used_event & 0x80 ? VQ_POS_WRAP : 0);
	w->drv_event->flags = htole16(flags);
	w->drv_event->off_wrap = htole16(off_wrap);
}

/* Slot @i of the packed ring from @f: available for its lap, or the lap before's. */
static void packed_slot(struct world *w, const struct fz_hdr *h, uint16_t i, const struct fz_desc *f)
{
	uint16_t num = w->num, s_idx = w->start & VQ_POS_IDX_MASK;
	unsigned int count = h->nr_avail % (num + 2u), k = (i + num - s_idx) % num;
	bool lap = i >= s_idx ? !!(w->start & VQ_POS_WRAP) : !(w->start & VQ_POS_WRAP);
	uint16_t bits;

	if (f->flags & FZ_D_PK_FLIP)
		lap = !lap;
	if (f->flags & FZ_D_PK_USED)
		bits = lap ? F_AVAIL | F_USED : 0;
	else if (k < count)
		bits = lap ? F_AVAIL : F_USED;           /* available in its lap */
	else
		bits = lap ? F_USED : F_AVAIL;           /* the lap before's available one */
	w->pdesc[i] = make_pdesc(w, f, bits);
}

static void *xalloc(size_t len)
{
	void *p = NULL;

	/* Exact sizes: ASan reports a byte past the end. */
	if (posix_memalign(&p, 16, len ? len : 1))
		abort();
	memset(p, 0, len);
	return p;
}

static void world_free(struct world *w)
{
	free(w->ring);
	free(w->tables);
	for (unsigned int i = 0; i < NR_MAPS; i++) {
		if (i >= 2 && i < USED_MAP && w->maps[i].host != huge_host)
			free(w->maps[i].host);
		free(w->maps[i].snapshot);
	}
}

static void snapshot(struct map *m, size_t len)
{
	m->snapshot = malloc(len ? len : 1);
	if (!m->snapshot)
		abort();
	memcpy(m->snapshot, m->host, len);
}

/*
 * The split rings: desc and avail (+ used_event) in a read-only mapping,
 * used (+ avail_event) in a write-only one right after it; the avail
 * entries from the input.
 */
static void build_split_rings(struct world *w, struct reader *rd, const struct fz_hdr *h)
{
	size_t used_off;

	used_off = (16u * w->num + 6u + 2u * w->num + 3u) & ~3u;
	w->ring_bytes = used_off + 6u + 8u * w->num;
	w->ro_ring_bytes = 16u * w->num + 6u + 2u * w->num;
	w->ring = xalloc(w->ring_bytes);
	w->desc = (struct vring_desc *)w->ring;
	w->avail = (struct vring_avail *)(w->ring + 16u * w->num);
	w->used = (struct vring_used *)(w->ring + used_off);
	w->maps[0] = (struct map){ FZ_RING_IOVA, w->ro_ring_bytes, MEM_READ, w->ring, NULL };
	w->maps[USED_MAP] = (struct map){ FZ_RING_IOVA + used_off, w->ring_bytes - used_off,
					  MEM_WRITE, w->ring + used_off, NULL };

	/* Avail entries, at the slots the device will read them from. */
	{
		unsigned int nr = h->nr_avail % (2u * w->num + 2u);
		uint16_t idx = h->last_avail_idx;

		for (unsigned int k = 0; k < nr; k++) {
			uint16_t head;

			take(rd, &head, sizeof(head));
			w->avail->ring[(uint16_t)(idx + k) % w->num] = htole16(head);
		}
		idx += nr;
		if (h->idx_skew & 0x80)
			idx += h->idx_skew;
		w->avail->idx = htole16(idx);
		w->avail->flags = htole16(h->flags & FZ_F_NO_INTR ? VRING_AVAIL_F_NO_INTERRUPT : 0);
		w->avail->ring[w->num] = htole16(h->last_avail_idx + h->used_event);
	}
}

static void build(struct world *w, struct reader *rd, struct fz_hdr *h)
{
	struct fz_desc tdesc[FZ_NR_TABLES][FZ_MAX_TABLE];
	uint8_t tnr[FZ_NR_TABLES];
	uint64_t iova = FZ_REGION_IOVA;

	memset(w, 0, sizeof(*w));
	w->mem.ops = &fz_mem_ops;
	take(rd, h, sizeof(*h));
	w->num = h->flags & FZ_F_PACKED ? pk_num(h) : 1u << (h->queue_log2 % 9);
	w->max_chain = w->num;
	w->max_iov = blk_iov_per_req(w->num);
	w->dev = (struct blk_dev){
		.capacity_sectors = h->flags & FZ_F_HUGE ? HUGE_CAPACITY_SECTORS : CAPACITY_SECTORS,
		.logical_block_size = 512, .physical_block_size = 512,
		.num_queues = 1, .queue_size = w->num,
		.is_readonly = h->flags & FZ_F_READONLY,
		.has_discard = h->flags & FZ_F_DISCARD,
		.has_write_zeroes = h->flags & FZ_F_WZEROES,
		.serial = "fuzz-serial-01234567",
	};

	/* Data regions first: descriptors name them. */
	for (unsigned int i = 0; i < FZ_NR_REGIONS; i++) {
		struct map *m = &w->maps[2 + i];
		const struct fz_region *fr = &h->regions[i];

		m->len = 1 + fr->len % FZ_MAX_REGION;
		m->perm = fr->perm & (MEM_READ | MEM_WRITE);
		if (!(i && fr->is_adjacent & 1))
			iova = FZ_REGION_IOVA * (i + 1);
		m->iova = iova;
		if (i == 3 && (h->flags & FZ_F_HUGE)) {
			/* Fresh zero pages each time; only what is touched costs memory. */
			w->is_huge = true;
			m->len = FZ_HUGE_BYTES;
			madvise(huge_host, FZ_HUGE_BYTES, MADV_DONTNEED);
			m->host = huge_host;
		} else {
			m->host = xalloc(m->len);
		}
		iova += m->len;
	}

	if (h->flags & FZ_F_PACKED)
		build_packed_rings(w, h);
	else
		build_split_rings(w, rd, h);

	/* Descriptors and indirect tables: their addresses need the table layout first. */
	{
		struct fz_desc *fd = calloc(w->num, sizeof(*fd));
		size_t off = 0;

		if (!fd)
			abort();
		take(rd, fd, w->num * sizeof(*fd));
		for (unsigned int t = 0; t < FZ_NR_TABLES; t++) {
			take(rd, &tnr[t], 1);
			tnr[t] %= FZ_MAX_TABLE + 1;
			take(rd, tdesc[t], tnr[t] * sizeof(struct fz_desc));
			w->table_iova[t] = FZ_TABLE_IOVA + off;
			w->table_bytes[t] = tnr[t] * 16u;
			off += w->table_bytes[t];
		}
		w->tables_bytes = off;
		w->tables = xalloc(off);
		w->maps[1] = (struct map){ FZ_TABLE_IOVA, off, MEM_READ, w->tables, NULL };
		for (unsigned int t = 0; t < FZ_NR_TABLES; t++) {
			uint8_t *tab = w->tables + (w->table_iova[t] - FZ_TABLE_IOVA);

			for (unsigned int k = 0; k < tnr[t]; k++) {
				if (w->is_packed)
					((struct vring_packed_desc *)tab)[k] =
						make_pdesc(w, &tdesc[t][k], 0);
				else
					((struct vring_desc *)tab)[k] = make_desc(w, &tdesc[t][k]);
			}
		}
		for (unsigned int i = 0; i < w->num; i++) {
			if (w->is_packed)
				packed_slot(w, h, (uint16_t)i, &fd[i]);
			else
				w->desc[i] = make_desc(w, &fd[i]);
		}
		free(fd);
	}

	/* What the driver put in its buffers. */
	for (unsigned int i = 0; i < FZ_NR_REGIONS; i++)
		take(rd, w->maps[2 + i].host,
		     w->maps[2 + i].host == huge_host ? FZ_MAX_REGION : w->maps[2 + i].len);

	/* What the device may only read must stay as it is. */
	if (w->is_packed)
		snapshot(&w->maps[DRV_EVENT_MAP], 4);
	else
		snapshot(&w->maps[RING_MAP], w->ro_ring_bytes);
	snapshot(&w->maps[1], w->tables_bytes);
	for (unsigned int i = 2; i < USED_MAP; i++)
		if (w->maps[i].perm == MEM_READ && w->maps[i].host != huge_host)
			snapshot(&w->maps[i], w->maps[i].len);
}

/* ---- the model of a chain ------------------------------------------------ */

struct model {
	bool is_valid;
	bool is_zero_len_write_case;   /* invalid only because of a zero-length writable buffer */
	bool is_oversize;              /* valid, but over 4 GiB one way: a device may refuse it */
	bool is_device_fault;          /* valid, but more mapping pieces than the device's iovecs */
	uint64_t last_in_iova;         /* the last writable byte (the status), or VQ_NO_STATUS */
	uint64_t out_bytes, in_bytes;
	unsigned int nr_iov;
};

/*
 * Mappings [addr, addr + len) spans with @perm, or -1 when part of it lacks
 * one.  Counting stops at @room pieces (returning room + 1): the device looks
 * no further once its iovecs are full.
 */
static int model_segments(struct world *w, uint64_t addr, uint64_t len, unsigned int perm,
			  int room)
{
	int n = 0;

	while (len) {
		struct map *m = map_of(w, addr);
		uint64_t avail;

		if (!m || (m->perm & perm) != perm)
			return -1;
		if (n == room)
			return room + 1;
		avail = m->len - (addr - m->iova);
		if (avail > len)
			avail = len;
		n++;
		addr += avail;
		len -= avail;
	}
	return n;
}

static bool model_read(struct world *w, uint64_t addr, void *dst, uint64_t len)
{
	uint8_t *out = dst;

	while (len) {
		struct map *m = map_of(w, addr);
		uint64_t avail;

		if (!m || !(m->perm & MEM_READ))
			return false;
		avail = m->len - (addr - m->iova);
		if (avail > len)
			avail = len;
		memcpy(out, m->host + (addr - m->iova), avail);
		out += avail;
		addr += avail;
		len -= avail;
	}
	return true;
}

/* virtio 1.2, 2.7.5 / 2.7.7, plus the device's limits (table size, iovecs). */
static struct model model_chain(struct world *w, uint16_t head)
{
	struct vring_desc itab[VQ_MAX_SIZE];
	const struct vring_desc *table = w->desc;
	uint32_t size = w->num, seen = 0;
	bool is_indirect = false, saw_write = false, saw_nonempty_write = false;
	struct model mo = { .last_in_iova = VQ_NO_STATUS };
	uint16_t i = head;

/* Invalid for a reason of its own, whatever came before. */
#define INVALID() do { mo.is_zero_len_write_case = false; return mo; } while (0)

	for (;;) {
		struct vring_desc d;
		uint64_t addr, end;
		uint32_t len;
		uint16_t flags;
		int segs;

		if (i >= size || ++seen > size)
			INVALID();
		memcpy(&d, &table[i], sizeof(d));
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (is_indirect || (flags & VRING_DESC_F_NEXT))
				INVALID();
			if (len == 0 || len % 16 || len / 16 > w->num)
				INVALID();
			if (__builtin_add_overflow(addr, (uint64_t)len, &end))
				INVALID();
			if (!model_read(w, addr, itab, len))
				INVALID();
			table = itab;
			size = len / 16;
			is_indirect = true;
			seen = 0;
			i = 0;
			continue;
		}
		if (__builtin_add_overflow(addr, (uint64_t)len, &end))
			INVALID();
		if (flags & VRING_DESC_F_WRITE) {
			saw_write = true;
			if (len)
				saw_nonempty_write = true;
		} else if (saw_write) {
			/* A readable buffer after a writable one. */
			if (saw_nonempty_write)
				INVALID();
			mo.is_zero_len_write_case = true;
		}
		if ((flags & VRING_DESC_F_WRITE) && len)
			mo.last_in_iova = end - 1;
		/* Past the device's own fault it only checks the chain's structure. */
		if (!mo.is_device_fault) {
			segs = model_segments(w, addr, len,
					      flags & VRING_DESC_F_WRITE ? MEM_WRITE : MEM_READ,
					      (int)(w->max_iov - mo.nr_iov));
			if (segs < 0)
				INVALID();
			mo.nr_iov += segs;
			/* Out of iovecs is the device's limit, not the driver's fault. */
			if (mo.nr_iov > w->max_iov)
				mo.is_device_fault = true;
		}
		if (flags & VRING_DESC_F_WRITE)
			mo.in_bytes += len;
		else
			mo.out_bytes += len;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = le16toh(d.next);
	}
	/* Reached the end: valid unless a readable buffer followed a writable one. */
	mo.is_valid = !mo.is_zero_len_write_case;
	mo.is_oversize = mo.in_bytes > UINT32_MAX || mo.out_bytes > UINT32_MAX;
	return mo;
#undef INVALID
}

/* ---- serving ------------------------------------------------------------- */

static uint64_t iov_sum(const struct iovec *iov, unsigned int nr)
{
	uint64_t s = 0;

	for (unsigned int k = 0; k < nr; k++)
		s += iov[k].iov_len;
	return s;
}

/* Is iovec list [a, a + na) a sublist (after trimming) of [b, b + nb)? */
static bool iov_inside(const struct iovec *a, unsigned int na, const struct iovec *b,
		       unsigned int nb)
{
	for (unsigned int k = 0; k < na; k++) {
		const uint8_t *p = a[k].iov_base;
		bool found = false;

		for (unsigned int j = 0; j < nb && !found; j++) {
			const uint8_t *q = b[j].iov_base;

			found = p >= q && p + a[k].iov_len <= q + b[j].iov_len;
		}
		if (!found)
			return false;
	}
	return true;
}

/* What the backend does with the data: every byte is touched. */
static void backend_touch(struct blk_req *req)
{
	volatile uint8_t sink = 0;

	for (unsigned int k = 0; k < req->nr_data_iov; k++) {
		uint8_t *p = req->data_iov[k].iov_base;

		size_t len = req->data_iov[k].iov_len;

		/* A huge buffer: its first and last bytes stand for the rest. */
		if (len > 2 * TOUCH_BYTES) {
			if (req->op == BLK_OP_READ)
				memset(p + len - TOUCH_BYTES, 0xa5, TOUCH_BYTES);
			else
				for (size_t j = len - TOUCH_BYTES; j < len; j++)
					sink ^= p[j];
			len = TOUCH_BYTES;
		}
		if (req->op == BLK_OP_READ)
			memset(p, 0xa5, len);
		else
			for (size_t j = 0; j < len; j++)
				sink ^= p[j];
	}
	(void)sink;
}

static void check_request(struct world *w, struct blk_req *req, const struct iovec *orig)
{
	const struct vq_elem *e = &req->elem;
	const struct iovec *out = orig, *in = orig + e->nr_out;
	const struct iovec *last = &in[e->nr_in - 1];

	check(req->status_ptr == (uint8_t *)last->iov_base + last->iov_len - 1);
	check(host_ok(w, req->status_ptr, 1, MEM_WRITE));
	switch (req->op) {
	case BLK_OP_READ:
		check(req->nr_data_iov <= e->nr_in);
		check(iov_inside(req->data_iov, req->nr_data_iov, in, e->nr_in));
		check(iov_sum(req->data_iov, req->nr_data_iov) == req->data_bytes);
		check(req->data_bytes + 1 == e->in_bytes);
		check(req->data_bytes % 512 == 0);
		check(req->offset_bytes / 512 + req->data_bytes / 512 <= w->dev.capacity_sectors);
		/*
		 * The data is the writable part but its last byte (the status).
		 * By position: the driver may alias buffers, so addresses prove nothing.
		 */
		check(req->data_iov == e->iov + e->nr_out);
		check(req->nr_data_iov == (last->iov_len > 1 ? e->nr_in : e->nr_in - 1));
		for (unsigned int k = 0; k < req->nr_data_iov; k++) {
			check(req->data_iov[k].iov_base == in[k].iov_base);
			check(req->data_iov[k].iov_len ==
			      in[k].iov_len - (k == e->nr_in - 1 ? 1 : 0));
		}
		break;
	case BLK_OP_WRITE:
		check(!w->dev.is_readonly);
		check(req->nr_data_iov <= e->nr_out);
		check(iov_inside(req->data_iov, req->nr_data_iov, out, e->nr_out));
		check(iov_sum(req->data_iov, req->nr_data_iov) == req->data_bytes);
		check(req->data_bytes + 16 == e->out_bytes);
		check(req->data_bytes % 512 == 0);
		check(req->offset_bytes / 512 + req->data_bytes / 512 <= w->dev.capacity_sectors);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		check(!w->dev.is_readonly);
		check(req->op == BLK_OP_DISCARD ? w->dev.has_discard : w->dev.has_write_zeroes);
		check(req->nr_segs >= 1 && req->nr_segs <= BLK_MAX_DWZ_SEG);
		for (unsigned int k = 0; k < req->nr_segs; k++) {
			check(req->segs[k].offset_bytes % 512 == 0);
			check(req->segs[k].offset_bytes / 512 + req->segs[k].len_bytes / 512 <=
			      w->dev.capacity_sectors);
			check(!(req->op == BLK_OP_DISCARD && req->segs[k].is_unmap));
		}
		break;
	case BLK_OP_FLUSH:
		break;
	case BLK_OP_NONE:
		check(req->status == VIRTIO_BLK_S_OK || req->status == VIRTIO_BLK_S_IOERR ||
		      req->status == VIRTIO_BLK_S_UNSUPP);
		break;
	default:
		check(!"unknown op");
	}
}

static void check_popped(struct world *w, const struct vq_elem *e, const struct model *mo)
{
	check(e->head < w->num);
	check(e->nr_out + e->nr_in <= w->max_iov);
	check(e->nr_out + e->nr_in == mo->nr_iov);
	check(e->out_bytes == mo->out_bytes && e->in_bytes == mo->in_bytes);
	check(iov_sum(e->iov, e->nr_out) == e->out_bytes);
	check(iov_sum(e->iov + e->nr_out, e->nr_in) == e->in_bytes);
	for (unsigned int k = 0; k < e->nr_out + e->nr_in; k++) {
		check(e->iov[k].iov_len > 0);
		check(host_ok(w, e->iov[k].iov_base, e->iov[k].iov_len,
			      k < e->nr_out ? MEM_READ : MEM_WRITE));
	}
}

/* What the device may only read is as the driver wrote it. */
static void check_snapshots(struct world *w)
{
	for (unsigned int i = 0; i < NR_MAPS; i++) {
		struct map *m = &w->maps[i];

		if (m->snapshot)
			check(memcmp(m->snapshot, m->host, m->len) == 0);
	}
}

/* Expected head order: the avail entries, heads outside the table skipped. */
static int next_head(struct world *w, uint16_t *idx, uint16_t avail_idx)
{
	while (*idx != avail_idx) {
		uint16_t head = le16toh(w->avail->ring[*idx % w->num]);

		(*idx)++;
		if (head < w->num)
			return head;
	}
	return -1;
}

/*
 * A chain vq_pop() returned (@r): checked against the model @mo, then
 * served as blk/queue.c does.  Returns the used length to push.
 */
static uint32_t serve_chain(struct world *w, const struct fz_hdr *h, const struct vq *vq,
			    struct blk_req *req, struct iovec *orig, int r, const struct model *mo,
			    unsigned int *nr_done)
{
	static const int results[4] = { 0, -EIO, -EOPNOTSUPP, 0 };
	int res;
	uint8_t want;
	uint32_t len;

	/* The device could not hold a valid chain: it fails it where the status is. */
	check((r == -ENOMEM) == (mo->is_valid && mo->is_device_fault));
	if (r == -ENOMEM) {
		check(req->elem.fault == -E2BIG);
		check(req->elem.last_in_iova == mo->last_in_iova);
		return 0;
	}
	/* used.len is 32 bits: refusing a chain of more than 4 GiB is fine too. */
	if (!(mo->is_valid && mo->is_oversize && r == -EINVAL))
		check((r == 1) == mo->is_valid);
	if (r == -EINVAL) {
		check(vq_last_err(vq) != VQ_ERR_NONE);
		return 0;
	}
	check_popped(w, &req->elem, mo);
	memcpy(orig, req->elem.iov, w->max_iov * sizeof(*orig));
	r = blk_req_parse(&w->dev, req);
	check((r < 0) == (req->elem.in_bytes < 1 || req->elem.out_bytes < 16));
	if (r < 0)
		return 0;
	check_request(w, req, orig);
	res = results[(h->results >> (2 * ((*nr_done)++ % 4))) & 3];
	want = req->status;
	if (req->op != BLK_OP_NONE) {
		backend_touch(req);
		want = res == 0 ? VIRTIO_BLK_S_OK :
		       res == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
	}
	len = blk_req_finish(req, res);
	check(*req->status_ptr == want);
	check(len >= 1 && len <= req->elem.in_bytes);
	if (want != VIRTIO_BLK_S_OK)
		check(len == 1);
	else if (req->op == BLK_OP_READ)
		check(len == req->elem.in_bytes);
	return len;
}

static void serve(struct world *w, const struct fz_hdr *h)
{
	struct iovec *iov = calloc(w->max_iov, sizeof(*iov));
	struct iovec *orig = calloc(w->max_iov, sizeof(*iov));
	struct blk_req *req = calloc(1, sizeof(*req));
	uint16_t avail_idx = le16toh(w->avail->idx), model_idx = h->last_avail_idx;
	bool is_ring_broken = (uint16_t)(avail_idx - h->last_avail_idx) > w->num;
	unsigned int nr_pushed = 0, nr_done = 0;
	struct vq vq;
	int r;

	if (!iov || !orig || !req)
		abort();
	r = vq_init(&vq, &w->mem,
		    &(struct vq_config){
			    .layout = VQ_LAYOUT_SPLIT, .num = w->num, .desc_iova = FZ_RING_IOVA,
			    .driver_iova = FZ_RING_IOVA + 16u * w->num,
			    .device_iova = FZ_RING_IOVA + ((uint8_t *)w->used - w->ring),
			    .has_event_idx = h->flags & FZ_F_EVENT_IDX,
		    },
		    &(struct vq_state){ .avail = h->last_avail_idx });
	check(r == 0);
	req->elem.iov = iov;
	vq_disable_notify(&vq);
	for (unsigned int round = 0; round < 2u * w->num + 2u; round++) {
		struct model mo;
		int head;

		r = vq_pop(&vq, &req->elem, w->max_iov);
		if (is_ring_broken) {
			check(r == -EIO && vq.is_broken);
			break;
		}
		head = next_head(w, &model_idx, avail_idx);
		if (head < 0) {
			check(r == 0);
			break;
		}
		check(r == 1 || r == -EINVAL || r == -ENOMEM);
		check(req->elem.head == head);
		mo = model_chain(w, (uint16_t)head);
		vq_push(&vq, req->elem.head, serve_chain(w, h, &vq, req, orig, r, &mo, &nr_done));
		nr_pushed++;
		if (round % 3 == 2) {
			vq_flush(&vq);
			vq_should_notify(&vq);
		}
	}
	vq_flush(&vq);
	vq_should_notify(&vq);
	vq_enable_notify(&vq);
	check(le16toh(w->used->idx) == nr_pushed % 65536u);
	check(vq_has_avail(&vq) == (le16toh(w->avail->idx) != vq.state.avail));
	check_snapshots(w);
	vq_exit(&vq);
	free(iov);
	free(orig);
	free(req);
}

/* ---- the packed ring: a model of its own ---------------------------------- */

/* One buffer of a packed list, in the walk's order; false: malformed. */
static bool pmodel_buffer(struct world *w, struct model *mo, uint64_t addr, uint32_t len,
			  bool is_write, bool *saw_write, uint32_t *nr_bufs)
{
	uint64_t end;

	if (__builtin_add_overflow(addr, (uint64_t)len, &end))
		return false;
	if (is_write) {
		*saw_write = true;
		if (len)
			mo->last_in_iova = end - 1;
	} else if (*saw_write) {
		return false;                    /* readable after writable, even empty */
	}
	if (++*nr_bufs > w->max_chain)
		return false;
	/* Past the device's own fault only the list's structure counts. */
	if (!mo->is_device_fault) {
		int segs = model_segments(w, addr, len, is_write ? MEM_WRITE : MEM_READ,
					  (int)(w->max_iov - mo->nr_iov));

		if (segs < 0)
			return false;
		mo->nr_iov += segs;
		if (mo->nr_iov > w->max_iov)
			mo->is_device_fault = true;
	}
	if (is_write)
		mo->in_bytes += len;
	else
		mo->out_bytes += len;
	return true;
}

/*
 * A list of @n descriptors (virtio 1.2, 2.8.6-2.8.8): direct descriptors, or
 * one indirect descriptor alone without NEXT whose table is read whole
 * (NEXT and IDs in it mean nothing, INDIRECT is not allowed).
 */
static struct model pmodel_list(struct world *w, const struct vring_packed_desc *d, uint16_t n)
{
	struct vring_packed_desc itab[VQ_MAX_SIZE];
	struct model mo = { .last_in_iova = VQ_NO_STATUS };
	struct model bad = mo;
	bool saw_write = false;
	uint32_t nr_bufs = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint64_t addr = le64toh(d[i].addr), end;
		uint32_t len = le32toh(d[i].len), size;
		uint16_t flags = le16toh(d[i].flags);

		if (!(flags & VRING_DESC_F_INDIRECT)) {
			if (!pmodel_buffer(w, &mo, addr, len, flags & VRING_DESC_F_WRITE, &saw_write,
					   &nr_bufs))
				return bad;
			continue;
		}
		if ((flags & VRING_DESC_F_NEXT) || n > 1)
			return bad;
		if (len == 0 || len % 16 || len / 16 > w->max_chain)
			return bad;
		if (__builtin_add_overflow(addr, (uint64_t)len, &end) ||
		    !model_read(w, addr, itab, len))
			return bad;
		size = len / 16;
		for (uint32_t j = 0; j < size; j++) {
			uint16_t tflags = le16toh(itab[j].flags);

			if (tflags & VRING_DESC_F_INDIRECT)
				return bad;
			if (!pmodel_buffer(w, &mo, le64toh(itab[j].addr), le32toh(itab[j].len),
					   tflags & VRING_DESC_F_WRITE, &saw_write, &nr_bufs))
				return bad;
		}
	}
	mo.is_valid = true;
	mo.is_oversize = mo.in_bytes > UINT32_MAX || mo.out_bytes > UINT32_MAX;
	return mo;
}

/* The driver's ring as the model sees it. */
struct pring {
	uint16_t avail_idx, used_idx;
	bool avail_wrap, used_wrap;
	uint32_t nr_inflight;                    /* slots */
	uint32_t nr_unflushed;                   /* slots of used entries pushed, not flushed */
	uint16_t nr_descs[256];                  /* by ID: slots of the list popped last */
	struct vring_packed_desc *expect;        /* the ring as it must be */
	uint16_t nr_pending;                     /* used entries not flushed */
	uint16_t pending_idx[256], pending_flags[256];
	uint32_t used_abs, signalled_abs;        /* slots the used position moved */
	bool has_signalled;
};

enum { PR_EMPTY, PR_BROKEN, PR_LIST };

static uint16_t pr_pos(uint16_t idx, bool wrap)
{
	return (uint16_t)(idx | (wrap ? VQ_POS_WRAP : 0));
}

static bool pr_avail(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) != wrap;
}

static bool pr_used(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) == wrap;
}

/*
 * The next list at the model's avail position: its descriptors (from the
 * live ring), length and ID; PR_BROKEN when no list can be taken and
 * nothing returned: marked used by the driver for this lap, a later
 * descriptor not available for its lap, longer than the slots not in
 * flight, an ID outside the ring.
 */
static int pring_take(struct world *w, struct pring *pr, struct vring_packed_desc *out,
		      uint16_t *ret_n, uint16_t *ret_id)
{
	uint16_t idx = pr->avail_idx, n = 0, flags;
	bool wrap = pr->avail_wrap;

	flags = le16toh(w->pdesc[idx].flags);
	if (!pr_avail(flags, wrap))
		return pr_used(flags, wrap) ? PR_BROKEN : PR_EMPTY;
	for (;;) {
		if (pr->nr_inflight + n + 1u > w->num)
			return PR_BROKEN;
		out[n] = w->pdesc[idx];
		flags = le16toh(out[n].flags);
		if (n && !pr_avail(flags, wrap))
			return PR_BROKEN;
		n++;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (++idx == w->num) {
			idx = 0;
			wrap = !wrap;
		}
	}
	*ret_id = le16toh(out[n - 1].id);
	if (*ret_id >= w->num)
		return PR_BROKEN;
	*ret_n = n;
	pr->avail_idx = idx + 1u == w->num ? 0 : idx + 1u;
	pr->avail_wrap = idx + 1u == w->num ? !wrap : wrap;
	pr->nr_inflight += n;
	pr->nr_descs[*ret_id] = n;
	return PR_LIST;
}

/* The used descriptor the device must write for (@id, @len), and the slots it skips. */
static void pring_push(struct world *w, struct pring *pr, uint16_t id, uint32_t len)
{
	struct vring_packed_desc *e = &pr->expect[pr->used_idx];
	uint16_t n = 1, flags = (pr->used_wrap ? F_AVAIL | F_USED : 0) |
				(len ? VRING_DESC_F_WRITE : 0);

	if (id < w->num && pr->nr_descs[id]) {
		n = pr->nr_descs[id];
		pr->nr_descs[id] = 0;
	}
	e->id = htole16(id);
	e->len = htole32(len);
	/* Every entry of the batch is marked used at the flush (the first one last). */
	if (pr->nr_pending < 256) {
		pr->pending_idx[pr->nr_pending] = pr->used_idx;
		pr->pending_flags[pr->nr_pending++] = flags;
	}
	pr->used_idx += n;
	if (pr->used_idx >= w->num) {
		pr->used_idx -= w->num;
		pr->used_wrap = !pr->used_wrap;
	}
	pr->used_abs += n;
	/* The slots stay the device's until the flush shows the driver the entry. */
	pr->nr_unflushed += n;
}

/*
 * Does the driver want an interrupt?  Counted on a line of its own: the
 * used position moved from old_abs to used_abs slots past the start; the
 * event names a slot and a lap parity, i.e. a place mod 2 * size.
 */
static bool pring_notify(struct world *w, struct pring *pr, bool has_event_idx)
{
	uint16_t flags = le16toh(w->drv_event->flags), ev = le16toh(w->drv_event->off_wrap);
	uint32_t old = pr->signalled_abs, two = 2u * w->num, from, at;
	bool was = pr->has_signalled;

	pr->signalled_abs = pr->used_abs;
	pr->has_signalled = true;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !has_event_idx)
		return true;
	if ((ev & VQ_POS_IDX_MASK) >= w->num || !was)
		return true;
	from = ((w->start_used & VQ_POS_IDX_MASK) + old) % two;
	at = (ev & VQ_POS_IDX_MASK) +
	     (!!(ev & VQ_POS_WRAP) != !!(w->start_used & VQ_POS_WRAP) ? w->num : 0u);
	return (at + two - from) % two < pr->used_abs - old;
}

/* Does any writable iovec of @e land in the rings (a driver aliasing them)? */
static bool writes_rings(struct world *w, const struct vq_elem *e)
{
	for (unsigned int k = e->nr_out; k < e->nr_out + e->nr_in; k++) {
		const uint8_t *p = e->iov[k].iov_base;

		if (p < w->ring + w->ring_bytes && p + e->iov[k].iov_len > w->ring)
			return true;
	}
	return false;
}

struct pserve {
	struct world *w;
	struct vq *vq;
	struct pring pr;
	bool is_dirty;                   /* the backend wrote into the rings: no ring checks */
	uint16_t published;              /* the used position the driver can see */
	struct { uint16_t id; uint32_t len; } late[4];
	unsigned int nr_late;
	uint32_t rng;
};

static void ps_push(struct pserve *ps, uint16_t id, uint32_t len)
{
	struct vq_state st;

	vq_push(ps->vq, id, len);
	pring_push(ps->w, &ps->pr, id, len);
	vq_get_state(ps->vq, &st);
	check(st.used == pr_pos(ps->pr.used_idx, ps->pr.used_wrap));
}

/* The ring is what the model expects: the batch not visible until the flush. */
static void ps_check_ring(struct pserve *ps)
{
	if (!ps->is_dirty)
		check(memcmp(ps->pr.expect, ps->w->pdesc, 16u * ps->w->num) == 0);
}

/*
 * vq_used_seen() found the batch from @published not visible: slots up to
 * @pending the driver sees as used in their lap become "available" again.
 */
static void pring_unmark(struct world *w, struct pring *pr, uint16_t published, uint16_t pending)
{
	int n = (int)(pending & VQ_POS_IDX_MASK) - (int)(published & VQ_POS_IDX_MASK);
	uint16_t idx = published & VQ_POS_IDX_MASK;
	bool wrap = published & VQ_POS_WRAP;

	if ((published & VQ_POS_WRAP) != (pending & VQ_POS_WRAP))
		n += w->num;
	if (n < 0 || n > w->num)
		return;
	for (int i = 0; i < n; i++) {
		if (pr_used(le16toh(pr->expect[idx].flags), wrap))
			pr->expect[idx].flags = htole16(wrap ? F_AVAIL : F_USED);
		if (++idx == w->num) {
			idx = 0;
			wrap = !wrap;
		}
	}
}

static void ps_flush(struct pserve *ps, bool has_event_idx)
{
	struct pring *pr = &ps->pr;
	uint16_t pending = pr_pos(pr->used_idx, pr->used_wrap);
	bool is_seen;

	ps_check_ring(ps);
	if (!ps->is_dirty) {
		uint16_t f = le16toh(pr->expect[ps->published & VQ_POS_IDX_MASK].flags);
		bool wrap = ps->published & VQ_POS_WRAP;
		uint16_t seen = vq_used_seen(ps->vq, ps->published, pending);

		/*
		 * Seen: used for its lap, or available for the next (the driver
		 * took it and reused the slot).  Not seen: available for its
		 * lap.  Anything else fits neither position.
		 */
		is_seen = pr_used(f, wrap) || pr_avail(f, !wrap);
		if (ps->published == pending || (!is_seen && pr_avail(f, wrap)))
			check(seen == ps->published);
		else if (is_seen)
			check(seen == pending);
		else
			check(seen != ps->published && seen != pending);
		if (ps->published != pending && !is_seen && pr_avail(f, wrap))
			pring_unmark(ps->w, pr, ps->published, pending);
	}
	vq_flush(ps->vq);
	for (uint16_t i = 0; i < pr->nr_pending; i++)
		pr->expect[pr->pending_idx[i]].flags = htole16(pr->pending_flags[i]);
	pr->nr_pending = 0;
	pr->nr_inflight -= pr->nr_unflushed < pr->nr_inflight ? pr->nr_unflushed : pr->nr_inflight;
	pr->nr_unflushed = 0;
	ps_check_ring(ps);
	if (!ps->is_dirty && ps->published != pending)
		check(vq_used_seen(ps->vq, ps->published, pending) == pending);
	ps->published = pending;
	check(vq_should_notify(ps->vq) == pring_notify(ps->w, pr, has_event_idx));
}

/* Push one of the late completions, drawn by the input's order byte. */
static void ps_push_late(struct pserve *ps)
{
	unsigned int at;

	ps->rng = ps->rng * 1103515245u + 12345u;
	at = (ps->rng >> 16) % ps->nr_late;
	ps_push(ps, ps->late[at].id, ps->late[at].len);
	ps->late[at] = ps->late[--ps->nr_late];
}

static void serve_packed(struct world *w, const struct fz_hdr *h)
{
	struct iovec *iov = calloc(w->max_iov, sizeof(*iov));
	struct iovec *orig = calloc(w->max_iov, sizeof(*iov));
	struct blk_req *req = calloc(1, sizeof(*req));
	struct vring_packed_desc *mdescs = calloc(w->num, sizeof(*mdescs));
	bool has_event_idx = h->flags & FZ_F_EVENT_IDX, is_late = h->regions[0].is_adjacent;
	bool in_flight[256] = { false };
	unsigned int nr_done = 0;
	struct pserve ps = { .w = w, .rng = h->regions[0].is_adjacent };
	struct vq_state st;
	struct vq vq;
	int r;

	ps.pr.expect = calloc(w->num, sizeof(*ps.pr.expect));
	if (!iov || !orig || !req || !mdescs || !ps.pr.expect)
		abort();
	memcpy(ps.pr.expect, w->pdesc, 16u * w->num);
	ps.vq = &vq;
	ps.pr.avail_idx = w->start & VQ_POS_IDX_MASK;
	ps.pr.avail_wrap = w->start & VQ_POS_WRAP;
	ps.pr.used_idx = w->start_used & VQ_POS_IDX_MASK;
	ps.pr.used_wrap = w->start_used & VQ_POS_WRAP;
	if ((w->start ^ w->start_used) & VQ_POS_WRAP)
		ps.pr.nr_inflight = w->num + (w->start & VQ_POS_IDX_MASK) -
				    (w->start_used & VQ_POS_IDX_MASK);
	else
		ps.pr.nr_inflight = (w->start & VQ_POS_IDX_MASK) - (w->start_used & VQ_POS_IDX_MASK);
	ps.published = w->start_used;

	r = vq_init(&vq, &w->mem,
		    &(struct vq_config){
			    .layout = VQ_LAYOUT_PACKED, .num = w->num, .desc_iova = FZ_RING_IOVA,
			    .driver_iova = w->maps[DRV_EVENT_MAP].iova,
			    .device_iova = w->maps[USED_MAP].iova, .has_event_idx = has_event_idx,
		    },
		    &(struct vq_state){ .avail = w->start, .used = w->start_used });
	check(r == 0);
	if (w->max_chain != w->num)
		check(vq_accept_chains(&vq, w->max_chain) == 0);
	req->elem.iov = iov;
	vq_disable_notify(&vq);
	check(le16toh(w->dev_event->flags) == VRING_PACKED_EVENT_FLAG_DISABLE);
	for (unsigned int round = 0; round < 2u * w->num + 2u; round++) {
		struct model mo;
		uint16_t id = 0, n = 0;
		uint32_t len;
		int kind;

		r = vq_pop(&vq, &req->elem, w->max_iov);
		kind = pring_take(w, &ps.pr, mdescs, &n, &id);
		if (kind == PR_BROKEN) {
			check(r == -EIO && vq_is_broken(&vq));
			break;
		}
		if (kind == PR_EMPTY) {
			check(r == 0);
			break;
		}
		check(r == 1 || r == -EINVAL || r == -ENOMEM);
		check(req->elem.head == id && req->elem.nr_descs == n);
		/* The list as read: what the journal would keep of it. */
		check(memcmp(vq.packed.chain, mdescs, n * sizeof(*mdescs)) == 0);
		vq_get_state(&vq, &st);
		check(st.avail == pr_pos(ps.pr.avail_idx, ps.pr.avail_wrap));
		mo = pmodel_list(w, mdescs, n);
		/* Before serving: parsing trims the status byte off the iovecs. */
		if (r == 1 && writes_rings(w, &req->elem))
			ps.is_dirty = true;
		len = serve_chain(w, h, &vq, req, orig, r, &mo, &nr_done);
		/* An ID made available again while in flight: blk/queue.c stops serving. */
		if (in_flight[id])
			break;
		if (!is_late) {
			ps_push(&ps, id, len);
		} else {
			if (ps.nr_late == 4)
				ps_push_late(&ps);
			ps.late[ps.nr_late].id = id;
			ps.late[ps.nr_late].len = len;
			ps.nr_late++;
			ps.rng = ps.rng * 1103515245u + 12345u;
			if ((ps.rng >> 20) % 3 == 0)
				ps_push_late(&ps);
			for (unsigned int k = 0; k < 256; k++)
				in_flight[k] = false;
			for (unsigned int k = 0; k < ps.nr_late; k++)
				in_flight[ps.late[k].id] = true;
		}
		if (round % 3 == 2)
			ps_flush(&ps, has_event_idx);
	}
	while (ps.nr_late)
		ps_push_late(&ps);
	ps_flush(&ps, has_event_idx);
	/* Kicks on again: true when the slot at avail is available (even on a broken ring). */
	check(vq_enable_notify(&vq) ==
	      pr_avail(le16toh(w->pdesc[ps.pr.avail_idx].flags), ps.pr.avail_wrap));
	if (!ps.is_dirty)
		check(le16toh(w->dev_event->flags) == VRING_PACKED_EVENT_FLAG_ENABLE);
	vq_get_state(&vq, &st);
	check(st.used == pr_pos(ps.pr.used_idx, ps.pr.used_wrap));
	check_snapshots(w);
	vq_exit(&vq);
	free(ps.pr.expect);
	free(iov);
	free(orig);
	free(req);
	free(mdescs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	huge_host = mmap(NULL, FZ_HUGE_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (huge_host == MAP_FAILED)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	struct fz_hdr h;
	struct world w;

	build(&w, &rd, &h);
	if (w.is_packed)
		serve_packed(&w, &h);
	else
		serve(&w, &h);
	world_free(&w);
	return 0;
}
