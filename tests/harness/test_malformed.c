// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Malformed descriptor chains.  Each carries a WRITE of a distinct pattern
 * with the status byte preset to 0xff: it must come back with used.len 0,
 * the status byte and the image untouched, and the queue must go on serving
 * the next valid request.  The chains are refused before any backend sees
 * them; io_uring serves the valid requests around them (and null and aio
 * where the chain reaches request parsing).
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_q512 = { .queue_size = 512, .backend = "io_uring" };

/* The pieces of a WRITE of a distinct pattern at BAD_SECTOR, status preset 0xff. */
struct bad {
	uint64_t hdr, data, status;
};

static void bad_init(struct fixture *f, struct bad *b)
{
	uint8_t data[512];

	fill_pattern(data, sizeof(data), 0xbad);
	b->hdr = put_hdr(f, VIRTIO_BLK_T_OUT, BAD_SECTOR);
	b->data = put_buf(f, data, sizeof(data));
	b->status = put_status(f);
}

/*
 * The chain at @head came back with used.len 0 for @err (VQ_ERR_NONE: the
 * chain was fine for the ring but not as a request), its status byte and the
 * image are untouched, and the queue serves the next request.
 */
static void assert_rejected(struct fixture *f, uint16_t head, const uint8_t *status,
			    enum vq_err err)
{
	uint32_t len = 0xdead;

	wait_used(f, head, &len);
	assert_int_equal(len, 0);
	assert_int_equal(*status, 0xff);
	assert_int_equal(QSTAT(f, nr_bad_chains), 1);
	if (err != VQ_ERR_NONE)
		assert_string_equal(vq_err_str(f->h.q.vq.last_err), vq_err_str(err));
	check_image(f);
	assert_valid_served(f);
	assert_false(__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE));
}

static void publish_bad(struct fixture *f, uint16_t head, const uint8_t *status, enum vq_err err)
{
	hdrv_publish(&f->h, head);
	assert_rejected(f, head, status, err);
}

