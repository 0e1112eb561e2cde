// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packed virtqueue (virtio 1.2, 2.8) through the layout-neutral vq.h
 * interface, on rings built by hand in an hmem address space with guard
 * pages: a tiny driver in this file makes chains available (2.8.21) and
 * reads used descriptors as Linux does, so every test sees both sides of
 * the ring.
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
#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)
#define W VQ_POS_WRAP
#define NOT_LAST_ID 0xbeef        /* the driver's id in descriptors but the last */

/* The driver's side of the ring. */
struct drv {
	uint16_t next_avail;
	bool avail_wrap;
	uint16_t next_used;
	bool used_wrap;
	uint16_t sgs[VQ_MAX_SIZE];    /* descriptors of each buffer ID in flight */
	unsigned int nr_inflight;     /* descriptors */
};

struct fix {
	struct hmem hm;
	uint8_t *map, *arena;
	uint8_t ro[PAGE] __attribute__((aligned(16)));
	uint8_t wo[PAGE] __attribute__((aligned(16)));
	uint8_t split_a[PAGE], split_b[PAGE];
	uint16_t num;
	uint64_t desc_iova, driver_iova, device_iova, next;
	struct vring_packed_desc *ring;
	struct vring_packed_desc_event *driver, *device;
	struct drv drv;
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

static int init_packed(uint16_t num, uint64_t desc, uint64_t driver, uint64_t device,
		       uint16_t avail, uint16_t used, bool has_event_idx)
{
	const struct vq_config cfg = {
		.layout = VQ_LAYOUT_PACKED, .num = num, .desc_iova = desc,
		.driver_iova = driver, .device_iova = device, .has_event_idx = has_event_idx,
	};
	const struct vq_state st = { .avail = avail, .used = used };

	return vq_init(&fx.vq, &fx.hm.mem, &cfg, &st);
}

/* Fresh rings for @num in the arena (zeroed, as a driver sets them up). */
static void rings(uint16_t num)
{
	fx.num = num;
	fx.next = 0;
	memset(fx.arena, 0, ARENA_BYTES);
	fx.desc_iova = alloc(16ULL * num);
	fx.driver_iova = alloc(4);
	fx.device_iova = alloc(4);
	fx.ring = ptr(fx.desc_iova);
	fx.driver = ptr(fx.driver_iova);
	fx.device = ptr(fx.device_iova);
}

/* Rings for @num, driver and device both at position @pos. */
static int init_at(uint16_t num, bool has_event_idx, uint16_t pos)
{
	vq_exit(&fx.vq);
	rings(num);
	memset(&fx.drv, 0, sizeof(fx.drv));
	fx.drv.next_avail = fx.drv.next_used = pos & VQ_POS_IDX_MASK;
	fx.drv.avail_wrap = fx.drv.used_wrap = pos & W;
	return init_packed(num, fx.desc_iova, fx.driver_iova, fx.device_iova, pos, pos,
			   has_event_idx);
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
	return init_at(8, false, W);
}

static int teardown(void **state)
{
	(void)state;
	vq_exit(&fx.vq);
	munmap(fx.map, ARENA_BYTES + 2 * PAGE);
	return 0;
}

/* ---- the driver ------------------------------------------------------------ */

/* One element of a buffer: flags WRITE and/or INDIRECT (NEXT is added). */
struct pd {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

static uint16_t avail_bits(bool wrap)
{
	return wrap ? F_AVAIL : F_USED;
}

static uint16_t drv_pos(uint16_t idx, bool wrap)
{
	return (uint16_t)(idx | (wrap ? W : 0));
}

static void set_pdesc(struct vring_packed_desc *d, uint64_t addr, uint32_t len, uint16_t id,
		      uint16_t flags)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->id = htole16(id);
	d->flags = htole16(flags);
}

/*
 * Make a buffer of @n elements available as buffer @id: the ID in the last,
 * the first descriptor's flags written last.  @auto_next: NEXT on all but
 * the last (else the elements' flags say where NEXT is: a malformed list).
 */
static void drv_add_raw(const struct pd *e, unsigned int n, uint16_t id, bool auto_next)
{
	uint16_t first = fx.drv.next_avail, head_flags = 0;

	for (unsigned int k = 0; k < n; k++) {
		struct vring_packed_desc *d = &fx.ring[fx.drv.next_avail];
		uint16_t f = e[k].flags | avail_bits(fx.drv.avail_wrap);

		if (auto_next && k + 1 < n)
			f |= VRING_DESC_F_NEXT;
		set_pdesc(d, e[k].addr, e[k].len, k + 1 == n ? id : NOT_LAST_ID, 0);
		if (k == 0)
			head_flags = f;
		else
			d->flags = htole16(f);
		if (++fx.drv.next_avail == fx.num) {
			fx.drv.next_avail = 0;
			fx.drv.avail_wrap = !fx.drv.avail_wrap;
		}
	}
	__atomic_store_n(&fx.ring[first].flags, htole16(head_flags), __ATOMIC_RELEASE);
	if (id < VQ_MAX_SIZE)
		fx.drv.sgs[id] = (uint16_t)n;
	fx.drv.nr_inflight += n;
}

static void drv_add(const struct pd *e, unsigned int n, uint16_t id)
{
	drv_add_raw(e, n, id, true);
}

/* The next used descriptor, if the device published it; skips its buffer's slots. */
static bool drv_used(uint16_t *ret_id, uint32_t *ret_len, uint16_t *ret_flags)
{
	struct vring_packed_desc *d = &fx.ring[fx.drv.next_used];
	uint16_t f = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE)), id;

	/*
	 * Used: AVAIL == USED == the driver's used wrap counter (as Linux
	 * checks; USED alone would take a later descriptor of a list of the
	 * previous lap, skipped by its used one, for a used descriptor).
	 */
	if (!!(f & F_USED) != fx.drv.used_wrap || !!(f & F_AVAIL) != fx.drv.used_wrap)
		return false;
	id = le16toh(d->id);
	assert_true(id < fx.num);
	assert_true(fx.drv.sgs[id] > 0);
	*ret_id = id;
	*ret_len = le32toh(d->len);
	*ret_flags = f;
	fx.drv.next_used += fx.drv.sgs[id];
	if (fx.drv.next_used >= fx.num) {
		fx.drv.next_used -= fx.num;
		fx.drv.used_wrap = !fx.drv.used_wrap;
	}
	fx.drv.nr_inflight -= fx.drv.sgs[id];
	fx.drv.sgs[id] = 0;
	return true;
}

/* The driver sees the used descriptor for @id with @len (and WRITE iff len > 0). */
static void assert_drv_used(uint16_t id, uint32_t len)
{
	uint16_t got_id, flags;
	uint32_t got_len;

	assert_true(drv_used(&got_id, &got_len, &flags));
	assert_int_equal(got_id, id);
	assert_int_equal(got_len, len);
	assert_int_equal(!!(flags & VRING_DESC_F_WRITE), len > 0);
	assert_int_equal(flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT), 0);
}

static void assert_drv_nothing_used(void)
{
	uint16_t id, flags;
	uint32_t len;

	assert_false(drv_used(&id, &len, &flags));
}

static int pop(unsigned int max_iov)
{
	return vq_pop(&fx.vq, &fx.elem, max_iov);
}

static struct vq_state vq_pos(void)
{
	struct vq_state s;

	vq_get_state(&fx.vq, &s);
	return s;
}

/* A request-shaped buffer: header (16, R), data (512, R), status (1, W). */
struct bufs {
	uint64_t hdr, data, status;
};

static struct bufs bufs(void)
{
	struct bufs b = { alloc(16), alloc(512), alloc(1) };

	return b;
}

