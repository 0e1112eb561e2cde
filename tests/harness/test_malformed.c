// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Malformed descriptor chains.  Each carries a WRITE of a distinct pattern
 * with the status byte preset to 0xff: it must come back with used.len 0,
 * the status byte and the image untouched, and the queue must go on serving
 * the next valid request.  The chains are refused before any backend sees
 * them; io_uring serves the valid requests around them (and null and aio
 * where the chain reaches request parsing).
 *
 * With HDRV_LAYOUT=packed the same cases run on a packed ring where they
 * mean the same thing; the split ring's next links and head index do not
 * exist there (those cases skip), and the packed ring's own catalogue (at
 * the end) runs instead: buffer IDs, AVAIL/USED and wrap counters, chains
 * longer than the ring, indirect descriptors in chains, event suppression
 * offsets.  A ring error stops the queue (vq_is_broken()) until reset.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_q512 = { .queue_size = 512, .backend = "io_uring" };
static struct hdrv_opts o_uring_q8 = { .queue_size = 8, .backend = "io_uring" };
static struct hdrv_opts o_gate = { .queue_size = 64, .backend_ops = &gate_ops };
static struct hdrv_opts o_gate_q8 = { .queue_size = 8, .backend_ops = &gate_ops };
static struct hdrv_opts o_uring_ev = { .queue_size = 64, .backend = "io_uring", .has_event_idx = true };

/* Why the split ring's next-link cases have no packed counterpart. */
#define NO_NEXT_LINKS "packed rings have no next links: chains are consecutive slots, " \
	"and NEXT in an indirect table means nothing (2.8.13)"

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
		assert_string_equal(vq_err_str(vq_last_err(hvq(f))), vq_err_str(err));
	check_image(f);
	assert_valid_served(f);
	assert_false(vq_is_broken(hvq(f)));
}

static void publish_bad(struct fixture *f, uint16_t head, const uint8_t *status, enum vq_err err)
{
	hdrv_publish(&f->h, head);
	assert_rejected(f, head, status, err);
}

static void test_bad_loop(void **state)
{
	struct fixture *f = fixture_get(state);

	hc_require_split(f, NO_NEXT_LINKS);
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

	hc_require_split(f, NO_NEXT_LINKS);
	struct bad b;
	uint16_t d[4];

	assert_true(blk_iov_per_req(f->h.dev.queue_size) > f->h.num);
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

	hc_require_split(f, NO_NEXT_LINKS);
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

	hc_require_split(f, NO_NEXT_LINKS);
	const uint16_t nexts[] = { 64, 0xffff };

	for (size_t k = 0; k < 2; k++) {
		struct bad b;
		uint16_t d0 = hdrv_alloc_desc(&f->h), d1 = hdrv_alloc_desc(&f->h);

		bad_init(f, &b);
		hdrv_set_desc(&f->h, d0, b.hdr, 16, VRING_DESC_F_NEXT, d1);
		hdrv_set_desc(&f->h, d1, b.data, 512, VRING_DESC_F_NEXT, nexts[k]);
		__atomic_store_n(&blk_queue_counters(f->h.q)->driver_faults, 0, __ATOMIC_RELAXED);
		publish_bad(f, d0, hptr(f, b.status), VQ_ERR_NEXT_RANGE);
	}
}