static void test_bad_loop(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint16_t d[5];

	bad_init(f, &b);
	for (int i = 0; i < 5; i++)
		d[i] = hdrv_alloc_desc(&f->h);
	/* Zero-length descriptors in the cycle: without the bound the walk never ends. */
	hdrv_set_desc(&f->h, d[0], b.hdr, 16, VRING_DESC_F_NEXT, d[1]);
	hdrv_set_desc(&f->h, d[1], b.data, 512, VRING_DESC_F_NEXT, d[2]);
	hdrv_set_desc(&f->h, d[2], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	hdrv_set_desc(&f->h, d[3], b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[4]);
	hdrv_set_desc(&f->h, d[4], b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	publish_bad(f, d[0], hptr(f, b.status), VQ_ERR_LOOP);
}

/* A cycle of non-empty buffers ends at the table size, before the slot's iovecs run out. */
static void test_bad_loop_nonempty(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint16_t d[4];

	assert_true(f->h.q.iov_per_req > f->h.num);
	bad_init(f, &b);
	for (int i = 0; i < 4; i++)
		d[i] = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, d[0], b.hdr, 16, VRING_DESC_F_NEXT, d[1]);
	hdrv_set_desc(&f->h, d[1], b.data, 512, VRING_DESC_F_NEXT, d[2]);
	hdrv_set_desc(&f->h, d[2], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	hdrv_set_desc(&f->h, d[3], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[2]);
	publish_bad(f, d[0], hptr(f, b.status), VQ_ERR_LOOP);
}

static void test_bad_loop_indirect(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint64_t t;
	uint16_t head;

	bad_init(f, &b);
	t = hdrv_alloc(&f->h, 5 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);
	tab[0] = (struct vring_desc){ htole64(b.hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b.data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(2) };
	tab[2] = (struct vring_desc){ htole64(b.status), htole32(1),
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(3) };
	tab[3] = (struct vring_desc){ htole64(b.status), 0,
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(4) };
	tab[4] = (struct vring_desc){ htole64(b.status), 0,
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(3) };
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, t, 5 * 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_LOOP);
}

static void test_bad_next_range(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint16_t nexts[] = { 64, 0xffff };

	for (size_t k = 0; k < 2; k++) {
		struct bad b;
		uint16_t d0 = hdrv_alloc_desc(&f->h), d1 = hdrv_alloc_desc(&f->h);

		bad_init(f, &b);
		hdrv_set_desc(&f->h, d0, b.hdr, 16, VRING_DESC_F_NEXT, d1);
		hdrv_set_desc(&f->h, d1, b.data, 512, VRING_DESC_F_NEXT, nexts[k]);
		__atomic_store_n(&f->h.q.stats->driver_faults, 0, __ATOMIC_RELAXED);
		publish_bad(f, d0, hptr(f, b.status), VQ_ERR_NEXT_RANGE);
	}
}

/* In an indirect table the limit is the table's size, not the queue's. */
static void test_bad_next_range_indirect(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint64_t t;
	uint16_t head;

	bad_init(f, &b);
	t = hdrv_alloc(&f->h, 3 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);
	tab[0] = (struct vring_desc){ htole64(b.hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b.data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(3) };
	tab[2] = (struct vring_desc){ htole64(b.status), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_NEXT_RANGE);
}

/* A head outside the table names nothing: skipped, no used entry, the next one served. */
static void test_bad_head_range(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[4096];
	struct hreq r;
	uint16_t heads[3];
	uint32_t len;

	fill_pattern(data, sizeof(data), 600);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 96, data, sizeof(data));
	struct hbuf b[] = {
		{ r.hdr_iova, 16, false }, { r.data_iova, sizeof(data), false }, { r.status_iova, 1, true },
	};
	heads[0] = 64;
	heads[1] = 0xffff;
	heads[2] = hdrv_chain(&f->h, b, 3);
	hdrv_publish_batch(&f->h, heads, 3);
	wait_used(f, heads[2], &len);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	model_write(f, 96, data, sizeof(data));
	assert_no_used(f, 50);
	assert_int_equal(f->h.q.vq.last_err, VQ_ERR_HEAD_RANGE);
	assert_int_equal(f->h.q.vq.nr_bad_chains, 2);
	assert_int_equal(qstats(f).nr_bad_chains, 2);     /* the queue's counters saw them too */
	check_image(f);
	assert_valid_served(f);
}

static void test_bad_addr_overflow(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ UINT64_MAX - 255, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_ADDR_OVERFLOW);
}

static void test_bad_unmapped(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ 0x1000, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* The buffer starts mapped but runs past the end of the arena. */
static void test_bad_partly_mapped(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	struct hbuf bufs[3];
	uint64_t end = HDRV_ARENA_IOVA + f->h.arena_bytes;

	bad_init(f, &b);
	memset(hptr(f, end - 256), 0xab, 256);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ end - 256, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* A device-writable descriptor (the status) in a region the device may only read. */
static void test_bad_write_to_readonly_region(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t *ro = hdrv_add_region(&f->h, REGION_IOVA, 4096, MEM_READ);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	ro[100] = 0xff;
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	bufs[2] = (struct hbuf){ REGION_IOVA + 100, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), ro + 100, VQ_ERR_FAULT);
}

/* A device-readable descriptor (the data) in a region the device may only write. */
static void test_bad_read_from_writeonly_region(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t *wo = hdrv_add_region(&f->h, REGION_IOVA, 4096, MEM_WRITE);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	memcpy(wo, hptr(f, b.data), 512);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ REGION_IOVA, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* A valid indirect table for the bad WRITE: header, data, status. */
static uint64_t bad_table(struct fixture *f, const struct bad *b)
{
	uint64_t t = hdrv_alloc(&f->h, 3 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);

	tab[0] = (struct vring_desc){ htole64(b->hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b->data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(2) };
	tab[2] = (struct vring_desc){ htole64(b->status), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	return t;
}

static void test_bad_nested_indirect(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint64_t inner, outer;
	uint16_t head;

	bad_init(f, &b);
	inner = bad_table(f, &b);
	outer = hdrv_alloc(&f->h, 16);
	*(struct vring_desc *)hdrv_ptr(&f->h, outer) = (struct vring_desc){
		htole64(inner), htole32(3 * 16), htole16(VRING_DESC_F_INDIRECT), 0,
	};
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, outer, 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_NESTED_INDIRECT);
}

static void test_bad_indirect_len(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint32_t lens[] = { 40, 0, 3 * 16 + 1 };

	for (size_t k = 0; k < 3; k++) {
		struct bad b;
		uint16_t head;

		bad_init(f, &b);
		head = hdrv_alloc_desc(&f->h);
		hdrv_set_desc(&f->h, head, bad_table(f, &b), lens[k], VRING_DESC_F_INDIRECT, 0);
		__atomic_store_n(&f->h.q.stats->driver_faults, 0, __ATOMIC_RELAXED);
		publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_LEN);
	}
}

/* A table of queue size + 1 entries (a well-formed chain otherwise). */
static void test_bad_indirect_too_large(void **state)
{
	struct fixture *f = fixture_get(state);
	const unsigned int n = f->h.num + 1u;
	struct hbuf *bufs = calloc(n, sizeof(*bufs));
	struct bad b;
	uint16_t head;

	assert_non_null(bufs);
	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	for (unsigned int i = 2; i < n - 1; i++)
		bufs[i] = (struct hbuf){ b.data, 0, false };
	bufs[n - 1] = (struct hbuf){ b.status, 1, true };
	head = hdrv_chain_indirect(&f->h, bufs, n);
	free(bufs);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_LEN);
}

static void test_bad_indirect_with_next(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint16_t head, other;

	bad_init(f, &b);
	head = hdrv_alloc_desc(&f->h);
	other = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, other, b.status, 1, VRING_DESC_F_WRITE, 0);
	hdrv_set_desc(&f->h, head, bad_table(f, &b), 3 * 16,
		      VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, other);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_NEXT);
}

