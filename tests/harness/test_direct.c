// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The image opened with O_DIRECT (--direct).  Buffers not aligned as O_DIRECT
 * needs (address not a multiple of dio_mem_align, or a segment length not a
 * multiple of dio_offset_align) go through an aligned bounce buffer and stay
 * O_DIRECT, so direct and buffered I/O never mix on a page (that loses data).
 * A device whose blocks are smaller than dio_offset_align is served through
 * the page cache instead (image_fit_direct).  Either way every byte must land
 * exactly where it belongs.  On io_uring and aio, in two places:
 *
 *  - "tmp": the image in $TMPDIR, with whatever alignment its filesystem
 *    reports (statx STATX_DIOALIGN; often 512, where only buffers can be
 *    misaligned);
 *  - "fs4k": the image on an ext4 made for the test on a loop device with
 *    4096-byte sectors (dio_offset_align 4096: a 512-byte write at sector 1
 *    is misaligned).  Needs root, loop devices and mkfs.ext4; skipped with
 *    the reason otherwise.  The mount lives in this process's own mount
 *    namespace, so it goes away with the process whatever happens.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring", .is_direct = true };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio", .is_direct = true };
/*
 * Driver memory the kernel refuses to pin for O_DIRECT (memfd_secret), as it
 * refuses VDUSE's bounce buffer from Linux 6.12.118 on (mapped VM_IO).
 */
static struct hdrv_opts o_uring_unpin = { .queue_size = 64, .backend = "io_uring",
					  .is_direct = true, .is_iotlb = true,
					  .is_unpinnable = true };
static struct hdrv_opts o_aio_unpin = { .queue_size = 64, .backend = "aio", .is_direct = true,
					.is_iotlb = true, .is_unpinnable = true };
static struct hdrv_opts o_uring_unpin_4k = { .queue_size = 64, .backend = "io_uring",
					     .is_direct = true, .is_iotlb = true,
					     .is_unpinnable = true, .block_size = 4096 };
static struct hdrv_opts o_aio_unpin_4k = { .queue_size = 64, .backend = "aio",
					   .is_direct = true, .is_iotlb = true,
					   .is_unpinnable = true, .block_size = 4096 };
/* 4096-byte blocks: O_DIRECT stays on a 4096-byte-aligned image too. */
static struct hdrv_opts o_uring_4k = { .queue_size = 64, .backend = "io_uring", .is_direct = true,
				       .block_size = 4096 };
static struct hdrv_opts o_aio_4k = { .queue_size = 64, .backend = "aio", .is_direct = true,
				     .block_size = 4096 };

#define PAGE 4096u
#define MISALIGN 8u               /* a buffer 8 bytes past an aligned address */

static const char *fs4k_dir;      /* the 4096-byte-sector filesystem, or NULL */
static char fs4k_why[256];        /* why there is none */

static int setup_fs4k(void **state)
{
	char why[320];

	if (fs4k_dir)
		return fixture_setup_in(state, fs4k_dir);
	snprintf(why, sizeof(why), "no 4096-byte-sector filesystem: %s", fs4k_why);
	return fixture_setup_skipped(state, why);
}

/* ---- alignment ---------------------------------------------------------- */

struct align {
	uint32_t offset;              /* dio_offset_align */
	uint32_t mem;                 /* dio_mem_align */
	bool has_statx;               /* the filesystem reported them */
};

/*
 * What statx says about the image, independently of image.c; the daemon must
 * have come to the same numbers (512 for files when statx cannot tell).
 */
static struct align image_align(struct fixture *f)
{
	struct align a = { 512, 512, false };
	struct statx stx;

