// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fd backends' request helpers (src/backends/fd/req.c): the op switch
 * calls a backend's steps in the order of the op, once per range, stops at
 * the first failing range, refuses other ops; a transfer's result is
 * counted, a short one goes on from where it stopped, the end of the image
 * inside a request is EIO.  And the cache mode an image is opened with:
 * --direct, --buffered, or by default O_DIRECT for a block device only.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "backends/fd/req.h"

/* What the steps were called with, in order: "rw", "flush", "discard@OFF", ... */
static char calls[256];
static int fail_at_offset = -1;   /* the range step at this offset fails with -EIO */

static void note(const char *what, const struct backend_seg *seg)
{
	size_t n = strlen(calls);

	if (seg)
		snprintf(calls + n, sizeof(calls) - n, "%s@%llu ", what,
			 (unsigned long long)seg->offset_bytes);
	else
		snprintf(calls + n, sizeof(calls) - n, "%s ", what);
}

static int step_rw(struct backend_queue *bq, struct backend_req *req)
{
	(void)bq;
	(void)req;
	note("rw", NULL);
	return 0;
}

static int step_flush(struct backend_queue *bq, struct backend_req *req)
{
	(void)bq;
	(void)req;
	note("flush", NULL);
	return 0;
}

static int step_range(const char *what, const struct backend_seg *seg)
{
	note(what, seg);
	return (int)seg->offset_bytes == fail_at_offset ? -EIO : 0;
}

static int step_discard(struct backend_queue *bq, struct backend_req *req,
			const struct backend_seg *seg)
{
	(void)bq;
	(void)req;
	return step_range("discard", seg);
}

static int step_zeroes(struct backend_queue *bq, struct backend_req *req,
		       const struct backend_seg *seg)
{
	(void)bq;
	(void)req;
	return step_range("zeroes", seg);
}

static int step_ranges_end(struct backend_queue *bq, struct backend_req *req, int res)
{
	size_t n = strlen(calls);

	(void)bq;
	(void)req;
	snprintf(calls + n, sizeof(calls) - n, "end(%d)", res);
	return res == -EIO ? 0 : 7;   /* what queue_req() returns is the backend's word */
}

static const struct fd_req_steps steps = {
	.rw = step_rw, .flush = step_flush, .discard = step_discard,
	.write_zeroes = step_zeroes, .ranges_end = step_ranges_end,
};

static const struct image buffered = { .fd = -1, .is_direct = false };

static int start(struct backend_req *req)
{
	calls[0] = 0;
	return fd_req_start(&steps, NULL, &buffered, false, req);
}

static void test_each_op_its_step(void **state)
{
	uint8_t buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct backend_req req = { .op = BACKEND_OP_READ, .data_iov = &iov, .nr_data_iov = 1,
				    .data_bytes = sizeof(buf) };

	(void)state;
	assert_int_equal(start(&req), 0);
	assert_string_equal(calls, "rw ");
	assert_null(req.fd.bounce);          /* buffered: no bounce buffer */
	req.op = BACKEND_OP_WRITE;
	assert_int_equal(start(&req), 0);
	assert_string_equal(calls, "rw ");
	req = (struct backend_req){ .op = BACKEND_OP_FLUSH };
	assert_int_equal(start(&req), 0);
	assert_string_equal(calls, "flush ");
	req = (struct backend_req){ .op = BACKEND_OP_NONE };
	assert_int_equal(start(&req), -EOPNOTSUPP);
	assert_string_equal(calls, "");
}

static void test_ranges_in_order_to_the_first_error(void **state)
{
	struct backend_req req = { .op = BACKEND_OP_DISCARD, .nr_segs = 3 };

	(void)state;
	for (unsigned int i = 0; i < 3; i++)
		req.segs[i] = (struct backend_seg){ .offset_bytes = 4096 * (i + 1), .len_bytes = 512 };
	fail_at_offset = -1;
	assert_int_equal(start(&req), 7);
	assert_string_equal(calls, "discard@4096 discard@8192 discard@12288 end(0)");
	req.op = BACKEND_OP_WRITE_ZEROES;
	fail_at_offset = 8192;
	assert_int_equal(start(&req), 0);
	assert_string_equal(calls, "zeroes@4096 zeroes@8192 end(-5)");
	fail_at_offset = -1;
}

