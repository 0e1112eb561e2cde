// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-blk requests on hand-built chains: blk_req_parse() and
 * blk_req_finish() for each type, split headers, where the status byte is,
 * range checks; blk_dev_features(), blk_dev_config(), blk_seg_max().
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "blk/blk.h"

#define CAP 2048u   /* sectors: 1 MiB */

typedef struct virtio_blk_discard_write_zeroes dwz_seg;

static const struct blk_dev dev_rw = {
	.capacity_sectors = CAP, .logical_block_size = 512, .physical_block_size = 4096,
	.num_queues = 1, .queue_size = 128, .has_discard = true, .has_write_zeroes = true,
	.serial = "unit-serial-01234567",
};

/* A request and the memory its chain points at. */
struct rq {
	struct blk_req req;
	struct iovec iov[40];
	struct virtio_blk_outhdr hdr;
	uint8_t data[8192];
	uint8_t status;
	dwz_seg segs[BLK_MAX_DWZ_SEG + 2];
};

static struct rq rq;

static void rq_init(uint32_t type, uint64_t sector)
{
	memset(&rq, 0, sizeof(rq));
	rq.req.elem.iov = rq.iov;
	rq.hdr.type = htole32(type);
	rq.hdr.sector = htole64(sector);
	rq.status = 0xff;
	memset(rq.data, 0xee, sizeof(rq.data));
}

/* Append a buffer to the chain: all readable ones before the writable ones. */
static void add(void *base, size_t len, bool is_write)
{
	struct vq_elem *e = &rq.req.elem;

	if (is_write) {
		e->iov[e->nr_out + e->nr_in++] = (struct iovec){ base, len };
		e->in_bytes += len;
	} else {
		assert_int_equal(e->nr_in, 0);
		e->iov[e->nr_out++] = (struct iovec){ base, len };
		e->out_bytes += len;
	}
}

static int parse(const struct blk_dev *dev)
{
	return blk_req_parse(dev, &rq.req);
}

/* A READ or WRITE of @len bytes at @sector: header, one data buffer, status. */
static int parse_rw(const struct blk_dev *dev, uint32_t type, uint64_t sector, size_t len)
{
	rq_init(type, sector);
	add(&rq.hdr, 16, false);
	if (len)
		add(rq.data, len, type == VIRTIO_BLK_T_IN);
	add(&rq.status, 1, true);
	return parse(dev);
}

/* Answered at parse time with @status; finishing writes it and reports used.len 1. */
static void assert_answered(uint8_t status)
{
	assert_int_equal(rq.req.op, BLK_OP_NONE);
	assert_int_equal(rq.req.status, status);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
	assert_int_equal(rq.status, status);
}

static void test_read(void **state)
{
	(void)state;
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_IN, 10, 1024), 0);
	assert_int_equal(rq.req.op, BLK_OP_READ);
	assert_int_equal(rq.req.offset_bytes, 10 * 512);
	assert_int_equal(rq.req.data_bytes, 1024);
	assert_int_equal(rq.req.nr_data_iov, 1);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, rq.data);
	assert_int_equal(rq.req.data_iov[0].iov_len, 1024);
	assert_ptr_equal(rq.req.status_ptr, &rq.status);
	assert_int_equal(rq.status, 0xff);   /* nothing written before finish */

	assert_int_equal(blk_req_finish(&rq.req, 0), 1025);
	assert_int_equal(rq.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_finish(&rq.req, -EIO), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req_finish(&rq.req, -EOPNOTSUPP), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_req_finish(&rq.req, -ENOSPC), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_IOERR);
}

/* The status byte is the last byte of the last writable buffer, data before it. */
/*
 * used.len is 32 bits: a READ whose writable part is larger cannot say how
 * much it wrote (it used to be truncated).  Refused; its data is never touched.
 */
static void test_read_over_4g(void **state)
{
	static const struct blk_dev dev_big = {
		.capacity_sectors = 1ULL << 40, .logical_block_size = 512,
		.physical_block_size = 512, .num_queues = 1, .queue_size = 128,
	};

	(void)state;
	rq_init(VIRTIO_BLK_T_IN, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 0xfffffe00u, true);
	add(rq.data, 0xfffffe00u, true);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_big), 0);
	assert_answered(VIRTIO_BLK_S_IOERR);
	/* Just under the limit is fine. */
	rq_init(VIRTIO_BLK_T_IN, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 0xfffffe00u, true);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_big), 0);
	assert_int_equal(rq.req.op, BLK_OP_READ);
	assert_int_equal(rq.req.in_len, 0xfffffe01u);
}

