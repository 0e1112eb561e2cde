// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every request type on every backend (io_uring, aio, null): FLUSH, GET_ID,
 * READ/WRITE out of range or of a length that is not whole sectors, types the
 * device does not know, a read-only device, DISCARD and WRITE_ZEROES (with
 * and without unmap, one to BLK_MAX_DWZ_SEG segments), and the DISCARD /
 * WRITE_ZEROES requests the device must refuse.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/falloc.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_ro = { .queue_size = 64, .backend = "io_uring", .is_readonly = true };
static struct hdrv_opts o_aio_ro = { .queue_size = 64, .backend = "aio", .is_readonly = true };
static struct hdrv_opts o_null_ro = { .queue_size = 64, .backend = "null", .is_readonly = true };

static void test_flush(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[4096];
	uint32_t len = 0;

	fill_pattern(data, sizeof(data), 10);
	do_write(f, 24, data, sizeof(data));
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	check_image(f);
}

static void test_get_id(void **state)
{
	struct fixture *f = fixture_get(state);
	static const char serial[20] = "harness-serial-01234";
	uint8_t id[32];
	uint32_t len = 0;

	memset(id, 0xee, sizeof(id));
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(id, serial, 20);

	/* A short buffer gets the first bytes only, and nothing past it. */
	uint64_t buf = put_buf(f, NULL, 32), st = put_status(f);
	struct hbuf s[] = {
		{ put_hdr(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ buf, 10, true },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, s, 3), 11);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, buf), serial, 10);
	for (int i = 10; i < 32; i++)
		assert_int_equal(hptr(f, buf)[i], 0xee);

	/* A long buffer gets 20 bytes; used.len says so. */
	buf = put_buf(f, NULL, 32);
	st = put_status(f);
	struct hbuf l[] = {
		{ put_hdr(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ buf, 32, true },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, l, 3), 21);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, buf), serial, 20);
	for (int i = 20; i < 32; i++)
		assert_int_equal(hptr(f, buf)[i], 0xee);
	check_image(f);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = fixture_get(state);

	expect_rw_status(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 1, 1024, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS, 512, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, 1024, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS, 512, VIRTIO_BLK_S_IOERR);
	/* sector + nr_sectors wraps around 2^64. */
	expect_rw_status(f, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 4096, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, UINT64_MAX, 512, VIRTIO_BLK_S_IOERR);
	/* sector << 9 wraps, sector + nr_sectors does not. */
	expect_rw_status(f, VIRTIO_BLK_T_OUT, (UINT64_MAX >> 9) + 1, 512, VIRTIO_BLK_S_IOERR);
	check_image(f);
	assert_valid_served(f);
}

static void test_unknown_type(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint32_t types[] = { 0x99, VIRTIO_BLK_T_SCSI_CMD, VIRTIO_BLK_T_SECURE_ERASE,
				   VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		expect_rw_status(f, types[i], BAD_SECTOR, 512, VIRTIO_BLK_S_UNSUPP);
	check_image(f);
	assert_valid_served(f);
}

static void test_unaligned_length(void **state)
{
	struct fixture *f = fixture_get(state);

	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 1000, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 513, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, BAD_SECTOR, 1000, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, BAD_SECTOR, 511, VIRTIO_BLK_S_IOERR);
	check_image(f);
	assert_valid_served(f);
}

static void test_readonly(void **state)
{
	struct fixture *f = fixture_get(state);
	dwz_seg s = seg(BAD_SECTOR, 8, 0);
	uint32_t len = 0;

	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 4096, VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	check_image(f);
	/* Reading and flushing still work. */
	do_read_check(f, BAD_SECTOR, 4096);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len), VIRTIO_BLK_S_OK);
	check_image(f);
}

static void test_discard(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t sector = 64;          /* 32 KiB: 4 KiB aligned */
	uint8_t data[16384];
	dwz_seg s = seg(sector, 16, 0);      /* the first 8 KiB */
	struct stat before, after;
	uint32_t len = 0;
	int fd, status;

	fill_pattern(data, sizeof(data), 11);
	do_write(f, sector, data, sizeof(data));
	check_image(f);
	if (!f->is_null && !can_punch_holes(f)) {
		/* Discard is a hint: done (nothing), and the data stays. */
		assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len), VIRTIO_BLK_S_OK);
		check_image(f);
		hc_skip("the image's filesystem cannot punch holes: discard not checked");
	}
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(fstat(fd, &before), 0);

	status = do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	model_zero(f, sector, 8192);
	do_read_check(f, sector, sizeof(data));
	check_image(f);
	if (!f->is_null) {
		/* The range is a hole in the file now, and the blocks went away. */
		assert_int_equal(fstat(fd, &after), 0);
		assert_true(after.st_blocks + 16 <= before.st_blocks);
		assert_int_equal(lseek(fd, (off_t)sector * 512, SEEK_HOLE), (off_t)sector * 512);
		assert_int_equal(lseek(fd, (off_t)sector * 512, SEEK_DATA), (off_t)(sector + 16) * 512);
	}
	close(fd);
}