static void req(struct pd *e, const struct bufs *b)
{
	e[0] = (struct pd){ b->hdr, 16, 0 };
	e[1] = (struct pd){ b->data, 512, 0 };
	e[2] = (struct pd){ b->status, 1, VRING_DESC_F_WRITE };
}

static void add_req(const struct bufs *b, uint16_t id)
{
	struct pd e[3];

	req(e, b);
	drv_add(e, 3, id);
}

static void assert_req_elem(uint16_t id, const struct bufs *b)
{
	assert_int_equal(fx.elem.head, id);
	assert_int_equal(fx.elem.nr_out, 2);
	assert_int_equal(fx.elem.nr_in, 1);
	assert_int_equal(fx.elem.out_bytes, 528);
	assert_int_equal(fx.elem.in_bytes, 1);
	assert_int_equal(fx.elem.last_in_iova, b->status);
	assert_ptr_equal(fx.iov[0].iov_base, ptr(b->hdr));
	assert_int_equal(fx.iov[0].iov_len, 16);
	assert_ptr_equal(fx.iov[1].iov_base, ptr(b->data));
	assert_int_equal(fx.iov[1].iov_len, 512);
	assert_ptr_equal(fx.iov[2].iov_base, ptr(b->status));
	assert_int_equal(fx.iov[2].iov_len, 1);
}

/*
 * The buffer just made available (@n descriptors, @id) is malformed for
 * @err: consumed (avail moves by @n), returned with used.len 0 and the
 * driver sees that; the ring keeps working.
 */
static void assert_bad(uint16_t id, unsigned int n, enum vq_err err)
{
	struct vq_state before = vq_pos();
	uint64_t nr_bad = vq_nr_bad_chains(&fx.vq);
	struct bufs b = bufs();
	uint16_t want_avail = before.avail;

	for (unsigned int k = 0; k < n; k++) {
		want_avail++;
		if ((want_avail & VQ_POS_IDX_MASK) == fx.num)
			want_avail = (uint16_t)((want_avail & W) ^ W);
	}
	assert_int_equal(pop(MAX_IOV), -EINVAL);
	assert_int_equal(fx.elem.head, id);
	assert_int_equal(fx.elem.nr_descs, n);
	assert_string_equal(vq_err_str(vq_last_err(&fx.vq)), vq_err_str(err));
	assert_int_equal(vq_nr_bad_chains(&fx.vq), nr_bad + 1);
	assert_false(vq_is_broken(&fx.vq));
	assert_int_equal(vq_pos().avail, want_avail);
	assert_false(vq_has_avail(&fx.vq));
	/* The caller returns it: a used entry of length 0 that skips its n slots. */
	vq_push(&fx.vq, id, 0);
	vq_flush(&fx.vq);
	assert_int_equal(vq_pos().used, want_avail);
	assert_drv_used(id, 0);
	/* And the next buffer is served. */
	add_req(&b, 1);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_req_elem(1, &b);
	vq_push(&fx.vq, 1, 1);
	vq_flush(&fx.vq);
	assert_drv_used(1, 1);
}

/* The ring is broken for @err: -EIO now and later, nothing consumed. */
static void assert_broken(enum vq_err err)
{
	struct vq_state before = vq_pos();

	assert_int_equal(pop(MAX_IOV), -EIO);
	assert_true(vq_is_broken(&fx.vq));
	assert_string_equal(vq_err_str(vq_last_err(&fx.vq)), vq_err_str(err));
	assert_int_equal(vq_pos().avail, before.avail);
	assert_int_equal(pop(MAX_IOV), -EIO);
}

/* ---- vq_init --------------------------------------------------------------- */

static void test_init(void **state)
{
	(void)state;
	vq_exit(&fx.vq);
	rings(8);
	assert_int_equal(init_packed(0, fx.desc_iova, fx.driver_iova, fx.device_iova, W, W,
				     false), -EINVAL);
	assert_int_equal(init_packed(VQ_MAX_SIZE + 1, fx.desc_iova, fx.driver_iova,
				     fx.device_iova, W, W, false), -EINVAL);
	/* Alignment: descriptor ring 16, event structures 4 (2.8.10.1). */
	assert_int_equal(init_packed(8, fx.desc_iova + 8, fx.driver_iova, fx.device_iova, W, W,
				     false), -EINVAL);
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova + 2, fx.device_iova, W, W,
				     false), -EINVAL);
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova, fx.device_iova + 2, W, W,
				     false), -EINVAL);
	/* 2 is enough for split's avail ring, not for the driver event structure. */
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova + 6, fx.device_iova, W, W,
				     false), -EINVAL);
	/* Unmapped rings. */
	assert_int_equal(init_packed(8, 0x1000, fx.driver_iova, fx.device_iova, W, W, false),
			 -EFAULT);
	assert_int_equal(init_packed(8, fx.desc_iova, 0x1000, fx.device_iova, W, W, false),
			 -EFAULT);
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova, 0x1000, W, W, false),
			 -EFAULT);
	/* The device writes used descriptors into the ring: read-only will not do. */
	assert_int_equal(init_packed(8, RO_IOVA, fx.driver_iova, fx.device_iova, W, W, false),
			 -EFAULT);
	assert_int_equal(init_packed(8, WO_IOVA, fx.driver_iova, fx.device_iova, W, W, false),
			 -EFAULT);
	/* Driver events are read, device events written. */
	assert_int_equal(init_packed(8, fx.desc_iova, WO_IOVA, fx.device_iova, W, W, false),
			 -EFAULT);
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova, RO_IOVA, W, W, false),
			 -EFAULT);
	assert_int_equal(init_packed(8, fx.desc_iova, RO_IOVA, WO_IOVA, W, W, false), 0);
	vq_exit(&fx.vq);
	/* A ring running off its region, or across two regions. */
	assert_int_equal(init_packed(8, ARENA_IOVA + ARENA_BYTES - 64, fx.driver_iova,
				     fx.device_iova, W, W, false), -EFAULT);
	assert_int_equal(init_packed(8, SPLIT_IOVA + PAGE - 64, fx.driver_iova, fx.device_iova,
				     W, W, false), -EFAULT);

	/* Any size up to the maximum: packed rings need no power of two. */
	for (unsigned int num = 1; num <= VQ_MAX_SIZE; num = num * 3 + 1) {
		assert_int_equal(init_at((uint16_t)num, false, W), 0);
		assert_int_equal(vq_num(&fx.vq), num);
		assert_int_equal(vq_layout(&fx.vq), VQ_LAYOUT_PACKED);
		assert_string_equal(vq_layout_name(vq_layout(&fx.vq)), "packed");
		assert_int_equal(fx.vq.max_chain, num);
	}
	assert_int_equal(init_at(100, false, W), 0);
	assert_int_equal(init_at(VQ_MAX_SIZE, false, W), 0);
	vq_exit(&fx.vq);
	vq_exit(&fx.vq);   /* idempotent */
	vq_exit(NULL);
}

