// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The split virtqueue on rings built in an hmem address space: vq_pop() on
 * good and malformed chains (vq->last_err for each), vq_push()/vq_flush(),
 * and the notification logic with and without EVENT_IDX.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "hdrv.h"
#include "virtio/vq.h"

#define PAGE 4096u
#define ARENA_IOVA 0x10000ULL
#define ARENA_BYTES (256u * 1024)
#define RO_IOVA 0x100000ULL       /* a read-only region */
#define WO_IOVA 0x200000ULL       /* a write-only region */
#define SPLIT_IOVA 0x300000ULL    /* two adjacent regions, unrelated host memory */
#define MAX_IOV 64

struct fix {
	struct hmem hm;
	uint8_t *map, *arena;
	/* Host memory of the small regions; ro and wo also hold indirect tables. */
	uint8_t ro[PAGE] __attribute__((aligned(16)));
	uint8_t wo[PAGE] __attribute__((aligned(16)));
	uint8_t split_a[PAGE], split_b[PAGE];
	uint16_t num;
	uint64_t desc_iova, avail_iova, used_iova, next;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;
	struct vq vq;
	struct iovec iov[MAX_IOV];
	struct vq_elem elem;
};

static struct fix fx;

static uint64_t alloc(uint64_t bytes)
{
	uint64_t off = (fx.next + 15) & ~15ULL;

	assert_true(off + bytes <= ARENA_BYTES);
	fx.next = off + bytes;
	return ARENA_IOVA + off;
}

static void *ptr(uint64_t iova)
{
	return fx.arena + (iova - ARENA_IOVA);
}

/* The split ring's vq_init() with the ring addresses and avail index as arguments. */
static int init_split(struct vq *vq, struct mem *mem, uint16_t num, uint64_t desc_iova,
		      uint64_t avail_iova, uint64_t used_iova, uint16_t last_avail_idx,
		      bool has_event_idx)
{
	const struct vq_config cfg = {
		.layout = VQ_LAYOUT_SPLIT, .num = num, .desc_iova = desc_iova,
		.driver_iova = avail_iova, .device_iova = used_iova,
		.has_event_idx = has_event_idx,
	};
	const struct vq_state st = { .avail = last_avail_idx };

	return vq_init(vq, mem, &cfg, &st);
}

/* Lay out rings for @num in a fresh arena (guard pages around it). */
static void rings(uint16_t num)
{
	fx.num = num;
	fx.next = 0;
	fx.desc_iova = alloc(16ULL * num);
	fx.avail_iova = alloc(6ULL + 2ULL * num);
	fx.used_iova = alloc(6ULL + 8ULL * num);
	fx.desc = ptr(fx.desc_iova);
	fx.avail = ptr(fx.avail_iova);
	fx.used = ptr(fx.used_iova);
}

static int init(uint16_t num, bool has_event_idx, uint16_t last_avail_idx)
{
	rings(num);
	fx.avail_idx = last_avail_idx;
	fx.avail->idx = htole16(last_avail_idx);
	return init_split(&fx.vq, &fx.hm.mem, num, fx.desc_iova, fx.avail_iova, fx.used_iova,
		       last_avail_idx, has_event_idx);
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.map = mmap(NULL, ARENA_BYTES + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fx.map == MAP_FAILED)
		return -1;
	if (mprotect(fx.map + PAGE, ARENA_BYTES, PROT_READ | PROT_WRITE) < 0)
		return -1;
	fx.arena = fx.map + PAGE;
	hmem_init(&fx.hm);
	hmem_add(&fx.hm, ARENA_IOVA, ARENA_BYTES, MEM_READ | MEM_WRITE, fx.arena);
	hmem_add(&fx.hm, RO_IOVA, PAGE, MEM_READ, fx.ro);
	hmem_add(&fx.hm, WO_IOVA, PAGE, MEM_WRITE, fx.wo);
	hmem_add(&fx.hm, SPLIT_IOVA, PAGE, MEM_READ | MEM_WRITE, fx.split_a);
	hmem_add(&fx.hm, SPLIT_IOVA + PAGE, PAGE, MEM_READ | MEM_WRITE, fx.split_b);
	fx.elem.iov = fx.iov;
	return init(8, false, 0);
}

static int teardown(void **state)
{
	(void)state;
	vq_exit(&fx.vq);
	munmap(fx.map, ARENA_BYTES + 2 * PAGE);
	return 0;
}

static void set_desc(struct vring_desc *table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	table[i].addr = htole64(addr);
	table[i].len = htole32(len);
	table[i].flags = htole16(flags);
	table[i].next = htole16(next);
}

static void publish(uint16_t head)
{
	fx.avail->ring[fx.avail_idx % fx.num] = htole16(head);
	fx.avail_idx++;
	fx.avail->idx = htole16(fx.avail_idx);
}

static int pop(unsigned int max_iov)
{
	return vq_pop(&fx.vq, &fx.elem, max_iov);
}

/* A request-shaped chain from @first: header (16, R), data (512, R), status (1, W). */
struct bufs {
	uint64_t hdr, data, status;
};

static struct bufs bufs(void)
{
	struct bufs b = { alloc(16), alloc(512), alloc(1) };

	return b;
}