static void write_zeroes(struct fixture *f, uint32_t flags)
{
	const uint64_t sector = 72;
	uint8_t data[16384];
	dwz_seg s[2] = { seg(sector + 1, 7, flags), seg(sector + 16, 12, flags) };
	uint32_t len = 0;

	fill_pattern(data, sizeof(data), 12 + flags);
	do_write(f, sector, data, sizeof(data));
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	model_zero(f, sector + 1, 7 * 512);
	model_zero(f, sector + 16, 12 * 512);
	do_read_check(f, sector, sizeof(data));
	check_image(f);
}

static void test_write_zeroes(void **state)
{
	write_zeroes(fixture_get(state), 0);
}

static void test_write_zeroes_unmap(void **state)
{
	write_zeroes(fixture_get(state), VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
}

/*
 * An empty segment asks for nothing.  It used to reach fallocate(), whose
 * EINVAL was taken for "not supported": one such request moved the queue to
 * writing zeroes for good, so later WRITE_ZEROES with UNMAP kept their blocks.
 */
static void test_write_zeroes_empty_segment(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t sector = 256;
	dwz_seg empty[2] = { seg(300, 0, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), seg(310, 0, 0) };
	dwz_seg s = seg(sector, 128, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	uint8_t data[65536];
	uint32_t len = 0;
	int fd;

	if (f->is_null)
		hc_skip("the null backend keeps no blocks");
	if (!can_punch_holes(f))
		hc_skip("the image's filesystem cannot punch holes");
	fill_pattern(data, sizeof(data), 33);
	do_write(f, sector, data, sizeof(data));
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, empty, 2, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, empty + 1, 1, &len), VIRTIO_BLK_S_OK);
	check_image(f);
	/* The queue still deallocates: the range reads zeroes and is a hole. */
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, &len), VIRTIO_BLK_S_OK);
	model_zero(f, sector, sizeof(data));
	do_read_check(f, sector, sizeof(data));
	check_image(f);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(lseek(fd, (off_t)sector * 512, SEEK_DATA) >= (off_t)(sector + 128) * 512);
	close(fd);
}

/* DISCARD / WRITE_ZEROES the device must refuse, leaving the data alone. */
static void dwz_refused(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
			uint8_t status)
{
	uint32_t len = 0;

	assert_int_equal(do_dwz(f, type, segs, nr, &len), status);
	assert_int_equal(len, 1);
}

static void test_dwz_refused(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[16384];
	dwz_seg s[BLK_MAX_DWZ_SEG + 1];

	fill_pattern(data, sizeof(data), 13);
	do_write(f, 64, data, sizeof(data));

	s[0] = seg(64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_UNSUPP);
	s[0] = seg(64, 8, 2);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_UNSUPP);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_UNSUPP);
	s[0] = seg(64, 8, 0x80000000u | VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_UNSUPP);
	/* One bad segment spoils the request: nothing is done, not even the good one. */
	s[0] = seg(64, 8, 0);
	s[1] = seg(80, 8, 4);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2, VIRTIO_BLK_S_UNSUPP);
	/* More segments than max_write_zeroes_seg. */
	for (unsigned int i = 0; i <= BLK_MAX_DWZ_SEG; i++)
		s[i] = seg(64 + i, 1, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);
	/* Out of range, also wrapping around 2^64. */
	s[0] = seg(IMAGE_SECTORS - 4, 8, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
	s[0] = seg(UINT64_MAX - 2, 8, 0);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
	check_image(f);

	/* Exactly max_write_zeroes_seg segments is fine. */
	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG; i++)
		s[i] = seg(64 + 2 * i, 1, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, BLK_MAX_DWZ_SEG, VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG; i++)
		model_zero(f, 64 + 2 * i, 512);
	do_read_check(f, 64, sizeof(data));
	check_image(f);
}

/* Data over [DWZ_SECTOR, +DWZ_SECTORS) and the last 8 sectors, for the multi-segment tests. */
#define DWZ_SECTOR 256
#define DWZ_SECTORS 512

