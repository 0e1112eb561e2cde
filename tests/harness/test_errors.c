// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backend errors: a request whose I/O fails in the kernel completes with
 * VIRTIO_BLK_S_IOERR (used.len 1: no data for the driver), and the queue
 * goes on serving.  On io_uring and aio:
 *
 *  - EFBIG: RLIMIT_FSIZE below the image size (SIGXFSZ ignored): writes past
 *    the limit fail, writes below it and reads anywhere work;
 *  - ENOSPC: a 16 MiB sparse image on a 1 MiB tmpfs (root only: mounted in
 *    this process's own mount namespace), written until the filesystem is
 *    full; what is allocated stays readable and writable, and a discard
 *    makes room again;
 *  - the image shrinks under the device (ftruncate): reads past the new end
 *    of file are short (the EIO path), reads before it work.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_uring_direct = { .queue_size = 64, .backend = "io_uring", .is_direct = true };
static struct hdrv_opts o_aio_direct = { .queue_size = 64, .backend = "aio", .is_direct = true };

static int mount_why;             /* hc_private_mounts() result: 0 or -errno */

/* One request of @len bytes that must fail: IOERR, used.len 1, read data untouched. */
static void expect_ioerr(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len)
{
	uint64_t before = QSTAT(f, nr_io_errors);

	expect_rw_status(f, type, sector, len, VIRTIO_BLK_S_IOERR);
	assert_int_equal(QSTAT(f, nr_io_errors), before + 1);
}

/* A READ that fails part way: IOERR, used.len 1 (the data buffer is undefined). */
static void expect_read_ioerr_partial(struct fixture *f, uint64_t sector, uint32_t len)
{
	uint8_t *buf = malloc(len);
	uint64_t before = QSTAT(f, nr_io_errors);
	uint32_t used_len = 0;

	assert_non_null(buf);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_IN, sector, buf, len, &used_len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len, 1);
	assert_int_equal(QSTAT(f, nr_io_errors), before + 1);
	free(buf);
}

/* Each sector of [sector, +len) on the image holds either the model's bytes or @data's. */
static void model_take_either(struct fixture *f, uint64_t sector, const uint8_t *data,
			      uint32_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	read_image(f, sector * 512, buf, len);
	for (uint32_t off = 0; off < len; off += 512) {
		if (memcmp(buf + off, data + off, 512) != 0)
			assert_memory_equal(buf + off, f->model + sector * 512 + off, 512);
	}
	memcpy(f->model + sector * 512, buf, len);
	free(buf);
}

/* ---- EFBIG -------------------------------------------------------------- */

#define FSIZE_LIMIT (IMAGE_BYTES / 2)

static struct rlimit saved_fsize;
static bool is_fsize_limited;

static void fsize_restore(void)
{
	if (is_fsize_limited)
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
	is_fsize_limited = false;
}

static int teardown_fsize(void **state)
{
	if (is_fsize_limited)
		setrlimit(RLIMIT_FSIZE, &saved_fsize);
	is_fsize_limited = false;
	return teardown(state);
}

/* 16 WRITEs in one avail->idx store, every other one past the limit. */
static void efbig_in_flight(struct fixture *f, uint64_t limit_sector)
{
	enum { N = 16, LEN = 4096 };
	uint64_t before = QSTAT(f, nr_io_errors);
	struct hreq r[N];
	uint16_t heads[N];
	bool seen[N] = { false };

	for (unsigned int i = 0; i < N; i++) {
		uint64_t sector = i & 1 ? limit_sector + 16 * i : limit_sector - 16 * (i + 2);
		uint8_t data[LEN];

		fill_pattern(data, LEN, 60 + i);
		hdrv_blk_req(&f->h, &r[i], VIRTIO_BLK_T_OUT, sector, data, LEN);
		struct hbuf b[] = {
			{ r[i].hdr_iova, 16, false }, { r[i].data_iova, LEN, false },
			{ r[i].status_iova, 1, true },
		};
		heads[i] = r[i].head = hdrv_chain(&f->h, b, 3);
		if (!(i & 1))
			model_write(f, sector, data, LEN);
	}
	hdrv_publish_batch(&f->h, heads, N);
	for (unsigned int k = 0; k < N; k++) {
		uint32_t len;
		unsigned int i = wait_one_of(f, heads, seen, N, &len);

		assert_int_equal(len, 1);
		assert_int_equal(hdrv_status(&f->h, &r[i]),
				 i & 1 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	}
	assert_int_equal(QSTAT(f, nr_io_errors), before + N / 2);
	check_image(f);
}

static void test_efbig(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t limit_sector = FSIZE_LIMIT / 512;
	struct rlimit lim;
	uint8_t data[8192];
	uint32_t len = 0;

	round_trip(f, limit_sector + 8);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
	lim = saved_fsize;
	lim.rlim_cur = FSIZE_LIMIT;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	is_fsize_limited = true;

	/* Past the limit: EFBIG, nothing written. */
	expect_ioerr(f, VIRTIO_BLK_T_OUT, limit_sector, 4096);
	expect_ioerr(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 1, 512);
	check_image(f);
	/* Across it: the part below may land (a short write), the rest fails. */
	fill_pattern(data, sizeof(data), 41);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, limit_sector - 8, data, sizeof(data),
				     &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	model_take_either(f, limit_sector - 8, data, 4096);
	check_image(f);
	/* The queue goes on: writes below the limit, reads anywhere. */
	round_trip(f, limit_sector - 16);
	do_read_check(f, limit_sector + 8, 4096);
	assert_valid_served(f);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);

	/* In flight together: every request gets its own status, not its neighbour's. */
	efbig_in_flight(f, limit_sector);

	/* No limit, no error. */
	fsize_restore();
	round_trip(f, limit_sector);
	round_trip(f, IMAGE_SECTORS - 8);
	check_image(f);
}