static uint16_t good_chain(struct vring_desc *table, uint16_t first, const struct bufs *b)
{
	set_desc(table, first, b->hdr, 16, VRING_DESC_F_NEXT, first + 1);
	set_desc(table, first + 1, b->data, 512, VRING_DESC_F_NEXT, first + 2);
	set_desc(table, first + 2, b->status, 1, VRING_DESC_F_WRITE, 0);
	return first;
}

static void assert_good_elem(uint16_t head, const struct bufs *b)
{
	assert_int_equal(fx.elem.head, head);
	assert_int_equal(fx.elem.nr_out, 2);
	assert_int_equal(fx.elem.nr_in, 1);
	assert_int_equal(fx.elem.out_bytes, 528);
	assert_int_equal(fx.elem.in_bytes, 1);
	assert_ptr_equal(fx.iov[0].iov_base, ptr(b->hdr));
	assert_int_equal(fx.iov[0].iov_len, 16);
	assert_ptr_equal(fx.iov[1].iov_base, ptr(b->data));
	assert_int_equal(fx.iov[1].iov_len, 512);
	assert_ptr_equal(fx.iov[2].iov_base, ptr(b->status));
	assert_int_equal(fx.iov[2].iov_len, 1);
}

/* The chain at @head is rejected for @err, consumed, and the next good one pops. */
static void assert_bad(uint16_t head, enum vq_err err)
{
	struct bufs b = bufs();
	uint64_t nr_bad = fx.vq.nr_bad_chains;
	uint16_t good = (uint16_t)(fx.num - 3);

	publish(head);
	assert_int_equal(pop(MAX_IOV), -EINVAL);
	assert_int_equal(fx.elem.head, head);
	assert_string_equal(vq_err_str(fx.vq.last_err), vq_err_str(err));
	assert_int_equal(fx.vq.last_err, err);
	assert_int_equal(fx.vq.nr_bad_chains, nr_bad + 1);
	assert_false(fx.vq.is_broken);
	assert_int_equal(fx.vq.state.avail, fx.avail_idx);
	assert_false(vq_has_avail(&fx.vq));

	good_chain(fx.desc, good, &b);
	publish(good);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(good, &b);
}

/* ---- vq_init ------------------------------------------------------------ */

static void test_init(void **state)
{
	(void)state;
	vq_exit(&fx.vq);
	assert_int_equal(init(0, false, 0), -EINVAL);
	assert_int_equal(init(VQ_MAX_SIZE + 1, false, 0), -EINVAL);
	assert_int_equal(init(VQ_MAX_SIZE, false, 0), 0);
	vq_exit(&fx.vq);

	/* Unmapped, or mapped without the permission the ring needs. */
	rings(8);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, 0x1000, fx.avail_iova, fx.used_iova, 0,
				 false), -EFAULT);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova, RO_IOVA, 0,
				 false), -EFAULT);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, WO_IOVA, fx.avail_iova, fx.used_iova, 0,
				 false), -EFAULT);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, WO_IOVA, fx.used_iova, 0,
				 false), -EFAULT);
	/* A ring running off its region, and one across two regions. */
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, RO_IOVA + PAGE - 64, fx.avail_iova,
				 fx.used_iova, 0, false), -EFAULT);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, SPLIT_IOVA + PAGE - 64, fx.avail_iova,
				 fx.used_iova, 0, false), -EFAULT);
	/* Misaligned rings (16, 2, 4). */
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova + 8, fx.avail_iova,
				 fx.used_iova, 0, false), -EINVAL);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova + 1,
				 fx.used_iova, 0, false), -EINVAL);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova,
				 fx.used_iova + 2, 0, false), -EINVAL);
	vq_exit(&fx.vq);
	vq_exit(&fx.vq);   /* idempotent */
	vq_exit(NULL);

	/* Resuming: used_idx from used->idx, last_avail_idx as given. */
	rings(8);
	fx.used->idx = htole16(1234);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova, fx.used_iova,
				 1230, false), 0);
	assert_int_equal(fx.vq.state.used, 1234);
	assert_int_equal(fx.vq.state.avail, 1230);
	assert_int_equal(fx.vq.max_chain, 8);
}