	assert_int_equal(statx(AT_FDCWD, f->path, 0, STATX_DIOALIGN, &stx), 0);
	if ((stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		a.offset = stx.stx_dio_offset_align;
		a.mem = stx.stx_dio_mem_align;
		a.has_statx = true;
	}
	/* O_DIRECT stays only where the device's blocks are aligned for it. */
	assert_int_equal(f->h.img.is_direct, f->h.dev.logical_block_size >= a.offset);
	assert_int_equal(f->h.img.dio_offset_align, a.offset);
	assert_int_equal(f->h.img.dio_mem_align, a.mem);
	return a;
}

/* Would the daemon copy this transfer through an aligned bounce buffer? */
static bool is_bounced(struct fixture *f, uint64_t iova, uint32_t len)
{
	struct iovec iov = { hptr(f, iova), len };

	return fd_needs_bounce(&f->h.img, &iov, 1);
}

/* ---- requests with buffers where the test wants them -------------------- */

struct dreq {
	uint64_t data, status;
	uint16_t head;
};

/* Build (not publish) a one-buffer READ or WRITE; the buffer @skew past an @align boundary. */
static void dreq_build(struct fixture *f, struct dreq *d, uint32_t type, uint64_t sector,
		       const void *data, uint32_t len, uint32_t align, uint32_t skew)
{
	bool is_in = type == VIRTIO_BLK_T_IN;

	d->data = put_buf_at(f, is_in ? NULL : data, len, align, skew);
	d->status = put_status(f);
	struct hbuf b[] = {
		{ put_hdr(f, type, sector), 16, false },
		{ d->data, len, is_in },
		{ d->status, 1, true },
	};
	d->head = hdrv_chain(&f->h, b, 3);
}

static void dio_write(struct fixture *f, uint64_t sector, uint32_t len, uint32_t align,
		      uint32_t skew, uint32_t seed)
{
	uint8_t *data = malloc(len);
	struct dreq d;
	uint32_t used_len;

	assert_non_null(data);
	fill_pattern(data, len, seed);
	dreq_build(f, &d, VIRTIO_BLK_T_OUT, sector, data, len, align, skew);
	hdrv_publish(&f->h, d.head);
	wait_used(f, d.head, &used_len);
	assert_int_equal(*hptr(f, d.status), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, 1);
	model_write(f, sector, data, len);
	free(data);
}

static void dio_read_check(struct fixture *f, uint64_t sector, uint32_t len, uint32_t align,
			   uint32_t skew)
{
	struct dreq d;
	uint32_t used_len;

	dreq_build(f, &d, VIRTIO_BLK_T_IN, sector, NULL, len, align, skew);
	hdrv_publish(&f->h, d.head);
	wait_used(f, d.head, &used_len);
	assert_int_equal(*hptr(f, d.status), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, len + 1);
	assert_memory_equal(hptr(f, d.data), expected(f, sector, len), len);
}

/* The model says what the file holds, at the byte: also read it piecewise at @sector. */
static void check_at(struct fixture *f, uint64_t sector, uint32_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	read_image(f, sector * 512, buf, len);
	assert_memory_equal(buf, f->model + sector * 512, len);
	free(buf);
}

/* ---- tests -------------------------------------------------------------- */

/* Aligned transfers take the O_DIRECT descriptor and work. */
static void test_direct_aligned(void **state)
{
	struct fixture *f = fixture_get(state);
	struct align a = image_align(f);
	uint32_t al = a.offset > PAGE ? a.offset : PAGE;
	uint64_t sector = (2 * al) / 512;

	print_message("image %s: dio_offset_align %u, dio_mem_align %u%s\n", f->path, a.offset,
		      a.mem, a.has_statx ? "" : " (statx does not say: 512 assumed)");
	assert_false(is_bounced(f, hdrv_alloc_aligned(&f->h, 2 * al, PAGE, 0), 2 * al));
	dio_write(f, sector, 2 * al, PAGE, 0, 1);
	check_at(f, sector, 2 * al);
	dio_read_check(f, sector, 2 * al, PAGE, 0);
	dio_read_check(f, sector, al, PAGE, 0);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_image(f);
}

/*
 * Offsets and lengths that are whole sectors but not whole dio blocks: 512
 * bytes at sector 1, 3 KiB across a block boundary, 4 KiB at an odd sector,
 * the last sector.  Then aligned I/O over the same blocks sees them, and
 * they see it.
 */
static void test_direct_misaligned_offset(void **state)
{
	struct fixture *f = fixture_get(state);
	struct align a = image_align(f);
	const uint64_t last = IMAGE_SECTORS - 1;

	if (a.offset <= 512)
		hc_skip("dio_offset_align of %s is %u: no sector offset is misaligned there",
			f->path, a.offset);
	/* 512-byte blocks on a 4096-byte-aligned image: served through the page cache. */
	assert_false(f->h.img.is_direct);
	dio_write(f, 1, 512, PAGE, 0, 11);
	check_at(f, 0, PAGE);
	dio_write(f, 6, 3072, PAGE, 0, 12);
	dio_write(f, 17, 4096, PAGE, 0, 13);
	dio_write(f, last, 512, PAGE, 0, 14);
	check_image(f);
	dio_read_check(f, 1, 512, PAGE, 0);
	dio_read_check(f, 6, 3072, PAGE, 0);
	dio_read_check(f, 17, 4096, PAGE, 0);
	dio_read_check(f, last, 512, PAGE, 0);
	dio_read_check(f, 3, 1024, PAGE, 0);

	/* Aligned reads (O_DIRECT) see what went through the page cache. */
	dio_read_check(f, 0, 4 * a.offset, PAGE, 0);
	dio_read_check(f, IMAGE_SECTORS - a.offset / 512, a.offset, PAGE, 0);
	/* An aligned write over a block with buffered data; misaligned reads see it. */
	assert_false(is_bounced(f, hdrv_alloc_aligned(&f->h, a.offset, PAGE, 0), a.offset));
	dio_write(f, 0, a.offset, PAGE, 0, 15);
	dio_read_check(f, 1, 512, PAGE, 0);
	dio_read_check(f, 7, 1024, PAGE, 0);
	/* And a misaligned write after it, read back aligned. */
	dio_write(f, 2, 512, PAGE, 0, 16);
	dio_read_check(f, 0, 2 * a.offset, PAGE, 0);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_image(f);
}

/* Aligned offsets and lengths, buffers 8 bytes past an aligned address. */
static void test_direct_misaligned_buffer(void **state)
{
	struct fixture *f = fixture_get(state);
	struct align a = image_align(f);
	uint32_t bs = a.offset > PAGE ? a.offset : PAGE;
	uint64_t sector = bs / 512;
	uint64_t st, b1, b2, b3;
	uint8_t *data;

	if (a.mem <= MISALIGN)
		hc_skip("dio_mem_align of %s is %u: a buffer at +%u is aligned", f->path, a.mem,
			MISALIGN);
	assert_int_equal(is_bounced(f, hdrv_alloc_aligned(&f->h, bs, PAGE, MISALIGN), bs),
			 f->h.img.is_direct);
	dio_write(f, sector, bs, PAGE, MISALIGN, 21);
	check_at(f, sector, bs);
	dio_read_check(f, sector, bs, PAGE, MISALIGN);
	dio_read_check(f, sector, bs, PAGE, 0);

	/* Two data descriptors, the second one misaligned: the whole request is buffered. */
	data = malloc(2 * bs);
	assert_non_null(data);
	fill_pattern(data, 2 * bs, 22);
	b1 = put_buf_at(f, data, bs, PAGE, 0);
	b2 = put_buf_at(f, data + bs, bs, PAGE, MISALIGN);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 4 * sector), 16, false },
		{ b1, bs, false }, { b2, bs, false }, { st, 1, true },
	};
	assert_int_equal(run_chain(f, w, 4), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 4 * sector, data, 2 * bs);
	check_at(f, 4 * sector, 2 * bs);
	free(data);

	/* A READ whose status byte ends a misaligned data descriptor. */
	b3 = put_buf_at(f, NULL, bs + 1, PAGE, MISALIGN);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 4 * sector), 16, false }, { b3, bs + 1, true },
	};
	assert_int_equal(run_chain(f, r, 2), bs + 1);
	assert_memory_equal(hptr(f, b3), expected(f, 4 * sector, bs), bs);
	assert_int_equal(hptr(f, b3)[bs], VIRTIO_BLK_S_OK);

	/* Aligned I/O over the same sectors. */
	dio_read_check(f, 4 * sector, 2 * bs, PAGE, 0);
	dio_write(f, 4 * sector + bs / 512, bs, PAGE, 0, 23);
	dio_read_check(f, 4 * sector, 2 * bs, PAGE, MISALIGN);
	check_image(f);
}