/* In an indirect table the limit is the table's size, not the queue's. */
static void test_bad_next_range_indirect(void **state)
{
	struct fixture *f = fixture_get(state);

	hc_require_split(f, NO_NEXT_LINKS);
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

	/* A packed buffer ID out of range breaks the ring: test_packed_id_range. */
	hc_require_split(f, "a head outside the table is skipped; packed has test_packed_id_range");

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
	assert_int_equal(vq_last_err(hvq(f)), VQ_ERR_HEAD_RANGE);
	assert_int_equal(vq_nr_bad_chains(hvq(f)), 2);
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

/* A valid indirect table for the bad WRITE (in the ring's layout): header, data, status. */
static uint64_t bad_table(struct fixture *f, const struct bad *b)
{
	const struct hbuf bufs[] = {
		{ b->hdr, 16, false }, { b->data, 512, false }, { b->status, 1, true },
	};

	return hdrv_table(&f->h, bufs, 3);
}

static void test_bad_nested_indirect(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint64_t inner, outer;
	uint16_t head;

	bad_init(f, &b);
	inner = bad_table(f, &b);
	outer = hdrv_table(&f->h, &(struct hbuf){ inner, 3 * 16, false, VRING_DESC_F_INDIRECT }, 1);
	head = hdrv_chain(&f->h, &(struct hbuf){ outer, 16, false, VRING_DESC_F_INDIRECT }, 1);
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
		head = hdrv_chain(&f->h, &(struct hbuf){ bad_table(f, &b), lens[k], false,
							  VRING_DESC_F_INDIRECT }, 1);
		__atomic_store_n(&blk_queue_counters(f->h.q)->driver_faults, 0, __ATOMIC_RELAXED);
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
	uint16_t head;

	bad_init(f, &b);
	/* hdrv_chain() adds NEXT to the first: INDIRECT | NEXT, then the status. */
	head = hdrv_chain(&f->h, (struct hbuf[]){
		{ bad_table(f, &b), 3 * 16, false, VRING_DESC_F_INDIRECT }, { b.status, 1, true },
	}, 2);
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
	assert_true(NR_DATA + 2 > blk_iov_per_req(f->h.dev.queue_size));
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

/* ---- the packed ring's own catalogue (HDRV_LAYOUT=packed) ---------------- */

static struct vring_packed_desc pdesc(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	return (struct vring_packed_desc){
		.addr = htole64(addr), .len = htole32(len), .id = htole16(id), .flags = htole16(flags),
	};
}

/*
 * The bad WRITE as 3 ring descriptors for the slots from the driver's avail
 * position on: buffer ID @id, each available for its slot's lap.
 */
static void bad_descs(struct fixture *f, const struct bad *b, uint16_t id,
		      struct vring_packed_desc *d)
{
	uint16_t pos = f->h.avail_pos;

	d[0] = pdesc(b->hdr, 16, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	pos = hdrv_packed_pos_add(&f->h, pos, 1);
	d[1] = pdesc(b->data, 512, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	pos = hdrv_packed_pos_add(&f->h, pos, 1);
	d[2] = pdesc(b->status, 1, id, VRING_DESC_F_WRITE | hdrv_packed_avail_flags(pos));
}

/*
 * Stop the queue's thread, then check why the ring broke: vq_last_err() is
 * the queue thread's plain field, only safe to read once it is joined.
 */
static void stop_and_check_err(struct fixture *f, enum vq_err err)
{
	gate_open();
	blk_queue_stop(f->h.q);
	hdrv_join(&f->h);
	assert_string_equal(vq_err_str(vq_last_err(hvq(f))), vq_err_str(err));
	assert_int_equal(blk_queue_counters(f->h.q)->driver_fault_reasons[err], 1);
}

/*
 * The ring is broken for @err: the queue stops, nothing comes back (the
 * status byte stays 0xff, the image as it was), and a valid request is not
 * served until a reset.
 */
static void assert_ring_broken(struct fixture *f, const uint8_t *status, enum vq_err err)
{
	struct hreq r;

	wait_broken(f);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(*status, 0xff);
	check_image(f);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, BAD_SECTOR, NULL, 512);
	hdrv_blk_submit(&f->h, &r);
	hdrv_kick(&f->h);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(hdrv_status(&f->h, &r), 0xff);
	check_image(f);
	stop_and_check_err(f, err);
}

/* The last descriptor names buffer ID @id >= num: nothing can come back for it. */
static void packed_id_range(void **state, uint16_t id)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	struct bad b;

	hc_require_packed(f);
	assert_valid_served(f);
	bad_init(f, &b);
	bad_descs(f, &b, id, d);
	hdrv_packed_put(&f->h, d, 3);
	assert_ring_broken(f, hptr(f, b.status), VQ_ERR_HEAD_RANGE);
}

static void test_packed_id_range(void **state)
{
	packed_id_range(state, 64);
}

static void test_packed_id_range_ffff(void **state)
{
	packed_id_range(state, 0xffff);
}

/*
 * A buffer ID made available again while its request is in flight (the gate
 * holds it).  vq_pop() catches it (its journal knows the ID is in flight):
 * counted as VQ_ERR_HEAD_IN_FLIGHT, ring broken; the request in flight
 * still completes, the second never starts.
 */
static void test_packed_id_in_flight(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	uint8_t data[4096];
	struct hreq r;
	struct bad b;
	uint32_t len;

	hc_require_packed(f);
	fill_pattern(data, sizeof(data), 901);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 16, data, sizeof(data));
	hdrv_blk_submit(&f->h, &r);
	gate_wait_held(1);
	bad_init(f, &b);
	bad_descs(f, &b, r.head, d);
	hdrv_packed_put(&f->h, d, 3);
	wait_broken(f);
	assert_no_used(f, QUIET_MS);
	gate_open();
	wait_used(f, r.head, &len);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(gate_held(), 1);
	assert_int_equal(*hptr(f, b.status), 0xff);
	check_image(f);            /* the gate writes nothing */
	/* The virtqueue's journal knows which IDs are in flight: it says why, the queue counts it. */
	blk_queue_stop(f->h.q);
	hdrv_join(&f->h);
	assert_int_equal(vq_last_err(hvq(f)), VQ_ERR_HEAD_IN_FLIGHT);
	assert_int_equal(blk_queue_counters(f->h.q)->driver_fault_reasons[VQ_ERR_HEAD_IN_FLIGHT], 1);
}

/*
 * One buffer ID made available twice in one batch, the first time in a
 * malformed chain (returned at once with used.len 0, not yet flushed): the
 * ID is still the device's, so the second is the driver reusing it.  Ring
 * broken (VQ_ERR_HEAD_IN_FLIGHT); the first chain's used entry still goes
 * back, and the in-flight log's chain copies are never freed twice.
 */
static void test_packed_id_reused_before_used(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[4];
	uint16_t pos = f->h.avail_pos, id = 5;
	uint64_t t;
	uint32_t len;
	struct bad b;

	hc_require_packed(f);
	bad_init(f, &b);
	t = hdrv_table(&f->h, (struct hbuf[]){ { b.data, 512, false }, { b.status, 1, true } }, 2);
	for (int k = 0; k < 4; k += 2) {
		/* [header NEXT, indirect table]: an indirect descriptor not alone. */
		d[k] = pdesc(b.hdr, 16, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
		pos = hdrv_packed_pos_add(&f->h, pos, 1);
		d[k + 1] = pdesc(t, 2 * 16, id, VRING_DESC_F_INDIRECT | hdrv_packed_avail_flags(pos));
		pos = hdrv_packed_pos_add(&f->h, pos, 1);
	}
	hdrv_packed_put(&f->h, d, 4);
	wait_broken(f);
	wait_used(f, id, &len);
	assert_int_equal(len, 0);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(*hptr(f, b.status), 0xff);
	check_image(f);
	blk_queue_stop(f->h.q);
	hdrv_join(&f->h);
	assert_int_equal(blk_queue_counters(f->h.q)->driver_fault_reasons[VQ_ERR_HEAD_IN_FLIGHT], 1);
}

/*
 * The slot at the device's position says "used in this lap": only the
 * driver could write that.  A request held in flight (the gate) keeps the
 * driver's own used position behind that slot.
 */
static void test_packed_flags_used(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	struct hreq r;
	struct bad b;
	uint16_t id;

	hc_require_packed(f);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_IN, 0, NULL, 512);
	hdrv_blk_submit(&f->h, &r);
	gate_wait_held(1);
	bad_init(f, &b);
	id = hdrv_packed_alloc_id(&f->h);
	bad_descs(f, &b, id, d);
	/* AVAIL == USED == the current wrap counter. */
	d[0].flags = htole16(VRING_DESC_F_NEXT | ((f->h.avail_pos & VQ_POS_WRAP) ?
		(1u << VRING_PACKED_DESC_F_AVAIL) | (1u << VRING_PACKED_DESC_F_USED) : 0));
	hdrv_packed_put(&f->h, d, 3);
	assert_ring_broken(f, hptr(f, b.status), VQ_ERR_PACKED_FLAGS);
}

/*
 * A chain crossing the ring's end whose slot 0 still has the old lap's
 * AVAIL/USED bits (the driver forgot to flip its wrap counter there).
 */
static void test_packed_wrap_not_flipped(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	struct bad b;
	uint16_t id;

	hc_require_packed(f);
	assert_int_equal(f->h.num, 8);
	assert_valid_served(f);           /* two chains of 3: the driver is at slot 6 */
	assert_int_equal(f->h.avail_pos, 6 | VQ_POS_WRAP);
	bad_init(f, &b);
	id = hdrv_packed_alloc_id(&f->h);
	bad_descs(f, &b, id, d);
	d[2].flags = htole16(VRING_DESC_F_WRITE | hdrv_packed_avail_flags(f->h.avail_pos));
	hdrv_packed_put(&f->h, d, 3);
	assert_ring_broken(f, hptr(f, b.status), VQ_ERR_PACKED_WRAP);
}

/* Every slot of the ring available and linked, the last still with NEXT: longer than the ring. */
static void test_packed_chain_longer_than_ring(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[8];
	uint16_t id, pos;
	struct bad b;

	hc_require_packed(f);
	assert_int_equal(f->h.num, 8);
	bad_init(f, &b);
	id = hdrv_packed_alloc_id(&f->h);
	pos = f->h.avail_pos;
	d[0] = pdesc(b.hdr, 16, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	for (unsigned int i = 1; i < 8; i++) {
		pos = hdrv_packed_pos_add(&f->h, pos, 1);
		d[i] = pdesc(b.data, 64, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	}
	hdrv_packed_put(&f->h, d, 8);
	assert_ring_broken(f, hptr(f, b.status), VQ_ERR_RING_OVERRUN);
}

/*
 * Two requests of 3 slots held in flight in a ring of 8, then a third chain
 * of 3: 9 slots the device would own.  The two in flight still complete.
 */
static void test_packed_more_in_flight_than_ring(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	struct hreq r[2];
	uint16_t heads[2];
	uint64_t st[2];
	struct bad b;
	uint16_t id;

	hc_require_packed(f);
	assert_int_equal(f->h.num, 8);
	for (int i = 0; i < 2; i++) {
		hdrv_blk_req(&f->h, &r[i], VIRTIO_BLK_T_OUT, 16 + 8 * i, NULL, 512);
		hdrv_blk_submit(&f->h, &r[i]);
		heads[i] = r[i].head;
		st[i] = r[i].status_iova;
	}
	gate_wait_held(2);
	bad_init(f, &b);
	id = hdrv_packed_alloc_id(&f->h);
	bad_descs(f, &b, id, d);
	hdrv_packed_put(&f->h, d, 3);
	wait_broken(f);
	assert_no_used(f, QUIET_MS);
	gate_open();
	collect(f, heads, st, 2, 1);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(gate_held(), 2);
	assert_int_equal(*hptr(f, b.status), 0xff);
	check_image(f);
	stop_and_check_err(f, VQ_ERR_RING_OVERRUN);
}

/* A direct descriptor, then an indirect one: an indirect descriptor must be alone (2.8.13). */
static void test_packed_indirect_in_chain(void **state)
{
	struct fixture *f = fixture_get(state);
	struct bad b;
	uint64_t t;
	uint16_t id;

	hc_require_packed(f);
	bad_init(f, &b);
	t = hdrv_table(&f->h, (struct hbuf[]){ { b.data, 512, false }, { b.status, 1, true } }, 2);
	id = hdrv_chain(&f->h, (struct hbuf[]){
		{ b.hdr, 16, false }, { t, 2 * 16, false, VRING_DESC_F_INDIRECT },
	}, 2);
	publish_bad(f, id, hptr(f, b.status), VQ_ERR_INDIRECT_IN_CHAIN);
}

/* The next used entry without reading the call eventfd. */
static void take_used_quietly(struct fixture *f, uint16_t head, uint32_t want_len)
{
	struct timespec ms = { 0, 1000000L };
	uint32_t id, len;
	int r = -EAGAIN;

	for (int i = 0; i < WAIT_MS && (r = hdrv_take_used(&f->h, &id, &len)) < 0; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(r, 0);
	assert_int_equal(id, head);
	assert_int_equal(len, want_len);
}

/*
 * EVENT_IDX, and the driver's event structure asks for an interrupt at a
 * slot outside the ring: nothing to compare with, so the device interrupts
 * (and records VQ_ERR_EVENT_OFFSET); the request itself is served.
 */
static void test_packed_event_offset(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[2048];
	struct hreq r;
	eventfd_t v;
	bool has_call = false;

	hc_require_packed(f);
	assert_valid_served(f);           /* past the first entry, which always interrupts */
	/* A valid event far ahead first: that used entry must not interrupt. */
	hdrv_set_used_event(&f->h, 40);
	eventfd_read(f->h.call_fd, &v);
	fill_pattern(data, sizeof(data), 902);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 24, data, sizeof(data));
	hdrv_blk_submit(&f->h, &r);
	take_used_quietly(f, r.head, 1);
	assert_int_not_equal(eventfd_read(f->h.call_fd, &v), 0);
	model_write(f, 24, data, sizeof(data));

	__atomic_store_n(&f->h.driver_event->off_wrap,
			 htole16((uint16_t)(f->h.num | (f->h.used_pos & VQ_POS_WRAP))),
			 __ATOMIC_SEQ_CST);
	fill_pattern(data, sizeof(data), 903);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 32, data, sizeof(data));
	hdrv_blk_submit(&f->h, &r);
	take_used_quietly(f, r.head, 1);
	for (int i = 0; i < WAIT_MS && !has_call; i++) {
		has_call = eventfd_read(f->h.call_fd, &v) == 0;
		if (!has_call)
			nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
	}
	assert_true(has_call);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	model_write(f, 32, data, sizeof(data));
	assert_string_equal(vq_err_str(vq_last_err(hvq(f))), vq_err_str(VQ_ERR_EVENT_OFFSET));
	assert_false(vq_is_broken(hvq(f)));
	assert_int_equal(QSTAT(f, nr_bad_chains), 0);
	check_image(f);
	hdrv_set_interrupts(&f->h, true);
	assert_valid_served(f);
}

/*
 * A driver that moves its wrap counter without making descriptors
 * available: a whole chain at the device's position flagged available for
 * the other lap.  Not available: no request runs, nothing breaks; a correct
 * chain written there afterwards is served.
 */
static void test_packed_wrong_lap(void **state)
{
	struct fixture *f = fixture_get(state);
	struct vring_packed_desc d[3];
	uint64_t nr_reqs;
	uint16_t pos, id;
	struct bad b;

	hc_require_packed(f);
	assert_valid_served(f);
	nr_reqs = QSTAT(f, nr_reqs);
	bad_init(f, &b);
	id = hdrv_packed_alloc_id(&f->h);
	pos = f->h.avail_pos ^ VQ_POS_WRAP;      /* the slots, the other lap's bits */
	d[0] = pdesc(b.hdr, 16, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	d[1] = pdesc(b.data, 512, id, VRING_DESC_F_NEXT | hdrv_packed_avail_flags(pos));
	d[2] = pdesc(b.status, 1, id, VRING_DESC_F_WRITE | hdrv_packed_avail_flags(pos));
	hdrv_packed_write(&f->h, f->h.avail_pos, d, 3);
	hdrv_kick(&f->h);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(QSTAT(f, nr_reqs), nr_reqs);
	assert_int_equal(QSTAT(f, nr_bad_chains), 0);
	assert_false(vq_is_broken(hvq(f)));
	assert_int_equal(*hptr(f, b.status), 0xff);
	check_image(f);
	/* The driver's position did not move: the next chain goes to the same slots. */
	assert_valid_served(f);
	assert_int_equal(*hptr(f, b.status), 0xff);
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
		/* The packed ring's own (they skip on split rings). */
		T(test_packed_id_range, o_uring),
		T(test_packed_id_range_ffff, o_uring),
		T(test_packed_id_in_flight, o_gate),
		T(test_packed_id_reused_before_used, o_uring),
		T(test_packed_flags_used, o_gate),
		T(test_packed_wrap_not_flipped, o_uring_q8),
		T(test_packed_chain_longer_than_ring, o_uring_q8),
		T(test_packed_more_in_flight_than_ring, o_gate_q8),
		T(test_packed_indirect_in_chain, o_uring),
		T(test_packed_event_offset, o_uring_ev),
		T(test_packed_wrong_lap, o_uring),
	};

	return hc_run("malformed", tests, sizeof(tests) / sizeof(tests[0]));
}