/* ---- ENOSPC ------------------------------------------------------------- */

#define ENOSPC_IMAGE_BYTES (16u << 20)
#define ENOSPC_FS_SIZE "size=1M"
#define CHUNK 65536u

/* A filesystem mounted for one test case: a tiny tmpfs, a ramfs. */
static char scratch_dir[256];

/*
 * Mount @fstype (with @data) on a new directory in $TMPDIR.  Returns 0, or 1
 * with the reason in @why when it cannot be done here (the case skips).
 */
static int mount_scratch(const char *fstype, const char *data, char *why, size_t why_len)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if (geteuid() != 0) {
		snprintf(why, why_len, "not root: cannot mount a %s", fstype);
		return 1;
	}
	if (mount_why < 0) {
		snprintf(why, why_len, "no private mount namespace: %s", strerror(-mount_why));
		return 1;
	}
	snprintf(scratch_dir, sizeof(scratch_dir), "%s/vdb-%s-XXXXXX", tmp, fstype);
	if (!mkdtemp(scratch_dir))
		return -1;
	if (mount(fstype, scratch_dir, fstype, 0, data) < 0) {
		snprintf(why, why_len, "mounting a %s (%s) on %s: %s", fstype, data ? data : "",
			 scratch_dir, strerror(errno));
		rmdir(scratch_dir);
		scratch_dir[0] = '\0';
		return 1;
	}
	return 0;
}

static void umount_scratch(void)
{
	if (scratch_dir[0]) {
		umount2(scratch_dir, MNT_DETACH);
		rmdir(scratch_dir);
		scratch_dir[0] = '\0';
	}
}

static int setup_enospc(void **state)
{
	char path[300], why[300];
	int fd, r = mount_scratch("tmpfs", ENOSPC_FS_SIZE, why, sizeof(why));

	if (r)
		return r > 0 ? fixture_setup_skipped(state, why) : r;
	snprintf(path, sizeof(path), "%s/image", scratch_dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, ENOSPC_IMAGE_BYTES) < 0)
		return -1;
	close(fd);
	return fixture_setup_image(state, path);
}

static int teardown_enospc(void **state)
{
	int r = teardown(state);

	umount_scratch();
	return r;
}

/* WRITE @len bytes of pattern @seed at @sector; returns the status byte. */
static int try_write(struct fixture *f, uint64_t sector, uint32_t len, uint32_t seed)
{
	uint8_t *data = malloc(len);
	uint32_t used_len = 0;
	int status;

	assert_non_null(data);
	fill_pattern(data, len, seed);
	status = hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, sector, data, len, &used_len);
	assert_true(status == VIRTIO_BLK_S_OK || status == VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len, 1);
	free(data);
	return status;
}

/* READ @len bytes at @sector: OK, and the pattern @seed. */
static void read_pattern(struct fixture *f, uint64_t sector, uint32_t len, uint32_t seed)
{
	uint8_t *want = malloc(len), *buf = malloc(len);
	uint32_t used_len = 0;

	assert_non_null(want);
	assert_non_null(buf);
	fill_pattern(want, len, seed);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_IN, sector, buf, len, &used_len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, len + 1);
	assert_memory_equal(buf, want, len);
	free(want);
	free(buf);
}

static void test_enospc(void **state)
{
	struct fixture *f = fixture_get(state);
	const unsigned int nr_chunks = ENOSPC_IMAGE_BYTES / CHUNK;
	uint64_t errors_before = QSTAT(f, nr_io_errors);
	unsigned int full = nr_chunks;
	dwz_seg s;
	uint32_t len;

	/* Chunk k gets pattern k, until the filesystem is full. */
	for (unsigned int k = 0; k < nr_chunks && full == nr_chunks; k++)
		if (try_write(f, (uint64_t)k * CHUNK / 512, CHUNK, k) == VIRTIO_BLK_S_IOERR)
			full = k;
	print_message("a 1 MiB tmpfs took %u chunks of 64 KiB\n", full);
	assert_true(full > 0 && full < nr_chunks);
	assert_int_equal(QSTAT(f, nr_io_errors), errors_before + 1);
	/* Still full: the next write fails too. */
	assert_int_equal(try_write(f, (uint64_t)(full + 1) * CHUNK / 512, CHUNK, 999),
			 VIRTIO_BLK_S_IOERR);

	/* What is allocated reads back, and takes writes. */
	read_pattern(f, 0, CHUNK, 0);
	read_pattern(f, (uint64_t)(full - 1) * CHUNK / 512, CHUNK, full - 1);
	assert_int_equal(try_write(f, 0, CHUNK, 1000), VIRTIO_BLK_S_OK);
	read_pattern(f, 0, CHUNK, 1000);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);

	/* A discard frees a chunk: the write that failed goes through now. */
	s = seg(CHUNK / 512, CHUNK / 512, 0);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	assert_int_equal(try_write(f, (uint64_t)full * CHUNK / 512, CHUNK, 2000), VIRTIO_BLK_S_OK);
	read_pattern(f, (uint64_t)full * CHUNK / 512, CHUNK, 2000);
	read_pattern(f, 0, CHUNK, 1000);
}