/* Punch a hole in the image behind the device's back (the model follows). */
static void punch(struct fixture *f, uint64_t sector, uint32_t len)
{
	int fd = open(f->path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)sector * 512, len), 0);
	close(fd);
	model_zero(f, sector, len);
}

/*
 * Every 512-byte sector of one 4 KiB block written by its own request, all
 * in flight at once (one avail->idx store), over several blocks: no write may
 * undo another (a read-modify-write of the block would).  Buffers aligned on
 * even rounds, misaligned on odd ones; the second half over holes.
 */
static void test_direct_sub_block_in_flight(void **state)
{
	struct fixture *f = fixture_get(state);
	enum { PER_BLOCK = PAGE / 512, ROUNDS = 8 };
	uint16_t heads[PER_BLOCK];
	uint64_t st[PER_BLOCK];

	image_align(f);
	for (unsigned int round = 0; round < ROUNDS; round++) {
		uint64_t block = 64 + 8 * round;   /* in sectors */

		/* The later rounds write into a hole (allocation under concurrent writes). */
		if (round >= ROUNDS / 2 && can_punch_holes(f))
			punch(f, block, PAGE);

		for (unsigned int i = 0; i < PER_BLOCK; i++) {
			uint8_t data[512];
			struct dreq d;

			fill_pattern(data, sizeof(data), 1000 * round + i);
			dreq_build(f, &d, VIRTIO_BLK_T_OUT, block + i, data, sizeof(data), PAGE,
				   round & 1 ? MISALIGN : 0);
			heads[i] = d.head;
			st[i] = d.status;
			model_write(f, block + i, data, sizeof(data));
		}
		hdrv_publish_batch(&f->h, heads, PER_BLOCK);
		collect(f, heads, st, PER_BLOCK, 1);
		check_at(f, block, PAGE);
		dio_read_check(f, block, PAGE, PAGE, 0);
	}
	check_image(f);
}