static void test_err_str(void **state)
{
	(void)state;
	for (int i = 0; i < VQ_ERR_COUNT; i++) {
		assert_non_null(vq_err_str(i));
		assert_string_not_equal(vq_err_str(i), "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(vq_err_str(i), vq_err_str(j));
	}
	assert_string_equal(vq_err_str(VQ_ERR_COUNT), "unknown");
	assert_string_equal(vq_err_str((enum vq_err)-1), "unknown");
}

/* ---- good chains -------------------------------------------------------- */

static void test_pop_empty(void **state)
{
	(void)state;
	assert_int_equal(pop(MAX_IOV), 0);
	assert_false(vq_has_avail(&fx.vq));
	assert_int_equal(fx.vq.last_err, VQ_ERR_NONE);
}

static void test_pop_direct(void **state)
{
	struct bufs b = bufs();

	(void)state;
	publish(good_chain(fx.desc, 2, &b));
	assert_true(vq_has_avail(&fx.vq));
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(2, &b);
	assert_int_equal(fx.vq.last_err, VQ_ERR_NONE);
	assert_int_equal(fx.vq.state.avail, 1);
	assert_int_equal(pop(MAX_IOV), 0);
}

/* Zero-length buffers add no iovec; a buffer across two regions adds two. */
static void test_pop_zero_len_and_split(void **state)
{
	struct bufs b = bufs();

	(void)state;
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.data, 0, VRING_DESC_F_NEXT, 2);
	set_desc(fx.desc, 2, SPLIT_IOVA + PAGE - 100, 300, VRING_DESC_F_NEXT, 3);
	set_desc(fx.desc, 3, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	set_desc(fx.desc, 4, SPLIT_IOVA + PAGE - 1, 2, VRING_DESC_F_WRITE, 0);
	publish(0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.nr_out, 3);
	assert_int_equal(fx.elem.out_bytes, 316);
	assert_ptr_equal(fx.iov[1].iov_base, fx.split_a + PAGE - 100);
	assert_int_equal(fx.iov[1].iov_len, 100);
	assert_ptr_equal(fx.iov[2].iov_base, fx.split_b);
	assert_int_equal(fx.iov[2].iov_len, 200);
	assert_int_equal(fx.elem.nr_in, 2);
	assert_int_equal(fx.elem.in_bytes, 2);
	assert_ptr_equal(fx.iov[3].iov_base, fx.split_a + PAGE - 1);
	assert_ptr_equal(fx.iov[4].iov_base, fx.split_b);
}

/* The longest legal chains: the whole table, direct or indirect. */
static void test_pop_full_length(void **state)
{
	uint64_t buf = alloc(64), t;
	struct vring_desc *tab;

	(void)state;
	/* Visit every descriptor once, in the order 5, 0, 3, 6, 1, 4, 7, 2. */
	for (uint16_t k = 0, i = 5; k < fx.num; k++, i = (uint16_t)((i + 3) % fx.num))
		set_desc(fx.desc, i, buf + i, 1, k + 1 < fx.num ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)((i + 3) % fx.num));
	publish(5);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.nr_out, fx.num);
	assert_int_equal(fx.elem.out_bytes, fx.num);

	t = alloc(16ULL * fx.num);
	tab = ptr(t);
	for (uint16_t i = 0; i < fx.num; i++)
		set_desc(tab, i, buf, 4, i + 1 < fx.num ? VRING_DESC_F_NEXT : VRING_DESC_F_WRITE,
			 i + 1);
	set_desc(fx.desc, 0, t, 16u * fx.num, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 0);
	assert_int_equal(fx.elem.nr_out, fx.num - 1u);
	assert_int_equal(fx.elem.nr_in, 1);
	assert_int_equal(fx.elem.in_bytes, 4);
}

static void test_pop_indirect(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);

	(void)state;
	good_chain(ptr(t), 0, &b);
	set_desc(fx.desc, 6, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	publish(6);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(6, &b);
	/* The WRITE flag on the indirect descriptor itself is ignored. */
	set_desc(fx.desc, 7, t, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	publish(7);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(7, &b);
}

/* avail->idx wraps at 65536; the ring position is idx % num. */
static void test_pop_avail_wrap(void **state)
{
	struct bufs b = bufs();

	(void)state;
	vq_exit(&fx.vq);
	assert_int_equal(init(8, false, 65534), 0);
	good_chain(fx.desc, 0, &b);
	good_chain(fx.desc, 3, &b);
	for (int k = 0; k < 4; k++)
		publish(k % 2 ? 3 : 0);
	assert_int_equal(le16toh(fx.avail->idx), 2);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(pop(MAX_IOV), 1);
		assert_int_equal(fx.elem.head, k % 2 ? 3 : 0);
	}
	assert_int_equal(fx.vq.state.avail, 2);
	assert_int_equal(pop(MAX_IOV), 0);
}

/* Exactly a queue's worth available is fine. */
static void test_pop_num_available(void **state)
{
	struct bufs b = bufs();

	(void)state;
	set_desc(fx.desc, 0, b.status, 1, VRING_DESC_F_WRITE, 0);
	for (int k = 0; k < fx.num; k++)
		publish(0);
	for (int k = 0; k < fx.num; k++)
		assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(pop(MAX_IOV), 0);
	assert_false(fx.vq.is_broken);
}

/*
 * A driver rewriting a descriptor while the device walks the chain: the
 * device must go on with the copy it validated.  The hook fires on the first
 * lookup of the data buffer, i.e. after descriptor 1 was loaded.
 */
static struct mem_ops hook_ops;
static const struct mem_ops *hmem_ops;
static uint64_t hook_iova;
static int hook_calls;

static void *hook_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len,
			 int *ret_err)
{
	if (iova == hook_iova && hook_calls++ == 0)
		set_desc(fx.desc, 1, 0x1000, 0x7fffffff, VRING_DESC_F_NEXT, 7);
	return hmem_ops->lookup(m, iova, perm, ret_len, ret_err);
}