static void test_init_state(void **state)
{
	static const struct {
		uint16_t avail, used;
		int want;
		unsigned int nr_inflight;
	} cases[] = {
		{ W, W, 0, 0 },
		{ 0, 0, 0, 0 },              /* wrap 0, both */
		{ 99 | W, 99 | W, 0, 0 },
		{ 100 | W, 100 | W, -EINVAL, 0 },  /* index = queue size */
		{ 5 | W, 100 | W, -EINVAL, 0 },
		{ 100, 5, -EINVAL, 0 },
		{ 0x7fff, 0x7fff, -EINVAL, 0 },
		{ 30 | W, 10 | W, 0, 20 },
		{ 10, 30 | W, 0, 80 },       /* avail wrapped past the end, used not */
		{ 10, 10 | W, 0, 100 },      /* exactly one lap: every slot in flight */
		{ 10 | W, 10, 0, 100 },
		{ 10 | W, 30 | W, -EINVAL, 0 },  /* used ahead of avail */
		{ 30, 10 | W, -EINVAL, 0 },  /* used more than a lap behind */
		{ 10, 9 | W, -EINVAL, 0 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		vq_exit(&fx.vq);
		rings(100);
		assert_int_equal(init_packed(100, fx.desc_iova, fx.driver_iova, fx.device_iova,
					     cases[k].avail, cases[k].used, false), cases[k].want);
		if (cases[k].want)
			continue;
		assert_int_equal(vq_pos().avail, cases[k].avail);
		assert_int_equal(vq_pos().used, cases[k].used);
		assert_int_equal(fx.vq.packed.nr_inflight_descs, cases[k].nr_inflight);
	}
	/* vq_set_state(): the same rules; a refused state changes nothing. */
	assert_int_equal(init_at(100, false, W), 0);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 7 | W, 3 | W }), 0);
	assert_int_equal(vq_pos().avail, 7 | W);
	assert_int_equal(vq_pos().used, 3 | W);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 100, 3 }), -EINVAL);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 3, 7 }), -EINVAL);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 3 | W, 4 | W }), -EINVAL);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 3 | W, 4 }), 0);   /* 99 in flight */
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 99);
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 7 | W, 3 | W }), 0);
	assert_int_equal(vq_pos().avail, 7 | W);
	assert_int_equal(vq_pos().used, 3 | W);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 4);
}

/* ---- popping ----------------------------------------------------------------- */

static void test_pop_empty(void **state)
{
	(void)state;
	assert_int_equal(pop(MAX_IOV), 0);
	assert_false(vq_has_avail(&fx.vq));
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_NONE);
	/* Zeroed descriptors (AVAIL = USED = 0) are not available in lap 1. */
	assert_int_equal(le16toh(fx.ring[0].flags), 0);
	assert_int_equal(vq_pos().avail, W);
}

static void test_pop_direct(void **state)
{
	struct bufs b = bufs();

	(void)state;
	add_req(&b, 5);
	assert_true(vq_has_avail(&fx.vq));
	assert_int_equal(pop(MAX_IOV), 1);
	assert_req_elem(5, &b);
	assert_int_equal(fx.elem.nr_descs, 3);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_NONE);
	/* The chain as read, for the journal's copy: the ring's own descriptors. */
	assert_memory_equal(fx.vq.packed.chain, fx.ring, 3 * sizeof(*fx.ring));
	assert_int_equal(le16toh(fx.vq.packed.chain[2].id), 5);
	assert_int_equal(le16toh(fx.vq.packed.chain[0].id), NOT_LAST_ID);   /* the last one's ID counts */
	assert_int_equal(vq_pos().avail, 3 | W);
	assert_int_equal(vq_pos().used, W);
	assert_int_equal(pop(MAX_IOV), 0);
	assert_false(vq_has_avail(&fx.vq));
	vq_push(&fx.vq, 5, 1);

	add_req(&b, 6);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_req_elem(6, &b);
	assert_int_equal(fx.elem.nr_descs, 3);
	vq_push(&fx.vq, 6, 1);

	/* A buffer of one element, and zero-length or split elements. */
	drv_add(&(struct pd){ b.status, 1, VRING_DESC_F_WRITE }, 1, 7);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 7);
	assert_int_equal(fx.elem.nr_descs, 1);
	assert_int_equal(fx.elem.nr_out, 0);
	assert_int_equal(fx.elem.nr_in, 1);
	vq_push(&fx.vq, 7, 1);
	vq_flush(&fx.vq);
	assert_drv_used(5, 1);
	assert_drv_used(6, 1);
	assert_drv_used(7, 1);
	{
		struct pd e[4] = {
			{ b.hdr, 16, 0 },
			{ b.data, 0, 0 },
			{ SPLIT_IOVA + PAGE - 100, 300, 0 },
			{ SPLIT_IOVA + PAGE - 1, 2, VRING_DESC_F_WRITE },
		};

		drv_add(e, 4, 0);
	}
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.nr_descs, 4);
	assert_int_equal(fx.elem.nr_out, 3);
	assert_int_equal(fx.elem.out_bytes, 316);
	assert_ptr_equal(fx.iov[1].iov_base, fx.split_a + PAGE - 100);
	assert_ptr_equal(fx.iov[2].iov_base, fx.split_b);
	assert_int_equal(fx.elem.nr_in, 2);
	assert_int_equal(fx.elem.last_in_iova, SPLIT_IOVA + PAGE);
	/* 3 + 3 + 1 + 4 = 11 descriptors: avail is 3 into lap 0. */
	assert_int_equal(vq_pos().avail, 3);
}

/* An indirect table: every entry in order, NEXT and IDs inside it ignored (2.8.8). */
static void test_pop_indirect(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(4 * 16);
	struct vring_packed_desc *tab = ptr(t);

	(void)state;
	set_pdesc(&tab[0], b.hdr, 16, 77, 0);                      /* no NEXT, yet not the end */
	set_pdesc(&tab[1], b.data, 512, 0xffff, VRING_DESC_F_NEXT);
	set_pdesc(&tab[2], b.data, 100, 3, VRING_DESC_F_WRITE);
	set_pdesc(&tab[3], b.status, 1, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	/* WRITE on the indirect descriptor itself is ignored too. */
	drv_add(&(struct pd){ t, 4 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE }, 1, 3);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 3);
	assert_int_equal(fx.elem.nr_descs, 1);
	assert_int_equal(fx.elem.nr_out, 2);
	assert_int_equal(fx.elem.nr_in, 2);
	assert_int_equal(fx.elem.out_bytes, 528);
	assert_int_equal(fx.elem.in_bytes, 101);
	assert_ptr_equal(fx.iov[0].iov_base, ptr(b.hdr));
	assert_ptr_equal(fx.iov[1].iov_base, ptr(b.data));
	assert_ptr_equal(fx.iov[2].iov_base, ptr(b.data));
	assert_int_equal(fx.iov[2].iov_len, 100);
	assert_ptr_equal(fx.iov[3].iov_base, ptr(b.status));
	assert_int_equal(fx.elem.last_in_iova, b.status);
	assert_int_equal(le16toh(fx.vq.packed.chain[0].flags) & VRING_DESC_F_INDIRECT,
			 VRING_DESC_F_INDIRECT);
	assert_int_equal(vq_pos().avail, 1 | W);
	vq_push(&fx.vq, 3, 101);
	vq_flush(&fx.vq);
	assert_drv_used(3, 101);

	/* The table may be longer than the ring (vq_accept_chains), and read-only. */
	for (unsigned int i = 0; i < 10; i++)
		set_pdesc(&((struct vring_packed_desc *)fx.ro)[i], b.data, 8, 0,
			  i == 9 ? VRING_DESC_F_WRITE : 0);
	drv_add(&(struct pd){ RO_IOVA, 10 * 16, VRING_DESC_F_INDIRECT }, 1, 4);
	assert_int_equal(pop(MAX_IOV), -EINVAL);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_INDIRECT_LEN);
	vq_push(&fx.vq, 4, 0);
	vq_flush(&fx.vq);
	assert_drv_used(4, 0);
	assert_int_equal(vq_accept_chains(&fx.vq, 10), 0);
	drv_add(&(struct pd){ RO_IOVA, 10 * 16, VRING_DESC_F_INDIRECT }, 1, 4);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.nr_out, 9);
	assert_int_equal(fx.elem.nr_in, 1);
}