static void test_read_status_in_data(void **state)
{
	(void)state;
	rq_init(VIRTIO_BLK_T_IN, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 2048, true);
	add(rq.data + 4096, 1024 + 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_READ);
	assert_int_equal(rq.req.data_bytes, 3072);
	assert_int_equal(rq.req.nr_data_iov, 2);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, rq.data);
	assert_int_equal(rq.req.data_iov[0].iov_len, 2048);
	assert_ptr_equal(rq.req.data_iov[1].iov_base, rq.data + 4096);
	assert_int_equal(rq.req.data_iov[1].iov_len, 1024);
	assert_ptr_equal(rq.req.status_ptr, rq.data + 4096 + 1024);
	assert_int_equal(blk_req_finish(&rq.req, 0), 3072 + 1);
	assert_int_equal(rq.data[4096 + 1024], VIRTIO_BLK_S_OK);
	assert_int_equal(rq.data[4096 + 1023], 0xee);
	assert_int_equal(rq.data[4096 + 1025], 0xee);
}

/* Data, then the status alone: the status iovec is not data. */
static void test_read_multi(void **state)
{
	(void)state;
	rq_init(VIRTIO_BLK_T_IN, 100);
	add(&rq.hdr, 16, false);
	add(rq.data, 512, true);
	add(rq.data + 512, 1536, true);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.nr_data_iov, 2);
	assert_int_equal(rq.req.data_bytes, 2048);
	assert_ptr_equal(rq.req.status_ptr, &rq.status);
	assert_int_equal(blk_req_finish(&rq.req, 0), 2049);

	/* No data at all: a READ of nothing. */
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_IN, 5, 0), 0);
	assert_int_equal(rq.req.op, BLK_OP_READ);
	assert_int_equal(rq.req.data_bytes, 0);
	assert_int_equal(rq.req.nr_data_iov, 0);
	assert_ptr_equal(rq.req.status_ptr, &rq.status);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
}

static void test_write(void **state)
{
	(void)state;
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_OUT, CAP - 2, 1024), 0);
	assert_int_equal(rq.req.op, BLK_OP_WRITE);
	assert_int_equal(rq.req.offset_bytes, (uint64_t)(CAP - 2) * 512);
	assert_int_equal(rq.req.data_bytes, 1024);
	assert_int_equal(rq.req.nr_data_iov, 1);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, rq.data);
	assert_ptr_equal(rq.req.status_ptr, &rq.status);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_finish(&rq.req, -EIO), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_IOERR);

	/* Spare writable bytes before the status: still the last byte. */
	rq_init(VIRTIO_BLK_T_OUT, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 512, false);
	add(rq.data + 1024, 8, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_ptr_equal(rq.req.status_ptr, rq.data + 1024 + 7);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
	assert_int_equal(rq.data[1024 + 7], VIRTIO_BLK_S_OK);
	assert_int_equal(rq.data[1024], 0xee);
}

/* The header over 4 + 4 + 8 bytes; the data starts in a fresh iovec. */
static void test_split_header(void **state)
{
	uint8_t raw[16];

	(void)state;
	rq_init(VIRTIO_BLK_T_OUT, 77);
	memcpy(raw, &rq.hdr, 16);
	add(raw, 4, false);
	add(raw + 4, 4, false);
	add(raw + 8, 8, false);
	add(rq.data, 1024, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_WRITE);
	assert_int_equal(rq.req.offset_bytes, 77 * 512);
	assert_int_equal(rq.req.nr_data_iov, 1);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, rq.data);
	assert_int_equal(rq.req.data_bytes, 1024);

	/* READ with a split header: the header iovecs are not data. */
	rq_init(VIRTIO_BLK_T_IN, 78);
	memcpy(raw, &rq.hdr, 16);
	add(raw, 4, false);
	add(raw + 4, 12, false);
	add(rq.data, 512, true);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_READ);
	assert_int_equal(rq.req.offset_bytes, 78 * 512);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, rq.data);
}