/*
 * Count the units of @unit bytes from @first (in sectors) that do not hold
 * what the model says, in @nr_lost[0] for the even ones (they went O_DIRECT)
 * and @nr_lost[1] for the odd ones (buffered); name the first few.
 */
static void count_lost(struct fixture *f, uint64_t first, unsigned int nr, uint32_t unit,
		       unsigned int nr_lost[2])
{
	uint8_t *buf = malloc((size_t)nr * unit);

	assert_non_null(buf);
	read_image(f, first * 512, buf, (size_t)nr * unit);
	for (unsigned int i = 0; i < nr; i++) {
		const uint8_t *got = buf + (size_t)i * unit;
		uint64_t sector = first + (uint64_t)i * unit / 512;

		if (memcmp(got, f->model + sector * 512, unit) == 0)
			continue;
		if (nr_lost[0] + nr_lost[1] < 3)
			print_message("sector %llu (%s write of %u bytes) lost: it holds %s\n",
				      (unsigned long long)sector, i & 1 ? "buffered" : "O_DIRECT", unit,
				      got[0] == IMAGE_FILL && got[unit - 1] == IMAGE_FILL ?
				      "the old data" : "something else");
		nr_lost[i & 1]++;
	}
	free(buf);
}

/*
 * Where dio_offset_align is smaller than a page, one part of a page can go
 * O_DIRECT (aligned buffer) while its neighbour in the same page goes through
 * the page cache (misaligned buffer).  Both in flight at once, over pages
 * that are not cached: neither write may be lost.
 */