/* A list as long as the ring: every slot, the whole ring in flight. */
static void test_pop_full_ring(void **state)
{
	uint64_t buf = alloc(64);
	struct pd e[8];

	(void)state;
	for (unsigned int k = 0; k < 8; k++)
		e[k] = (struct pd){ buf + k, 1, k == 7 ? VRING_DESC_F_WRITE : 0 };
	drv_add(e, 8, 2);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.nr_descs, 8);
	assert_int_equal(fx.elem.nr_out, 7);
	assert_int_equal(fx.elem.nr_in, 1);
	assert_int_equal(vq_pos().avail, 0);          /* lap 0 starts */
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 8);
	/* The slot at avail holds the driver's lap-1 head: not available in lap 0. */
	assert_int_equal(pop(MAX_IOV), 0);
	vq_push(&fx.vq, 2, 1);
	vq_flush(&fx.vq);
	assert_int_equal(vq_pos().used, 0);
	assert_drv_used(2, 1);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 0);
	/* And the ring goes on in lap 0. */
	drv_add(e, 8, 3);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(vq_pos().avail, W);
}

/* A list across the end of the ring: its later descriptors carry the flipped wrap counter. */
static void test_pop_wrap_chain(void **state)
{
	struct bufs b = bufs();
	struct pd e[4] = {
		{ b.hdr, 16, 0 }, { b.data, 256, 0 }, { b.data + 256, 256, 0 },
		{ b.status, 1, VRING_DESC_F_WRITE },
	};

	(void)state;
	assert_int_equal(init_at(8, false, 6 | W), 0);
	b = bufs();
	e[0].addr = b.hdr;
	e[1].addr = b.data;
	e[2].addr = b.data + 256;
	e[3].addr = b.status;
	drv_add(e, 4, 7);
	/* Slots 6, 7 in lap 1; 0, 1 in lap 0 (AVAIL 0, USED 1). */
	assert_int_equal(le16toh(fx.ring[7].flags) & (F_AVAIL | F_USED), F_AVAIL);
	assert_int_equal(le16toh(fx.ring[0].flags) & (F_AVAIL | F_USED), F_USED);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 7);
	assert_int_equal(fx.elem.nr_descs, 4);
	assert_int_equal(fx.elem.out_bytes, 528);
	assert_int_equal(vq_pos().avail, 2);
	assert_memory_equal(&fx.vq.packed.chain[2], &fx.ring[0], 2 * sizeof(*fx.ring));
	vq_push(&fx.vq, 7, 1);
	vq_flush(&fx.vq);
	assert_int_equal(vq_pos().used, 2);
	/* The used descriptor goes where the list started, with wrap 1. */
	assert_int_equal(le16toh(fx.ring[6].flags) & (F_AVAIL | F_USED), F_AVAIL | F_USED);
	assert_drv_used(7, 1);
	assert_int_equal(fx.drv.next_used, 2);
	assert_false(fx.drv.used_wrap);

	/* The same list with its later descriptors still marked for lap 1: broken. */
	assert_int_equal(init_at(8, false, 6 | W), 0);
	drv_add(e, 4, 7);
	fx.ring[1].flags = htole16(F_AVAIL | VRING_DESC_F_WRITE);
	assert_broken(VQ_ERR_PACKED_WRAP);
	/* Or a later descriptor not made available at all (zeroed, as after setup). */
	assert_int_equal(init_at(8, false, W), 0);
	drv_add(e, 3, 7);
	fx.ring[2].flags = 0;
	assert_broken(VQ_ERR_PACKED_WRAP);
}

/*
 * Five laps' worth of lists of 1..3 descriptors, up to MAX_OUT of them in
 * flight: completed in order (all at once), or out of order (one or two
 * at a time, drawn at random).  The driver checks every used descriptor
 * where it expects it.
 */
#define MAX_OUT 6

static void laps(uint16_t num, bool is_out_of_order)
{
	struct bufs b;
	uint32_t rng = 12345;
	uint16_t inflight[VQ_MAX_SIZE], lens[VQ_MAX_SIZE];
	unsigned int nr_inflight = 0, nr_done = 0, nr_made = 0, total = 5u * num;
	unsigned int max_inflight = 0, nr_wraps = 0;
	uint16_t next_id = 0;

	assert_int_equal(init_at(num, false, W), 0);
	b = bufs();
	while (nr_done < total) {
		/* The driver makes buffers available while it has room. */
		for (unsigned int nr_out = nr_inflight; nr_out < MAX_OUT; nr_out++) {
			unsigned int n = 1 + nr_made % (num < 3 ? num : 3);
			struct pd e[3];
			uint16_t id = next_id;

			if (nr_made == total || fx.drv.nr_inflight + n > num)
				break;
			while (fx.drv.sgs[id])
				id = (uint16_t)((id + 1) % num);
			next_id = (uint16_t)((id + 1) % num);
			for (unsigned int k = 0; k < n; k++)
				e[k] = (struct pd){ b.data + 8 * k, 8,
						    k + 1 == n ? VRING_DESC_F_WRITE : 0 };
			drv_add(e, n, id);
			nr_made++;
		}
		/* The device takes all of them. */
		for (;;) {
			int r = pop(MAX_IOV);

			if (r == 0)
				break;
			assert_int_equal(r, 1);
			assert_int_equal(fx.elem.nr_descs, fx.drv.sgs[fx.elem.head]);
			assert_int_equal(fx.elem.nr_in, 1);
			assert_int_equal(fx.elem.nr_out, fx.elem.nr_descs - 1u);
			inflight[nr_inflight++] = fx.elem.head;
			if (nr_inflight > max_inflight)
				max_inflight = nr_inflight;
		}
		/* ... completes some (in order: all; else a pseudo-random one or two) ... */
		{
			unsigned int nr = is_out_of_order ? 1 + (rng >> 16) % 2 : nr_inflight;
			uint16_t pushed[MAX_OUT];

			if (nr > nr_inflight)
				nr = nr_inflight;
			assert_true(nr_inflight <= MAX_OUT);
			for (unsigned int k = 0; k < nr; k++) {
				unsigned int at = is_out_of_order ? (rng >> 8) % nr_inflight : 0;

				rng = rng * 1103515245u + 12345u;
				pushed[k] = inflight[at];
				lens[inflight[at]] = (uint16_t)(nr_done + k) % 3;
				vq_push(&fx.vq, inflight[at], lens[inflight[at]]);
				memmove(&inflight[at], &inflight[at + 1],
					(nr_inflight - at - 1) * sizeof(inflight[0]));
				nr_inflight--;
			}
			vq_flush(&fx.vq);
			if ((vq_pos().used & W) != fx.drv.used_wrap * W)
				nr_wraps++;
			/* ... and the driver finds them in push order. */
			for (unsigned int k = 0; k < nr; k++) {
				uint16_t id, flags;
				uint32_t len;

				assert_true(drv_used(&id, &len, &flags));
				assert_int_equal(id, pushed[k]);
				assert_int_equal(len, lens[id]);
				assert_int_equal(!!(flags & VRING_DESC_F_WRITE), len > 0);
			}
			assert_drv_nothing_used();
			nr_done += nr;
		}
		/* Device and driver agree on where they are. */
		assert_int_equal(vq_pos().used, drv_pos(fx.drv.next_used, fx.drv.used_wrap));
		assert_int_equal(vq_pos().avail, drv_pos(fx.drv.next_avail, fx.drv.avail_wrap));
		assert_int_equal(fx.vq.packed.nr_inflight_descs, fx.drv.nr_inflight);
	}
	assert_int_equal(nr_inflight, 0);
	/* Five laps at least (lists of 2 on average), several lists in flight at once. */
	assert_true(nr_wraps >= 5);
	if (num >= 8)
		assert_true(max_inflight >= 3);
	assert_false(vq_is_broken(&fx.vq));
	assert_int_equal(vq_nr_bad_chains(&fx.vq), 0);
}