/* Header and data share iovecs: the data starts right after byte 16. */
static void test_header_shares_data(void **state)
{
	uint8_t buf[16 + 1024];

	(void)state;
	rq_init(VIRTIO_BLK_T_OUT, 3);
	memcpy(buf, &rq.hdr, 16);
	add(buf, sizeof(buf), false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_WRITE);
	assert_int_equal(rq.req.offset_bytes, 3 * 512);
	assert_int_equal(rq.req.nr_data_iov, 1);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, buf + 16);
	assert_int_equal(rq.req.data_iov[0].iov_len, 1024);

	/* 4 bytes, then 12 header bytes + 512 data bytes in one iovec. */
	rq_init(VIRTIO_BLK_T_OUT, 4);
	memcpy(buf, &rq.hdr, 16);
	add(buf, 4, false);
	add(buf + 4, 12 + 512, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.offset_bytes, 4 * 512);
	assert_int_equal(rq.req.data_bytes, 512);
	assert_int_equal(rq.req.nr_data_iov, 1);
	assert_ptr_equal(rq.req.data_iov[0].iov_base, buf + 16);
	assert_int_equal(rq.req.data_iov[0].iov_len, 512);
}

static void test_flush(void **state)
{
	(void)state;
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_FLUSH, 0, 0), 0);
	assert_int_equal(rq.req.op, BLK_OP_FLUSH);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_finish(&rq.req, -EIO), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_IOERR);
}

static void get_id(size_t len, uint32_t want_in_len, size_t want_bytes)
{
	rq_init(VIRTIO_BLK_T_GET_ID, 0);
	add(&rq.hdr, 16, false);
	if (len)
		add(rq.data, len, true);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_NONE);
	assert_int_equal(blk_req_finish(&rq.req, -EIO), want_in_len);   /* res is ignored */
	assert_int_equal(rq.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(rq.data, dev_rw.serial, want_bytes);
	for (size_t i = want_bytes; i < 64; i++)
		assert_int_equal(rq.data[i], 0xee);
}

static void test_get_id(void **state)
{
	(void)state;
	get_id(20, 21, 20);
	get_id(10, 11, 10);
	get_id(32, 21, 20);
	get_id(0, 1, 0);

	/* Over two iovecs, the status sharing the second. */
	rq_init(VIRTIO_BLK_T_GET_ID, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 5, true);
	add(rq.data + 100, 15 + 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(blk_req_finish(&rq.req, 0), 21);
	assert_memory_equal(rq.data, dev_rw.serial, 5);
	assert_memory_equal(rq.data + 100, dev_rw.serial + 5, 15);
	assert_int_equal(rq.data[115], VIRTIO_BLK_S_OK);
}

static void test_unknown_type(void **state)
{
	const uint32_t types[] = { 2, 3, 5, 0x99, VIRTIO_BLK_T_SECURE_ERASE, 0xffffffffu,
				   VIRTIO_BLK_T_IN | VIRTIO_BLK_T_BARRIER };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(parse_rw(&dev_rw, types[i], 0, 512), 0);
		assert_answered(VIRTIO_BLK_S_UNSUPP);
	}
}

static void rw_status(const struct blk_dev *dev, uint32_t type, uint64_t sector, size_t len,
		      int want_op)
{
	assert_int_equal(parse_rw(dev, type, sector, len), 0);
	if (want_op == BLK_OP_NONE)
		assert_answered(VIRTIO_BLK_S_IOERR);
	else
		assert_int_equal(rq.req.op, want_op);
}

static void test_range(void **state)
{
	(void)state;
	for (uint32_t t = VIRTIO_BLK_T_IN; t <= VIRTIO_BLK_T_OUT; t++) {
		int op = t == VIRTIO_BLK_T_IN ? BLK_OP_READ : BLK_OP_WRITE;

		rw_status(&dev_rw, t, CAP - 2, 1024, op);
		rw_status(&dev_rw, t, CAP - 1, 512, op);
		rw_status(&dev_rw, t, CAP - 1, 1024, BLK_OP_NONE);
		rw_status(&dev_rw, t, CAP, 512, BLK_OP_NONE);
		rw_status(&dev_rw, t, CAP, 0, op);                  /* nothing, at the end */
		rw_status(&dev_rw, t, CAP + 1, 0, BLK_OP_NONE);
		rw_status(&dev_rw, t, UINT64_MAX, 512, BLK_OP_NONE);
		rw_status(&dev_rw, t, UINT64_MAX - 1, 1024, BLK_OP_NONE);  /* wraps */
		rw_status(&dev_rw, t, (UINT64_MAX >> 9) + 1, 512, BLK_OP_NONE);
	}
}