static void dwz_prepare(struct fixture *f, uint32_t seed)
{
	static uint8_t data[DWZ_SECTORS * 512];

	fill_pattern(data, sizeof(data), seed);
	do_write(f, DWZ_SECTOR, data, sizeof(data));
	do_write(f, IMAGE_SECTORS - 8, data, 8 * 512);
	check_image(f);
}

/* Apply @segs to the model as zeroes (when @is_zeroed) and run the request. */
static void dwz_multi(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
		      bool is_zeroed)
{
	uint32_t len = 0;

	assert_int_equal(do_dwz(f, type, segs, nr, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	for (unsigned int i = 0; i < nr && is_zeroed; i++)
		model_zero(f, le64toh(segs[i].sector), (size_t)le32toh(segs[i].num_sectors) * 512);
	do_read_check(f, DWZ_SECTOR, DWZ_SECTORS * 512);
	do_read_check(f, IMAGE_SECTORS - 8, 8 * 512);
	check_image(f);
}

/*
 * Three segments out of order, one of them 128 KiB and one ending at the last
 * sector of the device; then BLK_MAX_DWZ_SEG small ones of 1 to 3 sectors,
 * none of them 4 KiB aligned.
 */
static void dwz_segments(struct fixture *f, uint32_t type, uint32_t flags, bool is_zeroed)
{
	dwz_seg s[BLK_MAX_DWZ_SEG];
	bool is_mixed = flags == ~0u;

	dwz_prepare(f, type * 31 + flags);
	s[0] = seg(DWZ_SECTOR + 200, 256, is_mixed ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : flags);
	s[1] = seg(DWZ_SECTOR + 1, 7, is_mixed ? 0 : flags);
	s[2] = seg(IMAGE_SECTORS - 3, 3, is_mixed ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : flags);
	dwz_multi(f, type, s, 3, is_zeroed);

	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG; i++)
		s[i] = seg(DWZ_SECTOR + 17 + 11 * i, 1 + i % 3,
			   is_mixed ? (i & 1) * VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : flags);
	dwz_multi(f, type, s, BLK_MAX_DWZ_SEG, is_zeroed);
}

static void test_discard_segments(void **state)
{
	struct fixture *f = fixture_get(state);

	/* Without hole punching a discard does nothing, and that is fine. */
	dwz_segments(f, VIRTIO_BLK_T_DISCARD, 0, f->is_null || can_punch_holes(f));
}

static void test_write_zeroes_segments(void **state)
{
	dwz_segments(fixture_get(state), VIRTIO_BLK_T_WRITE_ZEROES, 0, true);
}

static void test_write_zeroes_unmap_segments(void **state)
{
	dwz_segments(fixture_get(state), VIRTIO_BLK_T_WRITE_ZEROES,
		     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, true);
}

/* Segments with and without the unmap flag in one request. */
static void test_write_zeroes_mixed_segments(void **state)
{
	dwz_segments(fixture_get(state), VIRTIO_BLK_T_WRITE_ZEROES, ~0u, true);
}

/* Several DISCARD and WRITE_ZEROES requests in flight at once, over disjoint ranges. */
static void test_dwz_in_flight(void **state)
{
	struct fixture *f = fixture_get(state);
	enum { N = 12 };
	const bool can_punch = f->is_null || can_punch_holes(f);
	uint16_t heads[N];
	uint64_t st[N];

	dwz_prepare(f, 77);
	for (unsigned int i = 0; i < N; i++) {
		uint32_t type = i % 3 == 0 ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
		uint32_t flags = i % 3 == 2 ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
		dwz_seg s[3];

		for (unsigned int k = 0; k < 3; k++)
			s[k] = seg(DWZ_SECTOR + 40 * i + 12 * k, 5 + k, flags);
		st[i] = put_status(f);
		struct hbuf b[] = {
			{ put_hdr(f, type, 0), 16, false },
			{ put_segs(f, s, 3), 3 * 16, false },
			{ st[i], 1, true },
		};
		heads[i] = hdrv_chain(&f->h, b, 3);
		for (unsigned int k = 0; k < 3 && (type != VIRTIO_BLK_T_DISCARD || can_punch); k++)
			model_zero(f, DWZ_SECTOR + 40 * i + 12 * k, (5 + k) * 512);
	}
	hdrv_publish_batch(&f->h, heads, N);
	collect(f, heads, st, N, 1);
	do_read_check(f, DWZ_SECTOR, DWZ_SECTORS * 512);
	check_image(f);
}

#define T3(fn, sfx) T(fn, o_uring##sfx), T(fn, o_aio##sfx), T(fn, o_null##sfx)

/*
 * An image in memory (tmpfs), where the io_uring backend reads and writes
 * small requests in place, in the queue's thread: a WRITE_ZEROES of GiBs
 * (tmpfs: punch, then allocate) holds the file's lock in an io_uring
 * worker for a second or more.  A write done in place behind it would hold
 * the queue's thread in pwritev all that time: no read, no kick, no stop
 * served.  The queue must go on serving what does not need that lock.
 */
#define BIG_WZ_SECTORS (4ULL << 20)     /* 2 GiB a segment, the most one may be */

static void test_big_write_zeroes_does_not_hold_the_queue(void **state)
{
	struct virtio_blk_discard_write_zeroes segs[2] = {
		{ .sector = htole64(2048), .num_sectors = htole32((uint32_t)BIG_WZ_SECTORS) },
		{ .sector = htole64(2048 + BIG_WZ_SECTORS),
		  .num_sectors = htole32((uint32_t)BIG_WZ_SECTORS) },
	};
	struct hdrv_opts o = { .queue_size = 64, .backend = "io_uring",
			       .is_packed = hc_is_packed() };
	uint8_t data[4096], back[4096];
	uint16_t heads[2];
	struct hreq wz, wr, rd;
	bool is_wz_done_at_read = false, is_wz_done = false;
	char image[256];
	struct hdrv h;
	int fd;

	(void)state;
	assert_int_equal(hdrv_make_image(image, sizeof(image), 1 << 20, 0x5a), 0);
	assert_int_equal(truncate(image, (off_t)((2048 + 2 * BIG_WZ_SECTORS) * 512)), 0);
	assert_int_equal(hdrv_start(&h, image, &o), 0);
	if (!h.img.is_in_memory) {
		hdrv_stop(&h);
		unlink(image);
		hc_note_skip("the image is not in memory here (TMPDIR=/dev/shm runs it)");
		skip();
	}
	hdrv_blk_req(&h, &wz, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, sizeof(segs));
	hdrv_blk_submit(&h, &wz);
	usleep(100000);    /* its fallocate runs in an io_uring worker now */
	fill_pattern(data, sizeof(data), 7);
	hdrv_blk_req(&h, &wr, VIRTIO_BLK_T_OUT, 8, data, sizeof(data));
	hdrv_blk_chain(&h, &wr);
	hdrv_blk_req(&h, &rd, VIRTIO_BLK_T_IN, 64, NULL, sizeof(data));
	hdrv_blk_chain(&h, &rd);
	heads[0] = wr.head;
	heads[1] = rd.head;
	hdrv_publish_batch(&h, heads, 2);
	for (int i = 0; i < 3; i++) {
		uint32_t id, len;

		/* In the order the device returned them (no peeking at status bytes it may write). */
		assert_int_equal(hdrv_wait_used(&h, &id, &len, 60000), 0);
		is_wz_done = is_wz_done || id == wz.head;
		if (id == rd.head)
			is_wz_done_at_read = is_wz_done;
	}
	print_message("the read came back %s the 4 GiB WRITE_ZEROES\n",
		      is_wz_done_at_read ? "after" : "before");
	assert_false(is_wz_done_at_read);
	assert_int_equal(hdrv_status(&h, &wz), VIRTIO_BLK_S_OK);
	assert_int_equal(hdrv_status(&h, &wr), VIRTIO_BLK_S_OK);
	assert_int_equal(hdrv_status(&h, &rd), VIRTIO_BLK_S_OK);
	memset(back, 0x5a, sizeof(back));
	assert_memory_equal(hdrv_ptr(&h, rd.data_iova), back, sizeof(back));
	hdrv_stop(&h);
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, sizeof(back), 8 * 512), sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	close(fd);
	unlink(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_write_zeroes_does_not_hold_the_queue),
		T3(test_flush, ),
		T3(test_get_id, ),
		T3(test_out_of_range, ),
		T3(test_unknown_type, ),
		T3(test_unaligned_length, ),
		T3(test_readonly, _ro),
		T3(test_discard, ),
		T3(test_write_zeroes, ),
		T3(test_write_zeroes_unmap, ),
		T3(test_write_zeroes_empty_segment, ),
		T3(test_dwz_refused, ),
		T3(test_discard_segments, ),
		T3(test_write_zeroes_segments, ),
		T3(test_write_zeroes_unmap_segments, ),
		T3(test_write_zeroes_mixed_segments, ),
		T3(test_dwz_in_flight, ),
	};

	return hc_run("types", tests, sizeof(tests) / sizeof(tests[0]));
}