static void test_laps_in_order(void **state)
{
	(void)state;
	laps(8, false);
	laps(5, false);
	laps(100, false);
	laps(1, false);
}

static void test_laps_out_of_order(void **state)
{
	(void)state;
	laps(8, true);
	laps(7, true);
	laps(100, true);
}

/*
 * A batch: the used descriptors after the first are written at once, the
 * first one's flags last, at the flush: the driver sees all or none.
 */
static void test_batch_flush(void **state)
{
	struct bufs b = bufs();

	(void)state;
	add_req(&b, 4);
	drv_add(&(struct pd){ b.status, 1, VRING_DESC_F_WRITE }, 1, 2);
	add_req(&b, 6);
	for (int k = 0; k < 3; k++)
		assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 2, 1);
	vq_push(&fx.vq, 6, 0);
	vq_push(&fx.vq, 4, 513);
	assert_int_equal(vq_pos().used, 7 | W);
	/* Before the flush: ids and lengths written, the first entry not yet used. */
	assert_int_equal(le16toh(fx.ring[0].id), 2);
	assert_int_equal(le16toh(fx.ring[0].flags) & (F_AVAIL | F_USED), F_AVAIL);
	assert_int_equal(le16toh(fx.ring[1].id), 6);
	assert_int_equal(le16toh(fx.ring[4].id), 4);
	assert_drv_nothing_used();
	assert_int_equal(vq_used_seen(&fx.vq, W, 7 | W), W);
	vq_flush(&fx.vq);
	assert_int_equal(vq_used_seen(&fx.vq, W, 7 | W), 7 | W);
	/* In-order driver positions: 2 has 1 slot, 6 then 3, 4 then 3. */
	assert_drv_used(2, 1);
	assert_drv_used(6, 0);
	assert_drv_used(4, 513);
	assert_drv_nothing_used();
	assert_int_equal(fx.drv.next_used, 7);
	vq_flush(&fx.vq);   /* nothing pending: changes nothing */
	assert_int_equal(le16toh(fx.ring[0].id), 2);
	assert_int_equal(le16toh(fx.ring[0].flags), F_AVAIL | F_USED | VRING_DESC_F_WRITE);
}

static void test_get_set_state(void **state)
{
	struct bufs b = bufs();

	(void)state;
	assert_int_equal(init_at(5, false, 3), 0);      /* lap 0, index 3 */
	b = bufs();
	add_req(&b, 0);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(vq_pos().avail, 1 | W);
	assert_int_equal(vq_pos().used, 3);
	vq_push(&fx.vq, 0, 1);
	assert_int_equal(vq_pos().used, 1 | W);
	vq_flush(&fx.vq);
	assert_drv_used(0, 1);
	/* Resuming at a given place (a restarted daemon): both positions move. */
	assert_int_equal(vq_set_state(&fx.vq, &(struct vq_state){ 1 | W, 1 | W }), 0);
	add_req(&b, 1);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(vq_pos().avail, 4 | W);
	vq_push(&fx.vq, 1, 0);
	vq_flush(&fx.vq);
	assert_drv_used(1, 0);
	assert_int_equal(vq_pos().used, 4 | W);
}

static void test_used_seen(void **state)
{
	struct bufs b = bufs();

	(void)state;
	/* Equal, or a published position outside the ring: the published one. */
	assert_int_equal(vq_used_seen(&fx.vq, 3 | W, 3 | W), 3 | W);
	assert_int_equal(vq_used_seen(&fx.vq, 8 | W, 2), 8 | W);
	add_req(&b, 1);
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 1, 1);
	/* Died before the flush: the driver sees nothing. */
	assert_int_equal(vq_used_seen(&fx.vq, W, 3 | W), W);
	vq_flush(&fx.vq);
	assert_int_equal(vq_used_seen(&fx.vq, W, 3 | W), 3 | W);
	/*
	 * The used entry at 0 is lap 1's: from a lap-0 position the slot would
	 * hold a lap-0 descriptor (available or used) or a lap-1 available one.
	 * These rings cannot be the log's: neither position comes back.
	 */
	assert_true(vq_used_seen(&fx.vq, 0, 3) != 0);
	assert_true(vq_used_seen(&fx.vq, 0, 3) != 3);
}

/*
 * The daemon died after the flush, and a driver that polls the ring took
 * the used entry, reused its buffer ID and made chains available in the
 * slots it freed, for the next lap: slot 0 now holds a descriptor
 * available for lap 0 where the used entry of lap 1 was.  That is proof the
 * entry was seen, not that the flush never happened; nothing is unmarked.
 */
static void test_used_seen_after_the_driver_reused_the_slot(void **state)
{
	struct bufs a = bufs(), b = bufs(), c = bufs();
	uint16_t slot0;

	(void)state;
	add_req(&a, 1);                                        /* slots 0..2, lap 1 */
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 1, 1);
	vq_flush(&fx.vq);
	assert_drv_used(1, 1);
	add_req(&b, 2);                                        /* slots 3..5 */
	drv_add(&(struct pd){ c.status, 1, VRING_DESC_F_WRITE }, 1, 3);  /* slot 6 */
	drv_add(&(struct pd){ c.status, 1, VRING_DESC_F_WRITE }, 1, 4);  /* slot 7 */
	add_req(&c, 1);                                        /* slots 0..2, lap 0 */
	slot0 = fx.ring[0].flags;
	assert_int_equal(le16toh(slot0) & (F_AVAIL | F_USED), F_USED);
	assert_int_equal(vq_used_seen(&fx.vq, W, 3 | W), 3 | W);
	assert_int_equal(fx.ring[0].flags, slot0);
	/* Used for the other lap: no driver writes that, no flush of ours did. */
	fx.ring[0].flags = htole16(0);
	assert_true(vq_used_seen(&fx.vq, W, 3 | W) != W);
	assert_true(vq_used_seen(&fx.vq, W, 3 | W) != (3 | W));
}

/* The copy of @id's list in @log, as the driver wrote it (but for the pool's links in .id). */
static void assert_copy(struct journal *log, uint16_t id, const struct vring_packed_desc *want,
			uint16_t n)
{
	struct vring_packed_desc got[8];

	assert_int_equal(journal_chain(log, 8, id, got, NULL), n);
	for (uint16_t i = 0; i < n; i++) {
		assert_int_equal(got[i].addr, want[i].addr);
		assert_int_equal(got[i].len, want[i].len);
		assert_int_equal(got[i].flags, want[i].flags);
	}
}

/*
 * A restarted daemon runs a list again from the copy its journal kept: the
 * ring's slots have been overwritten by used descriptors of later lists since.
 */