static void test_unaligned(void **state)
{
	(void)state;
	rw_status(&dev_rw, VIRTIO_BLK_T_IN, 0, 1000, BLK_OP_NONE);
	rw_status(&dev_rw, VIRTIO_BLK_T_IN, 0, 511, BLK_OP_NONE);
	rw_status(&dev_rw, VIRTIO_BLK_T_OUT, 0, 513, BLK_OP_NONE);
	rw_status(&dev_rw, VIRTIO_BLK_T_OUT, 0, 1, BLK_OP_NONE);
	/* Header over 17 readable bytes: one stray data byte. */
	rq_init(VIRTIO_BLK_T_OUT, 0);
	add(&rq.hdr, 16, false);
	add(rq.data, 1, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_answered(VIRTIO_BLK_S_IOERR);
}

static int parse_dwz(const struct blk_dev *dev, uint32_t type, unsigned int nr)
{
	rq_init(type, 0);
	add(&rq.hdr, 16, false);
	if (nr)
		add(rq.segs, nr * sizeof(dwz_seg), false);
	add(&rq.status, 1, true);
	return parse(dev);
}

static dwz_seg seg(uint64_t sector, uint32_t nr_sectors, uint32_t flags)
{
	return (dwz_seg){
		.sector = htole64(sector), .num_sectors = htole32(nr_sectors),
		.flags = htole32(flags),
	};
}

static void test_readonly(void **state)
{
	struct blk_dev ro = dev_rw;

	(void)state;
	ro.is_readonly = true;
	rw_status(&ro, VIRTIO_BLK_T_OUT, 0, 512, BLK_OP_NONE);
	rw_status(&ro, VIRTIO_BLK_T_IN, 0, 512, BLK_OP_READ);
	assert_int_equal(parse_rw(&ro, VIRTIO_BLK_T_FLUSH, 0, 0), 0);
	assert_int_equal(rq.req.op, BLK_OP_FLUSH);
	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES; t += 2) {
		rq.segs[0] = seg(0, 8, 0);
		assert_int_equal(parse_dwz(&ro, t, 1), 0);
		assert_answered(VIRTIO_BLK_S_IOERR);
	}
	/* Even an out-of-range write is refused (either way: IOERR). */
	rw_status(&ro, VIRTIO_BLK_T_OUT, CAP, 512, BLK_OP_NONE);
}

