// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Well-formed READ and WRITE requests in every layout a driver may use: the
 * first and last sectors, many data segments (up to seg_max), the header
 * split over descriptors or sharing one with the data, the status byte inside
 * the last data descriptor, indirect tables, buffers spanning two memory
 * regions, and many requests in flight.  On io_uring, aio and null.
 */
#include <dirent.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/vfs.h>
#include <linux/magic.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_q128 = { .queue_size = 128, .backend = "io_uring" };
static struct hdrv_opts o_aio_q128 = { .queue_size = 128, .backend = "aio" };
static struct hdrv_opts o_null_q128 = { .queue_size = 128, .backend = "null" };
static struct hdrv_opts o_uring_q512 = { .queue_size = 512, .backend = "io_uring" };
static struct hdrv_opts o_aio_q512 = { .queue_size = 512, .backend = "aio" };
static struct hdrv_opts o_null_q512 = { .queue_size = 512, .backend = "null" };
static struct hdrv_opts o_uring_q100 = { .queue_size = 100, .backend = "io_uring" };
static struct hdrv_opts o_uring_q11 = { .queue_size = 11, .backend = "io_uring" };

/* Queue sizes that are not a power of two exist on packed rings only (2.8). */
static int setup_packed_only(void **state)
{
	if (!hc_is_packed())
		return fixture_setup_skipped(state, "queue size not a power of two: packed rings only");
	return setup(state);
}

static void test_rw_first_sector(void **state)
{
	round_trip(fixture_get(state), 0);
}

static void test_rw_last_sectors(void **state)
{
	struct fixture *f = fixture_get(state);

	round_trip(f, IMAGE_SECTORS - 8);
	/* The very last sector alone. */
	do_read_check(f, IMAGE_SECTORS - 1, 512);
}

static const uint32_t seg_sizes[8] = { 512, 1024, 4096, 8192, 1536, 2048, 512, 3584 };

static void test_multi_segment(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t sector = 100;
	uint32_t total = 0, off = 0;
	struct hbuf bufs[10];
	uint64_t st;
	uint8_t *data;

	for (int i = 0; i < 8; i++)
		total += seg_sizes[i];
	data = malloc(total);
	assert_non_null(data);
	fill_pattern(data, total, 77);

	/* WRITE from 8 readable buffers. */
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_OUT, sector), 16, false };
	for (int i = 0; i < 8; i++) {
		bufs[1 + i] = (struct hbuf){ put_buf(f, data + off, seg_sizes[i]), seg_sizes[i], false };
		off += seg_sizes[i];
	}
	st = put_status(f);
	bufs[9] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 10), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, sector, data, total);
	check_image(f);

	/* READ into 8 writable buffers, sizes in the reverse order. */
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_IN, sector), 16, false };
	for (int i = 0; i < 8; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, NULL, seg_sizes[7 - i]), seg_sizes[7 - i], true };
	st = put_status(f);
	bufs[9] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 10), total + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	off = 0;
	for (int i = 0; i < 8; i++) {
		assert_memory_equal(hptr(f, bufs[1 + i].iova), expected(f, sector, total) + off,
				    bufs[1 + i].len);
		off += bufs[1 + i].len;
	}
	free(data);
}

/* The 16-byte header split 4 + 4 + 8 over three descriptors. */
static void split_header(struct fixture *f, uint32_t type, uint64_t sector, struct hbuf *bufs)
{
	struct virtio_blk_outhdr hdr = {
		.type = htole32(type), .ioprio = 0, .sector = htole64(sector),
	};
	const uint8_t *p = (const uint8_t *)&hdr;

	bufs[0] = (struct hbuf){ put_buf(f, p, 4), 4, false };
	bufs[1] = (struct hbuf){ put_buf(f, p + 4, 4), 4, false };
	bufs[2] = (struct hbuf){ put_buf(f, p + 8, 8), 8, false };
}

static void test_split_header(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[4096];
	struct hbuf bufs[5];
	uint64_t st;

	fill_pattern(data, sizeof(data), 5);
	split_header(f, VIRTIO_BLK_T_OUT, 40, bufs);
	bufs[3] = (struct hbuf){ put_buf(f, data, sizeof(data)), sizeof(data), false };
	st = put_status(f);
	bufs[4] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 5), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 40, data, sizeof(data));
	check_image(f);

	split_header(f, VIRTIO_BLK_T_IN, 40, bufs);
	bufs[3] = (struct hbuf){ put_buf(f, NULL, sizeof(data)), sizeof(data), true };
	st = put_status(f);
	bufs[4] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 5), sizeof(data) + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, bufs[3].iova), expected(f, 40, sizeof(data)), sizeof(data));
}