static void test_pop_again(void **state)
{
	struct journal *log = calloc(1, journal_bytes(8));
	struct vring_packed_desc copy[3];
	struct bufs a = bufs(), b = bufs();
	uint16_t heads[8];
	unsigned int nr;
	const char *why = NULL;
	uint32_t *chains;

	(void)state;
	assert_non_null(log);
	assert_int_equal(vq_journal_start(&fx.vq, log, 8), 0);
	add_req(&a, 2);                                      /* slots 0..2 */
	drv_add(&(struct pd){ b.status, 1, VRING_DESC_F_WRITE }, 1, 5);   /* slot 3 */
	assert_int_equal(pop(MAX_IOV), 1);
	memcpy(copy, fx.vq.packed.chain, sizeof(copy));
	assert_copy(log, 2, copy, 3);
	assert_int_equal(pop(MAX_IOV), 1);
	/* 5 completes first: its used descriptor lands in slot 0, over 2's head. */
	vq_push(&fx.vq, 5, 1);
	vq_flush(&fx.vq);
	assert_int_equal(le16toh(fx.ring[0].id), 5);
	assert_drv_used(5, 1);

	/* The restart: positions from the journal, the list from its copy. */
	vq_exit(&fx.vq);
	assert_int_equal(init_packed(8, fx.desc_iova, fx.driver_iova, fx.device_iova, 4 | W,
				     1 | W, false), 0);
	assert_int_equal(vq_journal_resume(&fx.vq, log, 8, heads, &nr, &why), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(heads[0], 2);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 3);
	memset(fx.vq.packed.chain, 0, 8 * sizeof(*fx.vq.packed.chain));
	assert_int_equal(vq_pop_again(&fx.vq, 2, &fx.elem, MAX_IOV), 1);
	assert_req_elem(2, &a);
	assert_int_equal(fx.elem.nr_descs, 3);
	assert_copy(log, 2, copy, 3);
	assert_int_equal(vq_pos().avail, 4 | W);          /* nothing taken from the ring */
	/* Its used descriptor skips its 3 slots. */
	vq_push(&fx.vq, 2, 1);
	vq_flush(&fx.vq);
	assert_int_equal(vq_pos().used, 4 | W);
	assert_drv_used(2, 1);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 0);
	/* A malformed copy is the driver's list: -EINVAL, as when first popped. */
	chains = journal_chains(log, 8);
	journal_pool(log, 8)[chains[2] & 0xffff].flags =
		htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	assert_int_equal(vq_pop_again(&fx.vq, 2, &fx.elem, MAX_IOV), -EINVAL);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_READ_AFTER_WRITE);
	/* An ID or length that cannot be: the log is nonsense, stop. */
	chains[0] = (chains[2] & 0xffff) | 9u << 16;
	assert_int_equal(vq_pop_again(&fx.vq, 0, &fx.elem, MAX_IOV), -EIO);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_HEAD_RANGE);
	assert_int_equal(vq_pop_again(&fx.vq, 2, &fx.elem, MAX_IOV), -EIO);
	assert_int_equal(init_at(8, false, W), 0);
	assert_int_equal(vq_pop_again(&fx.vq, 8, &fx.elem, MAX_IOV), -EIO);
	/* Without a journal there is no copy: nothing to run again. */
	assert_int_equal(init_at(8, false, W), 0);
	assert_int_equal(vq_pop_again(&fx.vq, 1, &fx.elem, MAX_IOV), -EIO);
	free(log);
}

/* The daemon's own failure on a sound list (more pieces than iovecs): -ENOMEM. */
static void test_out_of_iovecs_is_device_fault(void **state)
{
	struct bufs b = bufs();

	(void)state;
	add_req(&b, 3);
	assert_int_equal(pop(2), -ENOMEM);
	assert_int_equal(fx.elem.fault, -E2BIG);
	assert_int_equal(fx.elem.head, 3);
	assert_int_equal(fx.elem.nr_descs, 3);
	assert_int_equal(fx.elem.last_in_iova, b.status);
	assert_int_equal(vq_nr_bad_chains(&fx.vq), 0);
	assert_int_equal(fx.vq.nr_device_faults, 1);
	assert_int_equal(vq_pos().avail, 3 | W);
	vq_push(&fx.vq, 3, 0);
	vq_flush(&fx.vq);
	assert_drv_used(3, 0);
	/* A malformed rest still makes it the driver's fault. */
	{
		struct pd e[2] = {
			{ SPLIT_IOVA + PAGE - 8, 16, VRING_DESC_F_WRITE }, { b.data, 512, 0 },
		};

		drv_add(e, 2, 4);
	}
	assert_int_equal(pop(1), -EINVAL);
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_READ_AFTER_WRITE);
	assert_int_equal(vq_nr_bad_chains(&fx.vq), 1);
	vq_push(&fx.vq, 4, 0);
	vq_flush(&fx.vq);
	assert_drv_used(4, 0);
}

/* ---- notifications ------------------------------------------------------------ */

static void set_driver_event(uint16_t flags, uint16_t off_wrap)
{
	fx.driver->flags = htole16(flags);
	fx.driver->off_wrap = htole16(off_wrap);
}

/* Complete @n one-slot buffers, then ask. */
static bool complete_and_ask(unsigned int n)
{
	struct bufs b = bufs();

	for (unsigned int k = 0; k < n; k++) {
		drv_add(&(struct pd){ b.status, 1, VRING_DESC_F_WRITE }, 1, (uint16_t)k);
		assert_int_equal(pop(MAX_IOV), 1);
		vq_push(&fx.vq, (uint16_t)k, 1);
	}
	vq_flush(&fx.vq);
	for (unsigned int k = 0; k < n; k++)
		assert_drv_used((uint16_t)k, 1);
	fx.next = 0x1000;   /* plenty of arena left; the buffers are not read back */
	return vq_should_notify(&fx.vq);
}

static void test_notify_flags(void **state)
{
	(void)state;
	set_driver_event(VRING_PACKED_EVENT_FLAG_ENABLE, 0);
	assert_true(complete_and_ask(1));
	set_driver_event(VRING_PACKED_EVENT_FLAG_DISABLE, 0);
	assert_false(complete_and_ask(1));
	/* DESC means nothing without EVENT_IDX: every used buffer. */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 1000);
	assert_true(complete_and_ask(1));
	/* The reserved value 3 is not DISABLE. */
	set_driver_event(3, 0);
	assert_true(complete_and_ask(1));
	assert_false(vq_is_broken(&fx.vq));
}

/* Used position @pos, the last decision made at @old: complete @n, ask with event @ev. */
static bool ask_at(uint16_t old, uint16_t new, uint16_t ev)
{
	fx.vq.state.used = new;
	fx.vq.signalled_used = old;
	fx.vq.has_signalled = true;
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, ev);
	return vq_should_notify(&fx.vq);
}

static void test_notify_event_idx(void **state)
{
	(void)state;
	assert_int_equal(init_at(8, true, W), 0);
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 5 | W);
	/* The first decision is yes: nothing is known of what was signalled. */
	assert_true(complete_and_ask(1));                /* used 1|W */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 1 | W);
	assert_true(complete_and_ask(3));                /* 1..3 covers event 1 */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 6 | W);
	assert_true(complete_and_ask(3));                /* 4..6: the last */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 2);
	assert_false(complete_and_ask(1));               /* 7: lap 0's event not yet */
	assert_int_equal(vq_pos().used, 0);
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 6 | W);
	assert_false(complete_and_ask(2));               /* 0, 1 of lap 0: passed long ago */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 2);
	assert_false(complete_and_ask(0));               /* nothing new */
	assert_true(complete_and_ask(1));                /* 2 */
	/* DISABLE still wins with EVENT_IDX. */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DISABLE, 3);
	assert_false(complete_and_ask(1));
	set_driver_event(VRING_PACKED_EVENT_FLAG_ENABLE, 3);
	assert_true(complete_and_ask(1));

	/* Entries 6|W .. 0 (new = 1): across the wrap. */
	assert_true(ask_at(6 | W, 1, 6 | W));
	assert_true(ask_at(6 | W, 1, 7 | W));
	assert_true(ask_at(6 | W, 1, 0));
	assert_false(ask_at(6 | W, 1, 1));               /* the next one */
	assert_false(ask_at(6 | W, 1, 5 | W));           /* just before */
	assert_false(ask_at(6 | W, 1, 7));               /* lap 0's 7: ahead */
	assert_false(ask_at(6 | W, 1, 0 | W));           /* lap 1's 0: a lap back */
	/* A whole lap: every position of it. */
	assert_true(ask_at(3 | W, 3, 3 | W));
	assert_true(ask_at(3 | W, 3, 2));
	assert_false(ask_at(3 | W, 3, 3));
	/* Lap 0 into lap 1. */
	assert_true(ask_at(7, 2 | W, 7));
	assert_true(ask_at(7, 2 | W, 1 | W));
	assert_false(ask_at(7, 2 | W, 2 | W));
	assert_false(ask_at(7, 2 | W, 6));
	/* Nothing new: no. */
	assert_false(ask_at(4, 4, 4));
	assert_false(ask_at(4, 4, 3));

	/* An offset outside the ring: as if every entry were wanted, and said. */
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_NONE);
	assert_true(ask_at(4, 5, 8));
	assert_int_equal(vq_last_err(&fx.vq), VQ_ERR_EVENT_OFFSET);
	assert_true(ask_at(4, 5, 0x7fff | W));
	assert_false(vq_is_broken(&fx.vq));
	assert_int_equal(vq_nr_bad_chains(&fx.vq), 0);

	/* A ring of 100: an event position near its end. */
	assert_int_equal(init_at(100, true, 98 | W), 0);
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 99 | W);
	assert_true(complete_and_ask(1));                /* first */
	assert_true(complete_and_ask(1));                /* 99 */
	set_driver_event(VRING_PACKED_EVENT_FLAG_DESC, 1);
	assert_false(complete_and_ask(1));               /* 0 of lap 0 */
	assert_true(complete_and_ask(2));                /* 1, 2 */
}