static void test_bad_read_after_write(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.status, 1, true };
	bufs[2] = (struct hbuf){ b.data, 512, false };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_READ_AFTER_WRITE);
}

/* Queue of 512: seg_max is 254, a slot holds 270 iovecs; 300 data descriptors do not fit. */
static void test_bad_too_many_segments(void **state)
{
	struct fixture *f = fixture_get(state);
	enum { NR_DATA = 300 };
	struct hbuf bufs[NR_DATA + 2];
	uint8_t data[512];
	struct bad b;

	assert_int_equal(f->h.num, 512);
	assert_true(NR_DATA + 2 > f->h.q.iov_per_req);
	bad_init(f, &b);
	fill_pattern(data, sizeof(data), 0xbad);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	for (int i = 0; i < NR_DATA; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, data, 512), 512, false };
	bufs[NR_DATA + 1] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, NR_DATA + 2), hptr(f, b.status),
		    VQ_ERR_TOO_MANY_SEGS);
}

/*
 * A valid READ first, so that the slot the bad request lands in held a status
 * pointer; that byte is reset to 0xff and must stay so.
 */
static uint8_t *prime_slot(struct fixture *f)
{
	struct hreq r;
	uint32_t len;

	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_IN, 0, NULL, 512);
	hdrv_blk_submit(&f->h, &r);
	wait_used(f, r.head, &len);
	assert_int_equal(len, 513);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	*hptr(f, r.status_iova) = 0xff;
	return hptr(f, r.status_iova);
}

/* Nothing device-writable: no place for a status byte. */
static void test_bad_no_status(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t *old = prime_slot(f);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, false };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_NONE);
	assert_int_equal(*old, 0xff);
}

/* Only 12 readable bytes (4 + 8): no complete header. */
static void test_bad_short_header(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t *old = prime_slot(f);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 4, false };
	bufs[1] = (struct hbuf){ b.hdr + 4, 8, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_NONE);
	assert_int_equal(*old, 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bad_loop, o_uring),
		T(test_bad_loop_nonempty, o_uring),
		T(test_bad_loop_indirect, o_uring),
		T(test_bad_next_range, o_uring),
		T(test_bad_next_range_indirect, o_uring),
		T(test_bad_head_range, o_uring),
		T(test_bad_addr_overflow, o_uring),
		T(test_bad_unmapped, o_uring),
		T(test_bad_partly_mapped, o_uring),
		T(test_bad_write_to_readonly_region, o_uring),
		T(test_bad_read_from_writeonly_region, o_uring),
		T(test_bad_nested_indirect, o_uring),
		T(test_bad_indirect_len, o_uring),
		T(test_bad_indirect_too_large, o_uring),
		T(test_bad_indirect_with_next, o_uring),
		T(test_bad_read_after_write, o_uring),
		T(test_bad_too_many_segments, o_uring_q512),
		T(test_bad_no_status, o_uring),
		T(test_bad_no_status, o_aio),
		T(test_bad_no_status, o_null),
		T(test_bad_short_header, o_uring),
		T(test_bad_short_header, o_aio),
		T(test_bad_short_header, o_null),
	};

	return hc_run("malformed", tests, sizeof(tests) / sizeof(tests[0]));
}