/* A transfer: its bytes counted, the rest again, the image's end an error. */
static void test_rw_results(void **state)
{
	uint8_t a[1024], b[1024];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec *p = iov;
	struct backend_req req = { .op = BACKEND_OP_READ, .data_iov = p, .nr_data_iov = 2,
				    .data_bytes = 2048 };
	bool copying = false;
	int res;

	(void)state;
	res = 1536;                               /* short: on from byte 1536 */
	assert_true(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(res, -EIO);              /* should the resubmission fail */
	assert_int_equal(req.fd.done_bytes, 1536);
	assert_int_equal(req.nr_data_iov, 1);
	assert_ptr_equal(req.data_iov[0].iov_base, b + 512);
	assert_int_equal(req.data_iov[0].iov_len, 512);
	res = -EAGAIN;                            /* tried again as it is */
	assert_true(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(req.fd.done_bytes, 1536);
	res = 0;                                  /* nothing more: the image ended */
	assert_false(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(res, -EIO);
	res = 4096;                               /* more than asked counts as the rest */
	assert_false(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(res, 0);
	assert_int_equal(req.fd.done_bytes, 2048);
	res = -ENOSPC;
	assert_false(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(res, -ENOSPC);
	/* EFAULT of a buffered image is an error like any other (O_DIRECT copies). */
	res = -EFAULT;
	assert_false(fd_req_rw_again(&buffered, &req, &res, &copying));
	assert_int_equal(res, -EFAULT);
	assert_false(copying);
}

/* O_DIRECT refused the driver's buffers: the rest goes through a buffer of ours. */
static void test_dio_refused_copies(void **state)
{
	static uint8_t data[4096] __attribute__((aligned(4096)));
	struct iovec iov = { data, sizeof(data) };
	struct image direct = { .fd = -1, .is_direct = true, .dio_mem_align = 512,
				.dio_offset_align = 512 };
	struct backend_req req = { .op = BACKEND_OP_WRITE, .data_iov = &iov, .nr_data_iov = 1,
				    .data_bytes = sizeof(data) };
	bool copying = false;
	unsigned int nr;
	int res = -EFAULT;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	assert_true(fd_req_rw_again(&direct, &req, &res, &copying));
	assert_true(copying);
	assert_non_null(req.fd.bounce);
	assert_ptr_equal(fd_req_iov(&req, &nr), &req.fd.bounce_iov);
	assert_int_equal(nr, 1);
	assert_memory_equal(req.fd.bounce, data, sizeof(data));
	fd_req_bounce_end(&req, 0);
	assert_null(req.fd.bounce);
}

/* Without --direct or --buffered: O_DIRECT for a block device, the page cache for a file. */
static void test_cache_mode_by_file_type(void **state)
{
	const struct image_spec neither = { .adopt_fd = -1 };
	const struct image_spec direct = { .is_direct = true, .adopt_fd = -1 };
	const struct image_spec cached = { .is_buffered = true, .adopt_fd = -1 };

	(void)state;
	assert_true(image_wants_direct(&neither, S_IFBLK | 0660));
	assert_false(image_wants_direct(&neither, S_IFREG | 0644));
	assert_true(image_wants_direct(&direct, S_IFBLK | 0660));
	assert_true(image_wants_direct(&direct, S_IFREG | 0644));
	assert_false(image_wants_direct(&cached, S_IFBLK | 0660));
	assert_false(image_wants_direct(&cached, S_IFREG | 0644));
}

/* A file opened without either option keeps the page cache; --direct asks for O_DIRECT. */
static void test_file_opens_buffered_by_default(void **state)
{
	char path[] = "/tmp/test_fd_image_XXXXXX";
	int fd = mkstemp(path);
	struct image_spec spec = { .path = path, .adopt_fd = -1 };
	struct image img;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(image_fd_open(&spec, &img), 0);
	assert_false(img.is_direct);
	assert_false(fcntl(img.fd, F_GETFL) & O_DIRECT);
	image_close(&img);
	spec.is_direct = true;
	/* Some file systems (tmpfs before 6.6) refuse O_DIRECT: nothing to check there. */
	if (image_fd_open(&spec, &img) == 0) {
		assert_true(img.is_direct);
		assert_true(fcntl(img.fd, F_GETFL) & O_DIRECT);
		image_close(&img);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_op_its_step),
		cmocka_unit_test(test_ranges_in_order_to_the_first_error),
		cmocka_unit_test(test_rw_results),
		cmocka_unit_test(test_dio_refused_copies),
		cmocka_unit_test(test_cache_mode_by_file_type),
		cmocka_unit_test(test_file_opens_buffered_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