static void test_enable_notify(void **state)
{
	(void)state;
	for (int has_event_idx = 0; has_event_idx < 2; has_event_idx++) {
		struct bufs b;

		assert_int_equal(init_at(8, has_event_idx, 7 | W), 0);
		b = bufs();
		vq_disable_notify(&fx.vq);
		assert_int_equal(le16toh(fx.device->flags), VRING_PACKED_EVENT_FLAG_DISABLE);
		assert_false(vq_enable_notify(&fx.vq));
		assert_int_equal(le16toh(fx.device->flags), VRING_PACKED_EVENT_FLAG_ENABLE);
		/* A buffer arrived while kicks were off: enable says so. */
		vq_disable_notify(&fx.vq);
		add_req(&b, 0);                           /* across the wrap */
		assert_true(vq_enable_notify(&fx.vq));
		assert_int_equal(le16toh(fx.device->flags), VRING_PACKED_EVENT_FLAG_ENABLE);
		assert_int_equal(pop(MAX_IOV), 1);
		assert_false(vq_enable_notify(&fx.vq));
		assert_false(vq_has_avail(&fx.vq));
		/* The driver's struct is never written. */
		assert_int_equal(fx.driver->flags, 0);
		assert_int_equal(fx.driver->off_wrap, 0);
	}
}

/* ---- malformed lists: the driver's fault (-EINVAL) ------------------------------ */

static void test_bad_indirect_in_chain(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);
	struct pd e[2];

	(void)state;
	set_pdesc(&((struct vring_packed_desc *)ptr(t))[0], b.status, 1, 0, VRING_DESC_F_WRITE);
	/* A direct descriptor, then an indirect one as the last. */
	e[0] = (struct pd){ b.hdr, 16, 0 };
	e[1] = (struct pd){ t, 16, VRING_DESC_F_INDIRECT };
	drv_add(e, 2, 2);
	assert_bad(2, 2, VQ_ERR_INDIRECT_IN_CHAIN);
}

static void test_bad_indirect_next(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(16);
	struct pd e[2];

	(void)state;
	set_pdesc(ptr(t), b.status, 1, 0, VRING_DESC_F_WRITE);
	e[0] = (struct pd){ t, 16, VRING_DESC_F_INDIRECT };   /* NEXT: it is not the last */
	e[1] = (struct pd){ b.status, 1, VRING_DESC_F_WRITE };
	drv_add(e, 2, 3);
	assert_bad(3, 2, VQ_ERR_INDIRECT_NEXT);
	/* Also after a direct descriptor (the list ends with the ring). */
	{
		struct pd e3[3] = {
			{ b.hdr, 16, 0 }, { t, 16, VRING_DESC_F_INDIRECT },
			{ b.status, 1, VRING_DESC_F_WRITE },
		};

		drv_add(e3, 3, 3);
	}
	assert_int_equal(fx.drv.next_avail, 0);
	assert_bad(3, 3, VQ_ERR_INDIRECT_NEXT);
}

static void test_bad_nested_indirect(void **state)
{
	struct bufs b = bufs();
	uint64_t inner = alloc(16), outer = alloc(2 * 16);

	(void)state;
	set_pdesc(ptr(inner), b.status, 1, 0, VRING_DESC_F_WRITE);
	set_pdesc(&((struct vring_packed_desc *)ptr(outer))[0], b.hdr, 16, 0, 0);
	set_pdesc(&((struct vring_packed_desc *)ptr(outer))[1], inner, 16, 0,
		  VRING_DESC_F_INDIRECT);
	drv_add(&(struct pd){ outer, 2 * 16, VRING_DESC_F_INDIRECT }, 1, 7);
	assert_bad(7, 1, VQ_ERR_NESTED_INDIRECT);
}

static void test_bad_indirect_len(void **state)
{
	static const uint32_t lens[] = { 0, 40, 3 * 16 + 1, 16 * 9, 0xfffffff0u };
	struct bufs b = bufs();
	uint64_t t = alloc(16 * 9);

	(void)state;
	for (unsigned int i = 0; i < 9; i++)
		set_pdesc(&((struct vring_packed_desc *)ptr(t))[i], b.status, 1, 0,
			  VRING_DESC_F_WRITE);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		drv_add(&(struct pd){ t, lens[k], VRING_DESC_F_INDIRECT }, 1, 2);
		assert_bad(2, 1, VQ_ERR_INDIRECT_LEN);
	}
}

static void test_bad_addr_overflow(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(16);
	struct pd e[3];

	(void)state;
	req(e, &b);
	e[1] = (struct pd){ UINT64_MAX - 255, 512, 0 };
	drv_add(e, 3, 0);
	assert_bad(0, 3, VQ_ERR_ADDR_OVERFLOW);
	/* The indirect table's own address, and an entry of it. */
	drv_add(&(struct pd){ UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT }, 1, 0);
	assert_bad(0, 1, VQ_ERR_ADDR_OVERFLOW);
	set_pdesc(ptr(t), UINT64_MAX, 2, 0, VRING_DESC_F_WRITE);
	drv_add(&(struct pd){ t, 16, VRING_DESC_F_INDIRECT }, 1, 0);
	assert_bad(0, 1, VQ_ERR_ADDR_OVERFLOW);
}

static void test_bad_fault(void **state)
{
	struct bufs b = bufs();
	struct pd e[3];

	(void)state;
	req(e, &b);
	e[1].addr = 0x1000;                                 /* unmapped */
	drv_add(e, 3, 1);
	assert_bad(1, 3, VQ_ERR_FAULT);
	req(e, &b);
	e[1].addr = ARENA_IOVA + ARENA_BYTES - 256;         /* runs off the arena */
	drv_add(e, 3, 1);
	assert_bad(1, 3, VQ_ERR_FAULT);
	req(e, &b);
	e[2].addr = RO_IOVA;                                /* writable in read-only */
	drv_add(e, 3, 1);
	assert_bad(1, 3, VQ_ERR_FAULT);
	req(e, &b);
	e[1].addr = WO_IOVA;                                /* readable in write-only */
	drv_add(e, 3, 1);
	assert_bad(1, 3, VQ_ERR_FAULT);
	/* An indirect table unmapped, or only device-writable. */
	drv_add(&(struct pd){ 0x2000, 16, VRING_DESC_F_INDIRECT }, 1, 1);
	assert_bad(1, 1, VQ_ERR_FAULT);
	set_pdesc((struct vring_packed_desc *)fx.wo, b.status, 1, 0, VRING_DESC_F_WRITE);
	drv_add(&(struct pd){ WO_IOVA, 16, VRING_DESC_F_INDIRECT }, 1, 1);
	assert_bad(1, 1, VQ_ERR_FAULT);
	/* A table entry unmapped. */
	set_pdesc((struct vring_packed_desc *)fx.ro, 0x3000, 1, 0, VRING_DESC_F_WRITE);
	drv_add(&(struct pd){ RO_IOVA, 16, VRING_DESC_F_INDIRECT }, 1, 1);
	assert_bad(1, 1, VQ_ERR_FAULT);
}