static void test_pop_desc_read_once(void **state)
{
	struct bufs b = bufs();

	(void)state;
	hmem_ops = fx.hm.mem.ops;
	hook_ops = (struct mem_ops){ .lookup = hook_lookup };
	fx.hm.mem.ops = &hook_ops;
	hook_iova = b.data;
	hook_calls = 0;
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	fx.hm.mem.ops = hmem_ops;
	assert_int_equal(hook_calls, 1);
	assert_int_equal(le32toh(fx.desc[1].len), 0x7fffffff);
	assert_good_elem(0, &b);
}

/* ---- malformed chains --------------------------------------------------- */

static void test_bad_loop(void **state)
{
	struct bufs b = bufs();

	(void)state;
	/* Zero-length descriptors in the cycle: only the bound ends the walk. */
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(fx.desc, 2, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	assert_bad(0, VQ_ERR_LOOP);
	/* A descriptor pointing at itself. */
	set_desc(fx.desc, 3, b.hdr, 0, VRING_DESC_F_NEXT, 3);
	assert_bad(3, VQ_ERR_LOOP);
	/*
	 * Non-empty buffers: the walk stops after the table's size, long
	 * before the iovec list (MAX_IOV) fills up.
	 */
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.data, 512, VRING_DESC_F_NEXT, 2);
	set_desc(fx.desc, 2, b.data, 512, VRING_DESC_F_NEXT, 1);
	assert_true(MAX_IOV > fx.num + 1);
	assert_bad(0, VQ_ERR_LOOP);
}

static void test_bad_loop_indirect(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);
	struct vring_desc *tab = ptr(t);

	(void)state;
	set_desc(tab, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(tab, 1, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(tab, 2, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 0, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_LOOP);
}

static void test_bad_next_range(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);

	(void)state;
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 8);
	assert_bad(0, VQ_ERR_NEXT_RANGE);
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 0xffff);
	assert_bad(0, VQ_ERR_NEXT_RANGE);
	/* In an indirect table of 3, next 3 is out of range (though < num). */
	good_chain(ptr(t), 0, &b);
	set_desc(ptr(t), 1, b.data, 512, VRING_DESC_F_NEXT, 3);
	set_desc(fx.desc, 1, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(1, VQ_ERR_NEXT_RANGE);
}

static void test_bad_head_range(void **state)
{
	struct bufs b = bufs();

	(void)state;
	publish(8);
	publish(0xffff);
	publish(good_chain(fx.desc, 0, &b));
	/* Both bad heads are consumed and skipped; the good one is returned. */
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(0, &b);
	assert_int_equal(fx.vq.last_err, VQ_ERR_HEAD_RANGE);
	assert_int_equal(fx.vq.nr_bad_chains, 2);
	assert_int_equal(vq_nr_skipped_heads(&fx.vq), 2);
	assert_int_equal(fx.vq.state.avail, 3);
	/* A bad head alone: consumed, nothing to return. */
	publish(100);
	assert_int_equal(pop(MAX_IOV), 0);
	assert_int_equal(fx.vq.state.avail, 4);
	assert_int_equal(fx.vq.nr_bad_chains, 3);
	assert_int_equal(vq_nr_skipped_heads(&fx.vq), 3);
	assert_false(fx.vq.is_broken);
}

static void test_bad_avail_idx(void **state)
{
	struct bufs b = bufs();

	(void)state;
	publish(good_chain(fx.desc, 0, &b));
	fx.avail->idx = htole16(fx.num + 1);
	assert_int_equal(pop(MAX_IOV), -EIO);
	assert_true(fx.vq.is_broken);
	assert_int_equal(fx.vq.last_err, VQ_ERR_AVAIL_IDX);
	assert_int_equal(fx.vq.state.avail, 0);
	/* Broken until reset, even when the index looks fine again. */
	fx.avail->idx = htole16(1);
	assert_int_equal(pop(MAX_IOV), -EIO);

	/* Moving backwards is the same: 0xffff ahead. */
	vq_exit(&fx.vq);
	assert_int_equal(init(8, false, 5), 0);
	fx.avail->idx = htole16(4);
	assert_int_equal(pop(MAX_IOV), -EIO);
	assert_int_equal(fx.vq.last_err, VQ_ERR_AVAIL_IDX);
}

static void test_bad_addr_overflow(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(16);

	(void)state;
	good_chain(fx.desc, 0, &b);
	set_desc(fx.desc, 1, UINT64_MAX - 255, 512, VRING_DESC_F_NEXT, 2);
	assert_bad(0, VQ_ERR_ADDR_OVERFLOW);
	/* The indirect table's own address. */
	set_desc(fx.desc, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_ADDR_OVERFLOW);
	/* Inside an indirect table. */
	set_desc(ptr(t), 0, UINT64_MAX, 2, 0, 0);
	set_desc(fx.desc, 0, t, 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_ADDR_OVERFLOW);
}