static void test_dwz(void **state)
{
	(void)state;
	rq.segs[0] = seg(8, 16, 0);
	rq.segs[1] = seg(CAP - 4, 4, 0);
	assert_int_equal(parse_dwz(&dev_rw, VIRTIO_BLK_T_DISCARD, 0), 0);
	assert_answered(VIRTIO_BLK_S_UNSUPP);   /* no segment at all */

	rq_init(VIRTIO_BLK_T_DISCARD, 0);
	rq.segs[0] = seg(8, 16, 0);
	rq.segs[1] = seg(CAP - 4, 4, 0);
	add(&rq.hdr, 16, false);
	add(rq.segs, 2 * sizeof(dwz_seg), false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_DISCARD);
	assert_int_equal(rq.req.nr_segs, 2);
	assert_int_equal(rq.req.segs[0].offset_bytes, 8 * 512);
	assert_int_equal(rq.req.segs[0].len_bytes, 16 * 512);
	assert_false(rq.req.segs[0].is_unmap);
	assert_int_equal(rq.req.segs[1].offset_bytes, (uint64_t)(CAP - 4) * 512);
	assert_int_equal(rq.req.segs[1].len_bytes, 4 * 512);
	assert_int_equal(blk_req_finish(&rq.req, 0), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_finish(&rq.req, -EOPNOTSUPP), 1);
	assert_int_equal(rq.status, VIRTIO_BLK_S_UNSUPP);

	rq_init(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	rq.segs[0] = seg(0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	rq.segs[1] = seg(1, 1, 0);
	add(&rq.hdr, 16, false);
	add(rq.segs, 2 * sizeof(dwz_seg), false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_WRITE_ZEROES);
	assert_true(rq.req.segs[0].is_unmap);
	assert_false(rq.req.segs[1].is_unmap);
}

/* What the backend is handed is the parsed request itself, and comes back as it. */
static void test_backend_receives_the_request(void **state)
{
	struct backend_req *io;

	(void)state;
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_OUT, 3, 2048), 0);
	io = blk_req_io(&rq.req);
	assert_int_equal(io->op, BACKEND_OP_WRITE);
	assert_int_equal(io->offset_bytes, 3 * 512);
	assert_int_equal(io->data_bytes, 2048);
	assert_int_equal(io->nr_data_iov, 1);
	assert_ptr_equal(io->data_iov[0].iov_base, rq.data);
	assert_ptr_equal(blk_req_of(io), &rq.req);

	rq_init(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	rq.segs[0] = seg(8, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	add(&rq.hdr, 16, false);
	add(rq.segs, sizeof(dwz_seg), false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	io = blk_req_io(&rq.req);
	assert_int_equal(io->op, BACKEND_OP_WRITE_ZEROES);
	assert_int_equal(io->nr_segs, 1);
	assert_int_equal(io->segs[0].offset_bytes, 8 * 512);
	assert_int_equal(io->segs[0].len_bytes, 16 * 512);
	assert_true(io->segs[0].is_unmap);
	assert_string_equal(blk_op_name(rq.req.op), "write-zeroes");
}

/* The payload split anywhere: here 16 header + 8 segment bytes, then 8 + 16. */
static void test_dwz_split_payload(void **state)
{
	uint8_t buf[16 + 32];

	(void)state;
	rq_init(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	rq.segs[0] = seg(100, 7, 0);
	rq.segs[1] = seg(200, 9, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	memcpy(buf, &rq.hdr, 16);
	memcpy(buf + 16, rq.segs, 32);
	add(buf, 24, false);
	add(buf + 24, 24, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_int_equal(rq.req.op, BLK_OP_WRITE_ZEROES);
	assert_int_equal(rq.req.nr_segs, 2);
	assert_int_equal(rq.req.segs[0].offset_bytes, 100 * 512);
	assert_int_equal(rq.req.segs[0].len_bytes, 7 * 512);
	assert_int_equal(rq.req.segs[1].offset_bytes, 200 * 512);
	assert_int_equal(rq.req.segs[1].len_bytes, 9 * 512);
	assert_true(rq.req.segs[1].is_unmap);
}

static void dwz_answered(const struct blk_dev *dev, uint32_t type, unsigned int nr,
			 uint8_t status)
{
	dwz_seg segs[BLK_MAX_DWZ_SEG + 2];

	memcpy(segs, rq.segs, sizeof(segs));
	rq_init(type, 0);
	memcpy(rq.segs, segs, sizeof(segs));
	add(&rq.hdr, 16, false);
	add(rq.segs, nr * sizeof(dwz_seg), false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(dev), 0);
	if (status == VIRTIO_BLK_S_OK) {
		assert_int_not_equal(rq.req.op, BLK_OP_NONE);
		assert_int_equal(rq.req.nr_segs, nr);
	} else {
		assert_answered(status);
	}
}

static void test_dwz_refused(void **state)
{
	struct blk_dev big = dev_rw, none = dev_rw;

	(void)state;
	memset(rq.segs, 0, sizeof(rq.segs));
	/* DISCARD with unmap; unknown flags on either. */
	rq.segs[0] = seg(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_S_UNSUPP);
	rq.segs[0] = seg(0, 8, 2);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_S_UNSUPP);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_UNSUPP);
	rq.segs[0] = seg(0, 8, 0x80000001u);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_UNSUPP);
	/* The second segment spoils the request. */
	rq.segs[0] = seg(0, 8, 0);
	rq.segs[1] = seg(8, 8, 4);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, 2, VIRTIO_BLK_S_UNSUPP);

	/* Segment count: max is fine, one more is not. */
	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG + 1; i++)
		rq.segs[i] = seg(i, 1, 0);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, BLK_MAX_DWZ_SEG, VIRTIO_BLK_S_OK);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_DISCARD, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);

	/* A payload that is not whole segments. */
	rq_init(VIRTIO_BLK_T_DISCARD, 0);
	add(&rq.hdr, 16, false);
	add(rq.segs, 24, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), 0);
	assert_answered(VIRTIO_BLK_S_UNSUPP);

	/* Ranges. */
	rq.segs[0] = seg(CAP - 4, 8, 0);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_S_IOERR);
	rq.segs[0] = seg(UINT64_MAX - 2, 8, 0);
	dwz_answered(&dev_rw, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_IOERR);
	big.capacity_sectors = 1ULL << 40;
	rq.segs[0] = seg(0, BLK_MAX_DWZ_SECTORS, 0);
	dwz_answered(&big, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_OK);
	rq.segs[0] = seg(0, BLK_MAX_DWZ_SECTORS + 1, 0);
	dwz_answered(&big, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_IOERR);
	dwz_answered(&big, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_S_IOERR);

	/* Not offered. */
	none.has_discard = false;
	none.has_write_zeroes = false;
	rq.segs[0] = seg(0, 8, 0);
	dwz_answered(&none, VIRTIO_BLK_T_DISCARD, 1, VIRTIO_BLK_S_UNSUPP);
	dwz_answered(&none, VIRTIO_BLK_T_WRITE_ZEROES, 1, VIRTIO_BLK_S_UNSUPP);
}