/* ---- the image shrinks ------------------------------------------------- */

#define SHRUNK_BYTES (IMAGE_BYTES / 2)

static void test_shrunk_image(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t eof_sector = SHRUNK_BYTES / 512;
	uint8_t *buf = malloc(SHRUNK_BYTES);

	assert_non_null(buf);
	fill_pattern(buf, 4096, 51);
	round_trip(f, eof_sector - 8);
	round_trip(f, eof_sector + 8);
	assert_int_equal(truncate(f->path, SHRUNK_BYTES), 0);
	/* The device still has its old capacity; the file ends halfway. */
	expect_ioerr(f, VIRTIO_BLK_T_IN, eof_sector, 4096);
	expect_ioerr(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, 512);
	/* Across the end of file: a short read, then end of file. */
	expect_read_ioerr_partial(f, eof_sector - 4, 4096);
	expect_read_ioerr_partial(f, eof_sector - 64, 64 * 512 + 512);

	/* Before it everything works. */
	do_read_check(f, eof_sector - 8, 4096);
	do_write(f, 0, buf, 4096);
	do_read_check(f, 0, 4096);
	fill_pattern(buf, 4096, 52);
	do_write(f, CHECK_SECTOR, buf, 4096);
	do_read_check(f, CHECK_SECTOR, 4096);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	read_image(f, 0, buf, SHRUNK_BYTES);
	assert_memory_equal(buf, f->model, SHRUNK_BYTES);
	free(buf);
	assert_false(vq_is_broken(hvq(f)));
}

#define T2(fn) T(fn, o_uring), T(fn, o_aio)

/* ---- short writes of the zero-writing fallback ----------------------------- */

/* The image on ramfs, which has no fallocate at all: WRITE_ZEROES writes zeroes. */
static int setup_ramfs(void **state)
{
	char why[300];
	int r = mount_scratch("ramfs", NULL, why, sizeof(why));

	if (r)
		return r > 0 ? fixture_setup_skipped(state, why) : r;
	return fixture_setup_in(state, scratch_dir);
}

static int teardown_ramfs(void **state)
{
	int r = teardown_fsize(state);

	umount_scratch();
	return r;
}

/*
 * A file-size limit 4 KiB into a WRITE_ZEROES range: the write of zeroes is
 * short.  It used to complete OK with the rest of the range not zeroed.
 */
static void test_zero_writes_short(void **state)
{
	struct fixture *f = fixture_get(state);
	const uint64_t sector = FSIZE_LIMIT / 512 - 8;
	dwz_seg s = seg(sector, 1024 - 8, 0);
	struct rlimit lim;
	uint32_t len = 0;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_fsize), 0);
	lim = saved_fsize;
	lim.rlim_cur = FSIZE_LIMIT;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	is_fsize_limited = true;
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	/* What was below the limit may be zeroed; past it nothing changed. */
	model_zero(f, sector, 4096);
	check_image(f);
	fsize_restore();
	/* Without the limit the same request zeroes it all. */
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, &len), VIRTIO_BLK_S_OK);
	model_zero(f, sector, (1024 - 8) * 512);
	do_read_check(f, sector, 8192);
	check_image(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TS(test_efbig, o_uring, setup, teardown_fsize),
		TS(test_efbig, o_aio, setup, teardown_fsize),
		TS(test_enospc, o_uring, setup_enospc, teardown_enospc),
		TS(test_enospc, o_aio, setup_enospc, teardown_enospc),
		T2(test_shrunk_image),
		TS(test_zero_writes_short, o_uring, setup_ramfs, teardown_ramfs),
		TS(test_zero_writes_short, o_aio, setup_ramfs, teardown_ramfs),
		T(test_shrunk_image, o_uring_direct),
		T(test_shrunk_image, o_aio_direct),
	};

	/* Writes past RLIMIT_FSIZE fail with EFBIG instead of killing us. */
	signal(SIGXFSZ, SIG_IGN);
	mount_why = geteuid() == 0 ? hc_private_mounts() : -EPERM;
	return hc_run("errors", tests, sizeof(tests) / sizeof(tests[0]));
}