static void test_bad_fault(void **state)
{
	struct bufs b = bufs();

	(void)state;
	/* Unmapped, and running off the end of the arena. */
	good_chain(fx.desc, 0, &b);
	set_desc(fx.desc, 1, 0x1000, 512, VRING_DESC_F_NEXT, 2);
	assert_bad(0, VQ_ERR_FAULT);
	good_chain(fx.desc, 0, &b);
	set_desc(fx.desc, 1, ARENA_IOVA + ARENA_BYTES - 256, 512, VRING_DESC_F_NEXT, 2);
	assert_bad(0, VQ_ERR_FAULT);
	/* Device-writable buffer in a read-only region. */
	good_chain(fx.desc, 0, &b);
	set_desc(fx.desc, 2, RO_IOVA, 1, VRING_DESC_F_WRITE, 0);
	assert_bad(0, VQ_ERR_FAULT);
	/* Device-readable buffer in a write-only region. */
	good_chain(fx.desc, 0, &b);
	set_desc(fx.desc, 1, WO_IOVA, 512, VRING_DESC_F_NEXT, 2);
	assert_bad(0, VQ_ERR_FAULT);
	/* The indirect table unmapped, or only device-writable. */
	set_desc(fx.desc, 0, 0x2000, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_FAULT);
	good_chain((struct vring_desc *)fx.wo, 0, &b);
	set_desc(fx.desc, 0, WO_IOVA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_FAULT);
	/* ... while a table in read-only memory is fine. */
	good_chain((struct vring_desc *)fx.ro, 0, &b);
	set_desc(fx.desc, 0, RO_IOVA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	publish(0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_good_elem(0, &b);
}

static void test_bad_nested_indirect(void **state)
{
	struct bufs b = bufs();
	uint64_t inner = alloc(3 * 16), outer = alloc(16);

	(void)state;
	good_chain(ptr(inner), 0, &b);
	set_desc(ptr(outer), 0, inner, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(fx.desc, 0, outer, 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_NESTED_INDIRECT);
}

static void test_bad_indirect_len(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(16ULL * 9);

	(void)state;
	good_chain(ptr(t), 0, &b);
	set_desc(fx.desc, 0, t, 40, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);
	set_desc(fx.desc, 0, t, 0, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);
	set_desc(fx.desc, 0, t, 3 * 16 + 1, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);
	/* More entries than the queue size. */
	set_desc(fx.desc, 0, t, 16u * (fx.num + 1u), VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);
	set_desc(fx.desc, 0, t, 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);
}

static void test_bad_indirect_next(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);

	(void)state;
	good_chain(ptr(t), 0, &b);
	set_desc(fx.desc, 1, b.status, 1, VRING_DESC_F_WRITE, 0);
	set_desc(fx.desc, 0, t, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	assert_bad(0, VQ_ERR_INDIRECT_NEXT);
}

static void test_bad_read_after_write(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);

	(void)state;
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(fx.desc, 2, b.data, 512, 0, 0);
	assert_bad(0, VQ_ERR_READ_AFTER_WRITE);
	/* Also inside an indirect table, and with a zero-length readable. */
	set_desc(ptr(t), 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(ptr(t), 1, b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(ptr(t), 2, b.data, 0, 0, 0);
	set_desc(fx.desc, 0, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_READ_AFTER_WRITE);
}

static void test_bad_too_many_segs(void **state)
{
	struct bufs b = bufs();

	(void)state;
	/* More buffers than the device accepts: the driver broke seg_max. */
	assert_int_equal(vq_accept_chains(&fx.vq, 2), 0);
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), -EINVAL);
	assert_int_equal(fx.vq.last_err, VQ_ERR_TOO_MANY_SEGS);
	assert_int_equal(fx.elem.head, 0);
	assert_int_equal(vq_accept_chains(&fx.vq, 3), 0);
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(3), 1);           /* exactly enough */
}

/*
 * A well-formed chain the device cannot hold (its buffers split over more
 * host mappings than it has iovecs): the device's own failure, not the
 * driver's, and the status byte is still found for IOERR.
 */
static void test_out_of_iovecs_is_device_fault(void **state)
{
	struct bufs b = bufs();
	uint64_t nr_bad = fx.vq.nr_bad_chains;

	(void)state;
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(2), -ENOMEM);
	assert_int_equal(fx.elem.fault, -E2BIG);
	assert_int_equal(fx.elem.head, 0);
	assert_int_equal(fx.elem.last_in_iova, b.status);
	assert_int_equal(fx.vq.nr_bad_chains, nr_bad);
	assert_int_equal(fx.vq.nr_device_faults, 1);
	/* One descriptor over two regions needs two iovecs. */
	set_desc(fx.desc, 0, SPLIT_IOVA + PAGE - 8, 16, VRING_DESC_F_WRITE, 0);
	publish(0);
	assert_int_equal(pop(1), -ENOMEM);
	assert_int_equal(fx.elem.last_in_iova, SPLIT_IOVA + PAGE + 7);
	publish(0);
	assert_int_equal(pop(2), 1);
	assert_int_equal(fx.elem.nr_in, 2);
	/* A malformed rest of the chain still makes it the driver's fault. */
	set_desc(fx.desc, 0, SPLIT_IOVA + PAGE - 8, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.data, 512, 0, 0);
	publish(0);
	assert_int_equal(pop(1), -EINVAL);
	assert_int_equal(fx.vq.last_err, VQ_ERR_READ_AFTER_WRITE);
}

