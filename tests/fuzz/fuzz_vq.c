// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the split virtqueue and virtio-blk parsing over a fuzzed
 * ring and memory image (the input format is in fuzz_vq.h).
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
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blk.h"
#include "fuzz_vq.h"
#include "vq.h"

#define NR_MAPS (FZ_NR_REGIONS + 3)
#define USED_MAP (NR_MAPS - 1)
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
		if (i >= 2 && i != USED_MAP && w->maps[i].host != huge_host)
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

static void build(struct world *w, struct reader *rd, struct fz_hdr *h)
{
	struct fz_desc tdesc[FZ_NR_TABLES][FZ_MAX_TABLE];
	uint8_t tnr[FZ_NR_TABLES];
	uint64_t iova = FZ_REGION_IOVA;
	size_t used_off;

	memset(w, 0, sizeof(*w));
	w->mem.ops = &fz_mem_ops;
	take(rd, h, sizeof(*h));
	w->num = 1u << (h->queue_log2 % 9);
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

	/*
	 * The rings: desc and avail (+ used_event) in a read-only mapping, used
	 * (+ avail_event) in a write-only one right after it.
	 */
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
		for (unsigned int t = 0; t < FZ_NR_TABLES; t++)
			for (unsigned int k = 0; k < tnr[t]; k++)
				((struct vring_desc *)(w->tables + (w->table_iova[t] - FZ_TABLE_IOVA)))[k] =
					make_desc(w, &tdesc[t][k]);
		for (unsigned int i = 0; i < w->num; i++)
			w->desc[i] = make_desc(w, &fd[i]);
		free(fd);
	}

	/* What the driver put in its buffers. */
	for (unsigned int i = 0; i < FZ_NR_REGIONS; i++)
		take(rd, w->maps[2 + i].host,
		     w->maps[2 + i].host == huge_host ? FZ_MAX_REGION : w->maps[2 + i].len);

	/* What the device may only read must stay as it is. */
	snapshot(&w->maps[0], w->ro_ring_bytes);
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
		/* The device could not hold a valid chain: it fails it where the status is. */
		check((r == -ENOMEM) == (mo.is_valid && mo.is_device_fault));
		if (r == -ENOMEM) {
			check(req->elem.fault == -E2BIG);
			check(req->elem.last_in_iova == mo.last_in_iova);
			vq_push(&vq, req->elem.head, 0);
			nr_pushed++;
			continue;
		}
		/* used.len is 32 bits: refusing a chain of more than 4 GiB is fine too. */
		if (!(mo.is_valid && mo.is_oversize && r == -EINVAL))
			check((r == 1) == mo.is_valid);
		if (r == -EINVAL) {
			check(vq.last_err != VQ_ERR_NONE);
			vq_push(&vq, req->elem.head, 0);
			nr_pushed++;
			continue;
		}
		check_popped(w, &req->elem, &mo);
		memcpy(orig, iov, w->max_iov * sizeof(*iov));
		r = blk_req_parse(&w->dev, req);
		check((r < 0) == (req->elem.in_bytes < 1 || req->elem.out_bytes < 16));
		if (r < 0) {
			vq_push(&vq, req->elem.head, 0);
			nr_pushed++;
			continue;
		}
		check_request(w, req, orig);
		{
			static const int results[4] = { 0, -EIO, -EOPNOTSUPP, 0 };
			int res = results[(h->results >> (2 * (nr_done++ % 4))) & 3];
			uint8_t want = req->status;
			uint32_t len;

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
			vq_push(&vq, req->elem.head, len);
			nr_pushed++;
		}
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

	for (unsigned int i = 0; i < NR_MAPS; i++) {
		struct map *m = &w->maps[i];

		if (m->snapshot)
			check(memcmp(m->snapshot, m->host, m->len) == 0);
	}
	vq_exit(&vq);
	free(iov);
	free(orig);
	free(req);
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
	serve(&w, &h);
	world_free(&w);
	return 0;
}