/* No room for a header or a status byte: -EINVAL, and no stale status pointer. */
static void test_no_header_or_status(void **state)
{
	(void)state;
	assert_int_equal(parse_rw(&dev_rw, VIRTIO_BLK_T_IN, 0, 512), 0);
	assert_ptr_equal(rq.req.status_ptr, &rq.status);

	/* The same slot reused for a chain without a writable byte. */
	memset(&rq.req.elem, 0, sizeof(rq.req.elem));
	rq.req.elem.iov = rq.iov;
	add(&rq.hdr, 16, false);
	add(rq.data, 512, false);
	assert_int_equal(parse(&dev_rw), -EINVAL);
	assert_null(rq.req.status_ptr);

	/* 12 header bytes over two iovecs. */
	rq_init(VIRTIO_BLK_T_OUT, 0);
	rq.req.status_ptr = &rq.data[0];   /* left over from an earlier request */
	add(&rq.hdr, 4, false);
	add((uint8_t *)&rq.hdr + 4, 8, false);
	add(&rq.status, 1, true);
	assert_int_equal(parse(&dev_rw), -EINVAL);
	assert_null(rq.req.status_ptr);
	assert_int_equal(rq.status, 0xff);

	/* Nothing readable at all. */
	rq_init(VIRTIO_BLK_T_IN, 0);
	add(rq.data, 513, true);
	assert_int_equal(parse(&dev_rw), -EINVAL);
	assert_null(rq.req.status_ptr);

	/* Writable buffers of zero bytes only. */
	rq_init(VIRTIO_BLK_T_IN, 0);
	add(&rq.hdr, 16, false);
	rq.req.elem.nr_in = 0;
	assert_int_equal(parse(&dev_rw), -EINVAL);
}

#define F(bit) (1ULL << (bit))

static void test_features(void **state)
{
	const uint64_t base = F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
			      F(VIRTIO_BLK_F_TOPOLOGY) | F(VIRTIO_BLK_F_FLUSH);
	struct blk_dev d = dev_rw;

	(void)state;
	assert_int_equal(blk_dev_features(&d),
			 base | F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES));
	d.num_queues = 2;
	assert_int_equal(blk_dev_features(&d), base | F(VIRTIO_BLK_F_MQ) |
			 F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES));
	d.num_queues = 1;
	d.has_discard = false;
	assert_int_equal(blk_dev_features(&d), base | F(VIRTIO_BLK_F_WRITE_ZEROES));
	d.has_write_zeroes = false;
	assert_int_equal(blk_dev_features(&d), base);
	/* An image that keeps no volatile cache (an NBD server without flush): no FLUSH. */
	d.is_write_through = true;
	assert_int_equal(blk_dev_features(&d), base & ~F(VIRTIO_BLK_F_FLUSH));
	d.is_write_through = false;
	/* Read-only: RO, and nothing that modifies; FLUSH still offered. */
	d = dev_rw;
	d.is_readonly = true;
	d.num_queues = 4;
	assert_int_equal(blk_dev_features(&d), base | F(VIRTIO_BLK_F_RO) | F(VIRTIO_BLK_F_MQ));
	/* Never CONFIG_WCE: the cache is write-back (flushes needed) or, above, write-through. */
	assert_false(blk_dev_features(&d) & F(VIRTIO_BLK_F_CONFIG_WCE));
	assert_false(blk_dev_features(&dev_rw) & F(VIRTIO_BLK_F_CONFIG_WCE));
}