/* Defect 9: an empty writable buffer before a readable one is a read after write. */
static void test_bad_empty_write_then_read(void **state)
{
	struct bufs b = bufs();

	(void)state;
	set_desc(fx.desc, 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	set_desc(fx.desc, 1, b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(fx.desc, 2, b.data, 512, VRING_DESC_F_NEXT, 3);
	set_desc(fx.desc, 3, b.status, 1, VRING_DESC_F_WRITE, 0);
	assert_bad(0, VQ_ERR_READ_AFTER_WRITE);
}

/*
 * Defect 6: the driver chose a ring smaller than the queue size the device
 * advertised seg_max for; an indirect table as long as seg_max + 2 is legal.
 */
static void test_indirect_longer_than_ring(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(10 * 16);

	(void)state;
	set_desc(ptr(t), 0, b.hdr, 16, VRING_DESC_F_NEXT, 1);
	for (uint16_t i = 1; i < 9; i++)
		set_desc(ptr(t), i, b.data, 64, VRING_DESC_F_NEXT, i + 1);
	set_desc(ptr(t), 9, b.status, 1, VRING_DESC_F_WRITE, 0);
	set_desc(fx.desc, 0, t, 10 * 16, VRING_DESC_F_INDIRECT, 0);
	assert_bad(0, VQ_ERR_INDIRECT_LEN);      /* the ring size (8) by default */
	assert_int_equal(vq_accept_chains(&fx.vq, 10), 0);
	publish(0);
	assert_int_equal(pop(16), 1);
	assert_int_equal(fx.elem.nr_out, 9);
	assert_int_equal(fx.elem.nr_in, 1);
}

/* ---- used ring and notifications ---------------------------------------- */

static void test_push_flush(void **state)
{
	(void)state;
	vq_push(&fx.vq, 5, 513);
	vq_push(&fx.vq, 2, 0);
	/* Nothing visible before the flush. */
	assert_int_equal(le16toh(fx.used->idx), 0);
	assert_int_equal(le32toh(fx.used->ring[0].id), 5);
	assert_int_equal(le32toh(fx.used->ring[0].len), 513);
	vq_flush(&fx.vq);
	assert_int_equal(le16toh(fx.used->idx), 2);
	assert_int_equal(le32toh(fx.used->ring[1].id), 2);
	assert_int_equal(le32toh(fx.used->ring[1].len), 0);
	assert_int_equal(fx.vq.state.used, 2);
	vq_flush(&fx.vq);
	assert_int_equal(le16toh(fx.used->idx), 2);
}

/* used->idx wraps at 65536; entries go to idx % num. */
static void test_push_wrap(void **state)
{
	(void)state;
	vq_exit(&fx.vq);
	rings(8);
	fx.used->idx = htole16(65535);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova, fx.used_iova,
				 0, false), 0);
	vq_push(&fx.vq, 1, 11);
	vq_push(&fx.vq, 2, 22);
	vq_flush(&fx.vq);
	assert_int_equal(le16toh(fx.used->idx), 1);
	assert_int_equal(le32toh(fx.used->ring[7].id), 1);
	assert_int_equal(le32toh(fx.used->ring[7].len), 11);
	assert_int_equal(le32toh(fx.used->ring[0].id), 2);
	assert_int_equal(le32toh(fx.used->ring[0].len), 22);
}

static void test_notify_flags(void **state)
{
	(void)state;
	vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	assert_true(vq_should_notify(&fx.vq));
	fx.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	assert_false(vq_should_notify(&fx.vq));
	/* used_event means nothing without EVENT_IDX. */
	fx.avail->flags = 0;
	fx.avail->ring[fx.num] = htole16(1000);
	vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	assert_true(vq_should_notify(&fx.vq));
}

/* Push @n entries, then ask; used_event is set to @event first. */
static bool push_and_ask(unsigned int n, uint16_t event)
{
	fx.avail->ring[fx.num] = htole16(event);
	for (unsigned int i = 0; i < n; i++)
		vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	return vq_should_notify(&fx.vq);
}

static void event_idx_cases(uint16_t start)
{
	vq_exit(&fx.vq);
	rings(8);
	fx.used->idx = htole16(start);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova, fx.used_iova,
				 0, true), 0);
	/* The first decision after start is always yes: we do not know what was signalled. */
	assert_true(push_and_ask(1, (uint16_t)(start + 1000)));
	start++;
	/* Three more entries: old = start, new = start + 3. */
	assert_true(push_and_ask(3, start));                 /* first of them */
	start += 3;
	assert_true(push_and_ask(3, (uint16_t)(start + 2))); /* last of them */
	start += 3;
	assert_false(push_and_ask(3, (uint16_t)(start + 3))); /* not yet */
	start += 3;
	assert_false(push_and_ask(3, (uint16_t)(start - 1))); /* already passed */
	start += 3;
	assert_false(push_and_ask(3, (uint16_t)(start + 0x8000)));
	start += 3;
	/* Nothing new since the last decision. */
	assert_false(push_and_ask(0, (uint16_t)(start - 1)));
	assert_false(push_and_ask(0, start));
	/* NO_INTERRUPT is ignored with EVENT_IDX. */
	fx.avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	assert_true(push_and_ask(1, start));
	fx.avail->flags = 0;
}

static void test_notify_event_idx(void **state)
{
	(void)state;
	event_idx_cases(0);
	event_idx_cases(1000);
}