/* Header and write data in one readable descriptor: 16 + 4096 bytes. */
static void test_header_shares_data_desc(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[4096];
	uint64_t hdr = put_hdr(f, VIRTIO_BLK_T_OUT, 48);
	uint64_t st;

	fill_pattern(data, sizeof(data), 6);
	/* put_hdr and put_buf are consecutive 16-byte aligned allocations. */
	assert_int_equal(put_buf(f, data, sizeof(data)), hdr + 16);
	st = put_status(f);
	struct hbuf bufs[] = { { hdr, 16 + sizeof(data), false }, { st, 1, true } };

	assert_int_equal(run_chain(f, bufs, 2), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 48, data, sizeof(data));
	check_image(f);
}

/* The status byte is the last byte of the only writable descriptor, after the data. */
static void test_status_shares_data_desc(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[8192];
	uint64_t buf;

	fill_pattern(data, sizeof(data), 7);
	do_write(f, 64, data, sizeof(data));

	buf = put_buf(f, NULL, 4096 + 1);
	struct hbuf one[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 64), 16, false },
		{ buf, 4096 + 1, true },
	};
	assert_int_equal(run_chain(f, one, 2), 4096 + 1);
	assert_memory_equal(hptr(f, buf), expected(f, 64, 4096), 4096);
	assert_int_equal(hptr(f, buf)[4096], VIRTIO_BLK_S_OK);

	/* Data over two writable descriptors, the status inside the second. */
	uint64_t a = put_buf(f, NULL, 2048), b = put_buf(f, NULL, 6144 + 1);
	struct hbuf two[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 64), 16, false },
		{ a, 2048, true },
		{ b, 6144 + 1, true },
	};
	assert_int_equal(run_chain(f, two, 3), 8192 + 1);
	assert_memory_equal(hptr(f, a), expected(f, 64, 8192), 2048);
	assert_memory_equal(hptr(f, b), expected(f, 64, 8192) + 2048, 6144);
	assert_int_equal(hptr(f, b)[6144], VIRTIO_BLK_S_OK);
	check_image(f);
}

static void test_indirect(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[6144];
	uint64_t st;

	fill_pattern(data, sizeof(data), 8);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 500), 16, false },
		{ put_buf(f, data, 2048), 2048, false },
		{ put_buf(f, data + 2048, 4096), 4096, false },
		{ st, 1, true },
	};
	assert_int_equal(run_indirect(f, w, 4), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 500, data, sizeof(data));
	check_image(f);

	st = put_status(f);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 500), 16, false },
		{ put_buf(f, NULL, 4096), 4096, true },
		{ put_buf(f, NULL, 2048), 2048, true },
		{ st, 1, true },
	};
	assert_int_equal(run_indirect(f, r, 4), sizeof(data) + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, r[1].iova), expected(f, 500, sizeof(data)), 4096);
	assert_memory_equal(hptr(f, r[2].iova), expected(f, 500, sizeof(data)) + 4096, 2048);
}

/* One descriptor over two adjacent IOVA regions backed by unrelated host memory. */
static void test_span_regions(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t *a = hdrv_add_region(&f->h, REGION_IOVA, 8192, RW);
	uint8_t *b = hdrv_add_region(&f->h, REGION_IOVA + 8192, 8192, RW);
	const uint64_t iova = REGION_IOVA + 8192 - 1024;
	uint8_t data[4096];
	uint64_t st;

	fill_pattern(data, sizeof(data), 9);
	memcpy(a + 8192 - 1024, data, 1024);
	memcpy(b, data + 1024, 3072);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 300), 16, false },
		{ iova, 4096, false },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, w, 3), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 300, data, sizeof(data));
	check_image(f);

	/* READ: data and status in one writable descriptor across the boundary. */
	memset(a, 0xee, 8192);
	memset(b, 0xee, 8192);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 300), 16, false },
		{ iova, 4096 + 1, true },
	};
	assert_int_equal(run_chain(f, r, 2), 4096 + 1);
	assert_memory_equal(a + 8192 - 1024, expected(f, 300, 4096), 1024);
	assert_memory_equal(b, expected(f, 300, 4096) + 1024, 3072);
	assert_int_equal(b[3072], VIRTIO_BLK_S_OK);
	assert_int_equal(b[3073], 0xee);
	assert_int_equal(a[8192 - 1025], 0xee);
}

/* 32 WRITEs published one by one, then 32 READs in one avail->idx store. */
static void test_many_in_flight(void **state)
{
	many_in_flight(fixture_get(state));
}

/*
 * Batches of WRITEs whose chains take 1 (indirect), 3 and 5 descriptors,
 * over several laps of the ring, completing in any order: on a packed ring
 * each used entry must skip exactly its own chain's slots, wherever the
 * batch starts and wraps.
 */