static void test_bad_read_after_write(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);
	struct vring_packed_desc *tab = ptr(t);
	struct pd e[3] = {
		{ b.hdr, 16, 0 }, { b.status, 1, VRING_DESC_F_WRITE }, { b.data, 512, 0 },
	};

	(void)state;
	drv_add(e, 3, 6);
	assert_bad(6, 3, VQ_ERR_READ_AFTER_WRITE);
	/* After an empty writable element too. */
	e[1].len = 0;
	drv_add(e, 3, 6);
	assert_bad(6, 3, VQ_ERR_READ_AFTER_WRITE);
	/* Inside a table, with an empty readable element. */
	set_pdesc(&tab[0], b.hdr, 16, 0, 0);
	set_pdesc(&tab[1], b.status, 1, 0, VRING_DESC_F_WRITE);
	set_pdesc(&tab[2], b.data, 0, 0, 0);
	drv_add(&(struct pd){ t, 3 * 16, VRING_DESC_F_INDIRECT }, 1, 6);
	assert_bad(6, 1, VQ_ERR_READ_AFTER_WRITE);
}

static void test_bad_too_many_segs(void **state)
{
	struct bufs b = bufs();
	uint64_t t = alloc(3 * 16);

	(void)state;
	/* The device accepts 3 buffers (seg_max); a table of more is INDIRECT_LEN. */
	assert_int_equal(vq_accept_chains(&fx.vq, 3), 0);
	for (unsigned int i = 0; i < 3; i++)
		set_pdesc(&((struct vring_packed_desc *)ptr(t))[i], b.data, 8, 0,
			  i == 2 ? VRING_DESC_F_WRITE : 0);
	drv_add(&(struct pd){ t, 3 * 16, VRING_DESC_F_INDIRECT }, 1, 2);
	assert_int_equal(pop(MAX_IOV), 1);
	vq_push(&fx.vq, 2, 0);
	vq_flush(&fx.vq);
	assert_drv_used(2, 0);
	{
		struct pd e[4] = {
			{ b.hdr, 16, 0 }, { b.data, 8, 0 }, { b.data, 8, 0 },
			{ b.status, 1, VRING_DESC_F_WRITE },
		};

		drv_add(e, 4, 5);
	}
	assert_bad(5, 4, VQ_ERR_TOO_MANY_SEGS);
}

/* ---- a broken ring: nothing to return (-EIO) ----------------------------------- */

static void test_bad_head_range(void **state)
{
	struct bufs b = bufs();

	(void)state;
	add_req(&b, 8);                                 /* the queue size */
	assert_broken(VQ_ERR_HEAD_RANGE);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 0);
	assert_int_equal(init_at(100, false, W), 0);
	b = bufs();
	add_req(&b, 0xffff);
	assert_broken(VQ_ERR_HEAD_RANGE);
	/* 99 is fine in a ring of 100. */
	assert_int_equal(init_at(100, false, W), 0);
	add_req(&b, 99);
	assert_int_equal(pop(MAX_IOV), 1);
	assert_int_equal(fx.elem.head, 99);
}

static void test_bad_packed_flags(void **state)
{
	struct bufs b = bufs();

	(void)state;
	/* AVAIL = USED = the device's lap: marked used by the driver. */
	set_pdesc(&fx.ring[0], b.status, 1, 0, F_AVAIL | F_USED | VRING_DESC_F_WRITE);
	assert_false(vq_has_avail(&fx.vq));
	assert_broken(VQ_ERR_PACKED_FLAGS);
	/* The same in lap 0, further in. */
	assert_int_equal(init_at(8, false, 3), 0);
	set_pdesc(&fx.ring[3], b.status, 1, 0, VRING_DESC_F_WRITE);
	assert_broken(VQ_ERR_PACKED_FLAGS);
	/* The previous lap's used descriptor is just "nothing new". */
	assert_int_equal(init_at(8, false, 3 | W), 0);
	set_pdesc(&fx.ring[3], b.status, 1, 0, VRING_DESC_F_WRITE);
	assert_int_equal(pop(MAX_IOV), 0);
	assert_false(vq_is_broken(&fx.vq));
}

static void test_bad_ring_overrun(void **state)
{
	struct bufs b = bufs();
	struct pd e[9];

	(void)state;
	/* NEXT on every slot of the ring: the list never ends. */
	for (unsigned int k = 0; k < 9; k++)
		e[k] = (struct pd){ b.data, 8, VRING_DESC_F_NEXT };
	drv_add_raw(e, 8, 1, false);
	assert_broken(VQ_ERR_RING_OVERRUN);
	assert_int_equal(fx.vq.packed.nr_inflight_descs, 0);
	/* 7 slots in flight, then a list of 2. */
	assert_int_equal(init_at(8, false, W), 0);
	b = bufs();
	for (unsigned int k = 0; k < 9; k++)
		e[k] = (struct pd){ b.data, 8, k == 6 ? VRING_DESC_F_WRITE : 0 };
	drv_add(e, 7, 1);
	assert_int_equal(pop(MAX_IOV), 1);
	drv_add(e + 5, 2, 2);                           /* a driver past its room */
	assert_broken(VQ_ERR_RING_OVERRUN);
	/* A full ring, then its first slot made available again before any used. */
	assert_int_equal(init_at(8, false, W), 0);
	b = bufs();
	for (unsigned int k = 0; k < 9; k++)
		e[k] = (struct pd){ b.data, 8, k == 7 ? VRING_DESC_F_WRITE : 0 };
	drv_add(e, 8, 1);
	assert_int_equal(pop(MAX_IOV), 1);
	drv_add(e + 7, 1, 2);
	assert_broken(VQ_ERR_RING_OVERRUN);
}

static void test_err_str(void **state)
{
	(void)state;
	for (int i = VQ_ERR_PACKED_FLAGS; i <= VQ_ERR_EVENT_OFFSET; i++)
		assert_string_not_equal(vq_err_str(i), "unknown");
	assert_string_equal(vq_err_str(VQ_ERR_COUNT), "unknown");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init),
		T(test_init_state),
		T(test_err_str),
		T(test_pop_empty),
		T(test_pop_direct),
		T(test_pop_indirect),
		T(test_pop_full_ring),
		T(test_pop_wrap_chain),
		T(test_laps_in_order),
		T(test_laps_out_of_order),
		T(test_batch_flush),
		T(test_get_set_state),
		T(test_used_seen),
		T(test_used_seen_after_the_driver_reused_the_slot),
		T(test_pop_again),
		T(test_out_of_iovecs_is_device_fault),
		T(test_notify_flags),
		T(test_notify_event_idx),
		T(test_enable_notify),
		T(test_bad_indirect_in_chain),
		T(test_bad_indirect_next),
		T(test_bad_nested_indirect),
		T(test_bad_indirect_len),
		T(test_bad_addr_overflow),
		T(test_bad_fault),
		T(test_bad_read_after_write),
		T(test_bad_too_many_segs),
		T(test_bad_head_range),
		T(test_bad_packed_flags),
		T(test_bad_ring_overrun),
	};

	return cmocka_run_group_tests_name("packed", tests, NULL, NULL);
}