static void test_direct_mixed_same_page(void **state)
{
	struct fixture *f = fixture_get(state);
	struct align a = image_align(f);
	const uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
	const uint32_t unit = a.offset;
	const unsigned int per_page = page / unit < 32 ? page / unit : 32;
	const unsigned int rounds = IMAGE_BYTES / page - 1 < 64 ? IMAGE_BYTES / page - 1 : 64;
	unsigned int nr_lost[2] = { 0, 0 };
	uint16_t heads[32];
	uint64_t st[32];
	uint8_t *data;
	int fd, flush_status;

	if (a.offset >= page)
		hc_skip("dio_offset_align of %s is %u, the page size %u: an O_DIRECT write "
			"covers whole pages", f->path, a.offset, page);
	if (a.mem <= MISALIGN)
		hc_skip("dio_mem_align of %s is %u: no buffered writes to mix", f->path, a.mem);
	/* Start from pages that are on disk and not in the page cache. */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	data = malloc(unit);
	assert_non_null(data);
	for (unsigned int round = 0; round < rounds; round++) {
		uint64_t first = (uint64_t)(round + 1) * page / 512;

		for (unsigned int i = 0; i < per_page; i++) {
			uint64_t sector = first + (uint64_t)i * unit / 512;
			uint32_t skew = i & 1 ? MISALIGN : 0;
			struct dreq d;

			fill_pattern(data, unit, 5000 + 64 * round + i);
			dreq_build(f, &d, VIRTIO_BLK_T_OUT, sector, data, unit, PAGE, skew);
			assert_int_equal(is_bounced(f, d.data, unit), skew != 0);
			heads[i] = d.head;
			st[i] = d.status;
			model_write(f, sector, data, unit);
		}
		hdrv_publish_batch(&f->h, heads, per_page);
		collect(f, heads, st, per_page, 1);
	}
	free(data);
	for (unsigned int round = 0; round < rounds; round++)
		count_lost(f, (uint64_t)(round + 1) * page / 512, per_page, unit, nr_lost);
	if (nr_lost[0] + nr_lost[1])
		print_message("lost: %u of %u O_DIRECT writes, %u of %u buffered writes\n",
			      nr_lost[0], rounds * ((per_page + 1) / 2), nr_lost[1],
			      rounds * (per_page / 2));
	/* Every write was acknowledged: a FLUSH must succeed too. */
	flush_status = hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL);
	if (flush_status != VIRTIO_BLK_S_OK)
		print_message("FLUSH after the writes: status %d, not OK\n", flush_status);
	check_image(f);
	assert_int_equal(flush_status, VIRTIO_BLK_S_OK);
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
	/* And on disk, once the page cache is gone. */
	check_image(f);
}

/* WRITE_ZEROES and DISCARD of sub-block ranges on an O_DIRECT image. */
static void test_direct_zeroes(void **state)
{
	struct fixture *f = fixture_get(state);
	uint32_t len = 0;
	dwz_seg s[3];

	image_align(f);
	dio_write(f, 0, 4 * PAGE, PAGE, 0, 31);
	s[0] = seg(1, 1, 0);
	s[1] = seg(3, 2, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	s[2] = seg(9, 12, 0);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 3, &len), VIRTIO_BLK_S_OK);
	model_zero(f, 1, 512);
	model_zero(f, 3, 1024);
	model_zero(f, 9, 12 * 512);
	check_image(f);
	dio_read_check(f, 0, 4 * PAGE, PAGE, 0);
	dio_read_check(f, 1, 1024, PAGE, MISALIGN);
	/* A sector of data into a zeroed range, then zeroes next to it. */
	dio_write(f, 10, 512, PAGE, MISALIGN, 32);
	s[0] = seg(11, 1, 0);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, &len), VIRTIO_BLK_S_OK);
	model_zero(f, 11, 512);
	dio_read_check(f, 8, PAGE, PAGE, 0);
	/* Discard (punching where the filesystem can) of a sub-block range. */
	s[0] = seg(25, 3, 0);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, s, 1, &len), VIRTIO_BLK_S_OK);
	if (can_punch_holes(f))
		model_zero(f, 25, 3 * 512);
	dio_read_check(f, 24, PAGE, PAGE, MISALIGN);
	check_image(f);
}

/*
 * The kernel will not pin the driver's buffers (EFAULT for O_DIRECT): every
 * READ and WRITE must still succeed, through the daemon's own aligned copy,
 * and land exactly where it belongs.  One buffer and several, aligned and
 * not, many in flight at once, on a page-cache-free image: the O_DIRECT
 * descriptor stays in use.
 */