/* old and new on either side of 65535 -> 0. */
static void test_notify_event_idx_wrap(void **state)
{
	(void)state;
	event_idx_cases(65530);
	event_idx_cases(65534);

	vq_exit(&fx.vq);
	rings(8);
	fx.used->idx = htole16(65533);
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova, fx.used_iova,
				 0, true), 0);
	assert_true(push_and_ask(1, 0));    /* first: always; signalled = 65534 */
	/* old 65534, new 1: events 65534, 65535 and 0 fire; 1 and 65533 do not. */
	assert_true(push_and_ask(3, 65535));
	fx.vq.state.used = 65534;
	fx.vq.signalled_used = 65534;
	assert_true(push_and_ask(3, 0));
	fx.vq.state.used = 65534;
	fx.vq.signalled_used = 65534;
	assert_true(push_and_ask(3, 65534));
	fx.vq.state.used = 65534;
	fx.vq.signalled_used = 65534;
	assert_false(push_and_ask(3, 1));
	fx.vq.state.used = 65534;
	fx.vq.signalled_used = 65534;
	assert_false(push_and_ask(3, 65533));
}

static void test_enable_notify(void **state)
{
	struct bufs b = bufs();

	(void)state;
	good_chain(fx.desc, 0, &b);
	vq_disable_notify(&fx.vq);
	assert_int_equal(le16toh(fx.used->flags), VRING_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(fx.used->flags), 0);

	/* A chain arrived while kicks were off: enable says so. */
	vq_disable_notify(&fx.vq);
	publish(0);
	assert_true(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(fx.used->flags), 0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_false(vq_enable_notify(&fx.vq));
	/* avail_event is not used without EVENT_IDX. */
	assert_int_equal(le16toh(*(uint16_t *)&fx.used->ring[fx.num]), 0);
}

static void test_enable_notify_event_idx(void **state)
{
	struct bufs b = bufs();
	uint16_t *avail_event;

	(void)state;
	vq_exit(&fx.vq);
	assert_int_equal(init(8, true, 300), 0);
	avail_event = (uint16_t *)&fx.used->ring[fx.num];
	good_chain(fx.desc, 0, &b);

	/* Disabling leaves the flags alone (a stale avail_event suppresses kicks). */
	vq_disable_notify(&fx.vq);
	assert_int_equal(le16toh(fx.used->flags), 0);
	assert_false(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(*avail_event), 300);

	publish(0);
	publish(0);
	assert_true(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(*avail_event), 300);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_true(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(*avail_event), 301);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_false(vq_enable_notify(&fx.vq));
	assert_int_equal(le16toh(*avail_event), 302);
	assert_false(vq_has_avail(&fx.vq));
}

/* ---- the journal ------------------------------------------------------------ */

/*
 * A chain's life in the journal: taken (at its avail index) before it is
 * consumed, pushed, then forgotten once published; a malformed one too.
 */
static void test_journal_records(void **state)
{
	struct journal *log = calloc(1, journal_bytes(16));
	struct bufs b = bufs();

	(void)state;
	assert_non_null(log);
	assert_int_equal(vq_journal_start(&fx.vq, log, 16), 0);
	assert_true(journal_is_active(log));
	assert_true(journal_matches(log, VQ_LAYOUT_SPLIT, 8, fx.desc_iova, fx.avail_iova,
				    fx.used_iova));
	publish(good_chain(fx.desc, 0, &b));
	set_desc(fx.desc, 5, b.hdr, 16, VRING_DESC_F_NEXT, 9);     /* next out of range */
	publish(5);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(log->heads[0], JOURNAL_TAKEN | 0);
	assert_int_equal(log->avail_idx, 1);
	assert_int_equal(pop(MAX_IOV), -EINVAL);
	assert_int_equal(log->heads[5], JOURNAL_TAKEN | 1);
	assert_int_equal(log->avail_idx, 2);
	vq_push(&fx.vq, 5, 0);
	vq_push(&fx.vq, 0, 1);
	assert_int_equal(log->heads[0], JOURNAL_TAKEN | JOURNAL_PUSHED | 0);
	assert_int_equal(log->used_idx, 0);
	vq_flush(&fx.vq);
	assert_int_equal(log->heads[0], 0);
	assert_int_equal(log->heads[5], 0);
	assert_int_equal(log->used_idx, 2);
	assert_int_equal(log->pending_used_idx, 2);
	/* An empty ring: nothing recorded but where avail is. */
	assert_int_equal(pop(MAX_IOV), 0);
	assert_int_equal(log->avail_idx, 2);
	vq_exit(&fx.vq);
	free(log);
}

/*
 * A head the journal says is the device's (in flight, or returned and not
 * yet published) made available again: the driver broke the ring.
 */
static void test_journal_head_in_flight(void **state)
{
	struct bufs b = bufs();

	(void)state;
	assert_int_equal(vq_journal_start(&fx.vq, NULL, 8), 0);
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	publish(0);
	assert_int_equal(pop(MAX_IOV), -EIO);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_HEAD_IN_FLIGHT);
	assert_true(vq_is_broken(&fx.vq));

	/* Pushed, not yet published: still the device's. */
	vq_exit(&fx.vq);
	assert_int_equal(init(8, false, 0), 0);
	assert_int_equal(vq_journal_start(&fx.vq, NULL, 8), 0);
	b = bufs();
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 0, 1);
	publish(0);
	assert_int_equal(pop(MAX_IOV), -EIO);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_HEAD_IN_FLIGHT);
	/* Published: the driver may offer it again. */
	vq_exit(&fx.vq);
	assert_int_equal(init(8, false, 0), 0);
	assert_int_equal(vq_journal_start(&fx.vq, NULL, 8), 0);
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	publish(0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_false(vq_is_broken(&fx.vq));
}