static void test_mixed_chains(void **state)
{
	enum { MAX_NR = 12, LEN = 1536, ROUNDS = 6 };
	struct fixture *f = fixture_get(state);
	/* A batch must fit the ring: 3 chains take 9 slots. */
	const unsigned int NR = f->h.num < 36 ? 3 * (f->h.num / 9) : MAX_NR;

	assert_true(NR > 0);
	for (unsigned int round = 0; round < ROUNDS; round++) {
		uint16_t heads[MAX_NR];
		uint64_t st[MAX_NR];

		for (unsigned int i = 0; i < NR; i++) {
			uint64_t sector = 8 * (round * MAX_NR + i) + 4;
			uint8_t data[LEN];
			uint64_t buf;

			fill_pattern(data, LEN, 1000 + round * MAX_NR + i);
			st[i] = put_status(f);
			buf = put_buf(f, data, LEN);
			struct hbuf b[] = {
				{ put_hdr(f, VIRTIO_BLK_T_OUT, sector), 16, false },
				{ buf, 512, false }, { buf + 512, 512, false },
				{ buf + 1024, 512, false }, { st[i], 1, true },
			};
			if (i % 3 == 0)
				heads[i] = hdrv_chain_indirect(&f->h, b, 5);
			else if (i % 3 == 1)
				heads[i] = hdrv_chain(&f->h, (struct hbuf[]){
					b[0], { buf, LEN, false }, b[4] }, 3);
			else
				heads[i] = hdrv_chain(&f->h, b, 5);
			model_write(f, sector, data, LEN);
		}
		/* Odd rounds in one batch, even ones chain by chain. */
		if (round % 2)
			hdrv_publish_batch(&f->h, heads, NR);
		else
			for (unsigned int i = 0; i < NR; i++)
				hdrv_publish(&f->h, heads[i]);
		collect(f, heads, st, NR, 1);
		assert_no_used(f, 0);
	}
	check_image(f);
	for (unsigned int i = 0; i < ROUNDS * MAX_NR; i += 7)
		do_read_check(f, 8 * i + 4, LEN);
}

/* What the device advertises (seg_max data segments) must work. */
static void test_seg_max_segments(void **state)
{
	struct fixture *f = fixture_get(state);
	const unsigned int nr = blk_seg_max(f->h.num);
	struct hbuf *bufs = calloc(nr + 2, sizeof(*bufs));
	uint8_t *data = malloc(nr * 512);
	uint64_t st;

	assert_non_null(bufs);
	assert_non_null(data);
	fill_pattern(data, nr * 512, 700);
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_OUT, 1000), 16, false };
	for (unsigned int i = 0; i < nr; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, data + i * 512, 512), 512, false };
	st = put_status(f);
	bufs[nr + 1] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, nr + 2), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 1000, data, nr * 512);
	check_image(f);
	do_read_check(f, 1000, nr * 512);
	free(bufs);
	free(data);
}

/* io_uring's worker threads of this process (iou-wrk-*) alive now. */
static unsigned int nr_io_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		if (fgets(comm, sizeof(comm), fp) && strncmp(comm, "iou-wrk-", 8) == 0)
			n++;
		fclose(fp);
	}
	closedir(d);
	return n;
}

/*
 * An image in memory (tmpfs) is read and written in place: io_uring cannot
 * do such I/O without blocking and would start a worker thread for each
 * request.  Run with TMPDIR on tmpfs (the _tmpfs variant) to check it.
 */
static void test_in_memory_in_place(void **state)
{
	struct fixture *f = fixture_get(state);
	struct statfs sfs;

	assert_int_equal(fstatfs(f->h.img.fd, &sfs), 0);
	if (sfs.f_type != TMPFS_MAGIC) {
		assert_false(f->h.img.is_in_memory);
		fixture_skip(f, "the image is not on tmpfs (TMPDIR=/dev/shm runs this case)");
		fixture_require(f);
	}
	assert_true(f->h.img.is_in_memory);
	many_in_flight(f);
	assert_int_equal(nr_io_workers(), 0);
}

/* Every backend; the options' suffix (queue size) applies to all three. */
#define T3(fn, sfx) T(fn, o_uring##sfx), T(fn, o_aio##sfx), T(fn, o_null##sfx)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T3(test_rw_first_sector, ),
		T3(test_rw_last_sectors, ),
		T3(test_multi_segment, ),
		T3(test_split_header, ),
		T3(test_header_shares_data_desc, ),
		T3(test_status_shares_data_desc, ),
		T3(test_indirect, ),
		T3(test_span_regions, ),
		T3(test_many_in_flight, _q128),
		T3(test_mixed_chains, ),
		TS(test_mixed_chains, o_uring_q100, setup_packed_only, teardown),
		TS(test_mixed_chains, o_uring_q11, setup_packed_only, teardown),
		T3(test_seg_max_segments, _q512),
		T(test_in_memory_in_place, o_uring_q128),
	};

	return hc_run("io", tests, sizeof(tests) / sizeof(tests[0]));
}