static void test_config(void **state)
{
	struct virtio_blk_config cfg;
	struct blk_dev d = dev_rw;

	(void)state;
	d.num_queues = 3;
	d.min_io_bytes = 4096;
	d.opt_io_bytes = 65536;
	memset(&cfg, 0xaa, sizeof(cfg));
	blk_dev_config(&d, &cfg);
	assert_int_equal(le64toh(cfg.capacity), CAP);
	assert_int_equal(le32toh(cfg.seg_max), blk_seg_max(128));
	assert_int_equal(le32toh(cfg.blk_size), 512);
	assert_int_equal(cfg.physical_block_exp, 3);
	assert_int_equal(cfg.alignment_offset, 0);
	assert_int_equal(le16toh(cfg.min_io_size), 8);
	assert_int_equal(le32toh(cfg.opt_io_size), 128);
	assert_int_equal(le16toh(cfg.num_queues), 3);
	assert_int_equal(le32toh(cfg.max_discard_sectors), BLK_MAX_DWZ_SECTORS);
	assert_int_equal(le32toh(cfg.max_discard_seg), BLK_MAX_DWZ_SEG);
	assert_int_equal(le32toh(cfg.discard_sector_alignment), 1);
	assert_int_equal(le32toh(cfg.max_write_zeroes_sectors), BLK_MAX_DWZ_SECTORS);
	assert_int_equal(le32toh(cfg.max_write_zeroes_seg), BLK_MAX_DWZ_SEG);
	assert_int_equal(cfg.write_zeroes_may_unmap, 1);
	assert_int_equal(cfg.wce, 0);
	assert_int_equal(le32toh(cfg.size_max), 0);

	/* 4 KiB logical blocks; physical smaller than logical counts as equal. */
	d.logical_block_size = 4096;
	d.physical_block_size = 512;
	d.min_io_bytes = 0;
	d.opt_io_bytes = 0;
	blk_dev_config(&d, &cfg);
	assert_int_equal(le32toh(cfg.blk_size), 4096);
	assert_int_equal(cfg.physical_block_exp, 0);
	assert_int_equal(le16toh(cfg.min_io_size), 1);
	assert_int_equal(le32toh(cfg.opt_io_size), 0);
	assert_int_equal(le32toh(cfg.discard_sector_alignment), 8);
	/* Capacity stays in 512-byte sectors whatever the block size. */
	assert_int_equal(le64toh(cfg.capacity), CAP);
}

static void test_seg_max(void **state)
{
	const struct { uint16_t q; uint32_t want; } cases[] = {
		{ 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 2 }, { 64, 62 }, { 128, 126 },
		{ 255, 253 }, { 256, 254 }, { 257, 254 }, { 1024, 254 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(blk_seg_max(cases[i].q), cases[i].want);
		/* A slot holds the data segments plus header, status and split mappings. */
		assert_int_equal(blk_iov_per_req(cases[i].q), cases[i].want + BLK_IOV_SLACK);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_read_status_in_data),
		cmocka_unit_test(test_read_over_4g),
		cmocka_unit_test(test_read_multi),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_split_header),
		cmocka_unit_test(test_header_shares_data),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_dwz),
		cmocka_unit_test(test_dwz_split_payload),
		cmocka_unit_test(test_dwz_refused),
		cmocka_unit_test(test_backend_receives_the_request),
		cmocka_unit_test(test_no_header_or_status),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_seg_max),
	};

	return cmocka_run_group_tests_name("blk", tests, NULL, NULL);
}