/*
 * A daemon killed between the take of a chain and its consume: the next
 * one runs both chains in flight again and skips the second when it pops
 * it from the ring: nothing runs twice.
 */
static void test_journal_resume(void **state)
{
	struct journal *log = calloc(1, journal_bytes(8));
	struct bufs a = bufs(), b = bufs();
	uint16_t heads[8];
	unsigned int nr = 99;
	const char *why = NULL;

	(void)state;
	assert_non_null(log);
	assert_int_equal(vq_journal_start(&fx.vq, log, 8), 0);
	publish(good_chain(fx.desc, 0, &a));
	publish(good_chain(fx.desc, 3, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	journal_take(log, 3, 1);         /* what the dying daemon stored of its next pop */
	vq_exit(&fx.vq);

	/* The kernel says avail 2; the journal knows better. */
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova,
				    fx.used_iova, 2, false), 0);
	assert_int_equal(vq_journal_resume(&fx.vq, log, 8, heads, &nr, &why), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(heads[0], 0);   /* oldest first */
	assert_int_equal(heads[1], 3);
	assert_int_equal(fx.vq.state.avail, 1);
	assert_int_equal(vq_pop_again(&fx.vq, 0, &fx.elem, MAX_IOV), 1);
	assert_good_elem(0, &a);
	assert_int_equal(vq_pop_again(&fx.vq, 3, &fx.elem, MAX_IOV), 1);
	assert_good_elem(3, &b);
	/* 3 is in the ring still: consumed, not returned again. */
	assert_int_equal(pop(MAX_IOV), 0);
	assert_int_equal(fx.vq.state.avail, 2);
	assert_int_equal(log->avail_idx, 2);
	assert_int_equal(log->heads[3], JOURNAL_TAKEN | 1);
	vq_push(&fx.vq, 3, 1);
	vq_push(&fx.vq, 0, 1);
	vq_flush(&fx.vq);
	assert_int_equal(log->heads[0], 0);
	assert_int_equal(log->heads[3], 0);
	assert_int_equal(le16toh(fx.used->idx), 2);

	/* Once: a later chain at that place is the driver's next one. */
	publish(3);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 3);
	vq_exit(&fx.vq);

	/* Rings that are not the journal's: refused, and why. */
	assert_int_equal(init_split(&fx.vq, &fx.hm.mem, 8, fx.desc_iova, fx.avail_iova,
				    fx.used_iova + 64, 2, false), 0);
	assert_int_equal(vq_journal_resume(&fx.vq, log, 8, heads, &nr, &why), -EBADMSG);
	assert_non_null(strstr(why, "other rings"));
	free(log);
}

/* A queue that let go writes the caller's section no more. */
static void test_journal_let_go(void **state)
{
	struct journal *log = calloc(1, journal_bytes(8));
	struct bufs b = bufs();

	(void)state;
	assert_non_null(log);
	assert_int_equal(vq_journal_start(&fx.vq, log, 8), 0);
	publish(good_chain(fx.desc, 0, &b));
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 0, 1);
	vq_journal_let_go(&fx.vq);
	vq_flush(&fx.vq);
	assert_int_equal(log->heads[0], JOURNAL_TAKEN | JOURNAL_PUSHED | 0);
	assert_int_equal(log->used_idx, 0);
	assert_int_equal(log->pending_used_idx, 0);
	vq_exit(&fx.vq);
	free(log);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init),
		T(test_err_str),
		T(test_pop_empty),
		T(test_pop_direct),
		T(test_pop_zero_len_and_split),
		T(test_pop_full_length),
		T(test_pop_indirect),
		T(test_pop_avail_wrap),
		T(test_pop_num_available),
		T(test_pop_desc_read_once),
		T(test_bad_loop),
		T(test_bad_loop_indirect),
		T(test_bad_next_range),
		T(test_bad_head_range),
		T(test_bad_avail_idx),
		T(test_bad_addr_overflow),
		T(test_bad_fault),
		T(test_bad_nested_indirect),
		T(test_bad_indirect_len),
		T(test_bad_indirect_next),
		T(test_bad_read_after_write),
		T(test_bad_too_many_segs),
		T(test_out_of_iovecs_is_device_fault),
		T(test_bad_empty_write_then_read),
		T(test_indirect_longer_than_ring),
		T(test_push_flush),
		T(test_push_wrap),
		T(test_notify_flags),
		T(test_notify_event_idx),
		T(test_notify_event_idx_wrap),
		T(test_enable_notify),
		T(test_enable_notify_event_idx),
		T(test_journal_records),
		T(test_journal_head_in_flight),
		T(test_journal_resume),
		T(test_journal_let_go),
	};

	return cmocka_run_group_tests_name("vq", tests, NULL, NULL);
}