static void test_direct_unpinnable(void **state)
{
	struct fixture *f = fixture_get(state);
	struct align a = image_align(f);
	uint32_t bs = a.offset > PAGE ? a.offset : PAGE;
	uint64_t sector = bs / 512, st, b1, b2;
	enum { N = 16 };
	uint16_t heads[N];
	uint64_t sts[N];
	uint8_t *data;

	assert_true(f->h.img.is_direct);
	/* The kernel's refusal is real: O_DIRECT into this memory fails. */
	if (pread(f->h.img.fd, hptr(f, hdrv_alloc_aligned(&f->h, bs, PAGE, 0)), bs, 0) >= 0)
		hc_skip("O_DIRECT on %s copies instead of pinning (tmpfs): nothing is refused",
			f->path);
	assert_int_equal(errno, EFAULT);

	dio_write(f, sector, bs, PAGE, 0, 41);
	check_at(f, sector, bs);
	dio_read_check(f, sector, bs, PAGE, 0);
	dio_write(f, 3 * sector, 2 * bs, PAGE, MISALIGN, 42);
	dio_read_check(f, 3 * sector, 2 * bs, PAGE, MISALIGN);

	/* Two data descriptors in one request. */
	data = malloc(2 * bs);
	assert_non_null(data);
	fill_pattern(data, 2 * bs, 43);
	b1 = put_buf_at(f, data, bs, PAGE, 0);
	b2 = put_buf_at(f, data + bs, bs, PAGE, 0);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 8 * sector), 16, false },
		{ b1, bs, false }, { b2, bs, false }, { st, 1, true },
	};
	assert_int_equal(run_chain(f, w, 4), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 8 * sector, data, 2 * bs);
	free(data);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 8 * sector), 16, false },
		{ b1 = put_buf_at(f, NULL, bs, PAGE, 0), bs, true },
		{ b2 = put_buf_at(f, NULL, bs, PAGE, 0), bs, true },
		{ st = put_status(f), 1, true },
	};
	assert_int_equal(run_chain(f, r, 4), 2 * bs + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, b1), expected(f, 8 * sector, bs), bs);
	assert_memory_equal(hptr(f, b2), expected(f, 9 * sector, bs), bs);

	/* Many at once: writes, then reads of the same blocks. */
	for (unsigned int i = 0; i < N; i++) {
		uint8_t buf[PAGE];
		struct dreq d;

		fill_pattern(buf, bs <= PAGE ? bs : PAGE, 100 + i);
		dreq_build(f, &d, VIRTIO_BLK_T_OUT, (16 + i) * sector, buf, bs <= PAGE ? bs : PAGE,
			   PAGE, 0);
		heads[i] = d.head;
		sts[i] = d.status;
		model_write(f, (16 + i) * sector, buf, bs <= PAGE ? bs : PAGE);
	}
	hdrv_publish_batch(&f->h, heads, N);
	collect(f, heads, sts, N, 1);
	dio_read_check(f, 16 * sector, N * bs, PAGE, 0);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	check_image(f);
}

#define T2(fn) T(fn, o_uring), T(fn, o_aio), \
	TS(fn, o_uring, setup_fs4k, teardown), TS(fn, o_aio, setup_fs4k, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(test_direct_aligned),
		T2(test_direct_misaligned_offset),
		T2(test_direct_misaligned_buffer),
		T2(test_direct_sub_block_in_flight),
		T2(test_direct_mixed_same_page),
		T2(test_direct_zeroes),
		TS(test_direct_aligned, o_uring_4k, setup_fs4k, teardown),
		TS(test_direct_aligned, o_aio_4k, setup_fs4k, teardown),
		TS(test_direct_misaligned_buffer, o_uring_4k, setup_fs4k, teardown),
		TS(test_direct_misaligned_buffer, o_aio_4k, setup_fs4k, teardown),
		TS(test_direct_unpinnable, o_uring_unpin_4k, setup_fs4k, teardown),
		TS(test_direct_unpinnable, o_aio_unpin_4k, setup_fs4k, teardown),
		T(test_direct_unpinnable, o_uring_unpin),
		T(test_direct_unpinnable, o_aio_unpin),
	};
	int r;

	fs4k_dir = fs4k_create(fs4k_why, sizeof(fs4k_why));
	if (!fs4k_dir)
		print_message("no 4096-byte-sector filesystem: %s\n", fs4k_why);
	r = hc_run("direct", tests, sizeof(tests) / sizeof(tests[0]));
	fs4k_destroy();
	return r;
}
