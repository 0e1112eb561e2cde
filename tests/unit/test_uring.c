// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * io_uring backend restrictions: a real backend queue on a temporary image,
 * set up through the ops table as a queue thread does.  On that queue's own
 * ring every opcode the backend does not use, an SQE without a fixed file,
 * an SQE flag it does not set and any io_uring_register() call are refused
 * with EACCES, while the requests it does serve still reach the image.
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
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "backends/io_uring/io_uring.h"

#define IMAGE_BYTES (1u << 20)
#define TAG 0x5eedull
#define FILL 0xa5

struct fix {
	char path[64];
	struct image img;
	int kick_fd;
	struct backend_queue *bq;
	struct io_uring *ring;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	static uint8_t buf[IMAGE_BYTES];
	int fd;

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "/tmp/vdb-test-uring.XXXXXX");
	fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	memset(buf, FILL, sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -1;
	close(fd);
	if (image_open(f->path, false, false, &f->img) < 0)
		return -1;
	f->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->kick_fd < 0)
		return -1;
	if (backend_io_uring.queue_init(&f->img, f->kick_fd, 16, &f->bq) < 0)
		return -1;
	f->ring = uring_queue_ring(f->bq);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	backend_io_uring.queue_exit(f->bq);
	close(f->kick_fd);
	image_close(&f->img);
	unlink(f->path);
	free(f);
	return 0;
}

/* Submit one SQE that @prep filled in on the backend's ring; its CQE's res. */
static int submit_one(struct fix *f, struct io_uring_sqe *sqe)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;
	int r, res;

	io_uring_sqe_set_data64(sqe, TAG);
	r = io_uring_submit(f->ring);
	assert_int_equal(r, 1);
	/* A forbidden SQE fails at submission; an allowed one would not hang either. */
	r = io_uring_wait_cqe_timeout(f->ring, &cqe, &ts);
	assert_int_equal(r, 0);
	assert_int_equal(io_uring_cqe_get_data64(cqe), TAG);
	res = cqe->res;
	io_uring_cqe_seen(f->ring, cqe);
	return res;
}

static bool is_used_by_backend(unsigned int op)
{
	switch (op) {
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
	case IORING_OP_WRITE:
	case IORING_OP_FSYNC:
	case IORING_OP_FALLOCATE:
	case IORING_OP_READ:
		return true;
	default:
		return false;
	}
}

/* The first 4 KiB of the image still hold the fill: nothing was written. */
static void assert_image_untouched(struct fix *f)
{
	uint8_t buf[4096], want[4096];

	memset(want, FILL, sizeof(want));
	assert_int_equal(pread(f->img.fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
}

static void test_openat_is_refused(void **state)
{
	struct fix *f = *state;
	struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);

	/* With the fixed-file flag it needs, so that only the opcode is wrong. */
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	assert_int_equal(submit_one(f, sqe), -EACCES);
}

static void test_every_unused_opcode_is_refused(void **state)
{
	struct fix *f = *state;
	unsigned int nr_refused = 0;

	for (unsigned int op = 0; op < IORING_OP_LAST; op++) {
		struct io_uring_sqe *sqe;
		int res;

		if (is_used_by_backend(op))
			continue;
		/* An all-zero SQE on fixed file 0 (the image): only the opcode differs. */
		sqe = io_uring_get_sqe(f->ring);
		assert_non_null(sqe);
		io_uring_prep_rw((int)op, sqe, 0, NULL, 0, 0);
		sqe->flags = IOSQE_FIXED_FILE;
		res = submit_one(f, sqe);
		if (res != -EACCES)
			fail_msg("opcode %u: res %d, expected %d (EACCES)", op, res, -EACCES);
		nr_refused++;
	}
	assert_int_equal(nr_refused, IORING_OP_LAST - 6);
	assert_image_untouched(f);
}

static void test_write_without_fixed_file_is_refused(void **state)
{
	struct fix *f = *state;
	static uint8_t junk[4096];
	struct io_uring_sqe *sqe;

	memset(junk, 0x11, sizeof(junk));
	/* The image's own fd, as a compromised daemon holds it: not through the ring. */
	sqe = io_uring_get_sqe(f->ring);
	io_uring_prep_write(sqe, f->img.fd, junk, sizeof(junk), 0);
	assert_int_equal(submit_one(f, sqe), -EACCES);
	/* The kick eventfd, unfixed, even with an opcode the backend uses on it. */
	sqe = io_uring_get_sqe(f->ring);
	io_uring_prep_read(sqe, f->kick_fd, junk, 8, 0);
	assert_int_equal(submit_one(f, sqe), -EACCES);
	assert_image_untouched(f);
}

static void test_unused_sqe_flag_is_refused(void **state)
{
	struct fix *f = *state;
	static uint8_t junk[4096];
	const uint8_t flags[] = { IOSQE_ASYNC, IOSQE_IO_DRAIN, IOSQE_IO_HARDLINK,
				  IOSQE_BUFFER_SELECT, IOSQE_CQE_SKIP_SUCCESS };

	memset(junk, 0x22, sizeof(junk));
	for (size_t i = 0; i < sizeof(flags); i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);
		int res;

		/* BUFFER_SELECT on an opcode that cannot take it fails before the check. */
		if (flags[i] == IOSQE_BUFFER_SELECT)
			io_uring_prep_read(sqe, 0, NULL, sizeof(junk), 0);
		else
			io_uring_prep_write(sqe, 0, junk, sizeof(junk), 0);
		sqe->flags = IOSQE_FIXED_FILE | flags[i];
		res = submit_one(f, sqe);
		if (res != -EACCES)
			fail_msg("flag %#x: res %d, expected %d (EACCES)", flags[i], res, -EACCES);
	}
	assert_image_untouched(f);
}

static void test_register_after_enable_is_refused(void **state)
{
	struct fix *f = *state;
	int fd = f->img.fd;
	struct iovec iov = { .iov_base = &fd, .iov_len = sizeof(fd) };
	struct io_uring_probe *probe;

	/* Swapping a fixed file for another fd, adding buffers, or even asking. */
	assert_int_equal(io_uring_register_files_update(f->ring, 1, &fd, 1), -EACCES);
	assert_int_equal(io_uring_unregister_files(f->ring), -EACCES);
	assert_int_equal(io_uring_register_buffers(f->ring, &iov, 1), -EACCES);
	probe = io_uring_get_probe_ring(f->ring);
	assert_null(probe);
}

/* Queue @req through the backend and wait for its completion: its result. */
static int run_req(struct fix *f, struct backend_req *req)
{
	struct backend_event evs[8];
	int r;

	r = backend_io_uring.queue_req(f->bq, req);
	if (r < 0)
		return r;
	for (;;) {
		r = backend_io_uring.wait(f->bq, evs, 8, true);
		assert_true(r >= 0);
		for (int i = 0; i < r; i++)
			if (evs[i].type == BACKEND_EV_DONE && evs[i].req == req)
				return evs[i].res;
	}
}

static void test_backend_ops_still_work(void **state)
{
	struct fix *f = *state;
	static uint8_t out[8192], in[8192], zeros[8192], file[8192];
	struct iovec iov[2];
	struct backend_event evs[8];
	struct backend_req *req = calloc(1, sizeof(*req));
	bool has_kick = false;
	int r;

	assert_non_null(req);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	/* WRITE from two iovecs (writev), then FLUSH (fdatasync). */
	iov[0] = (struct iovec){ out, 4096 };
	iov[1] = (struct iovec){ out + 4096, 4096 };
	*req = (struct backend_req){ .op = BACKEND_OP_WRITE, .offset_bytes = 65536, .data_iov = iov,
				 .nr_data_iov = 2, .data_bytes = sizeof(out) };
	assert_int_equal(run_req(f, req), 0);
	*req = (struct backend_req){ .op = BACKEND_OP_FLUSH };
	assert_int_equal(run_req(f, req), 0);
	assert_int_equal(pread(f->img.fd, file, sizeof(file), 65536), (ssize_t)sizeof(file));
	assert_memory_equal(file, out, sizeof(out));
	/* READ it back (readv) into other buffers. */
	iov[0] = (struct iovec){ in, 4096 };
	iov[1] = (struct iovec){ in + 4096, 4096 };
	*req = (struct backend_req){ .op = BACKEND_OP_READ, .offset_bytes = 65536, .data_iov = iov,
				 .nr_data_iov = 2, .data_bytes = sizeof(in) };
	assert_int_equal(run_req(f, req), 0);
	assert_memory_equal(in, out, sizeof(out));
	/*
	 * WRITE_ZEROES over the first half (fallocate; on tmpfs a linked punch
	 * and allocate), DISCARD of the second (punch).
	 */
	*req = (struct backend_req){ .op = BACKEND_OP_WRITE_ZEROES, .nr_segs = 1 };
	req->segs[0] = (struct backend_seg){ .offset_bytes = 65536, .len_bytes = 4096 };
	assert_int_equal(run_req(f, req), 0);
	*req = (struct backend_req){ .op = BACKEND_OP_DISCARD, .nr_segs = 1 };
	req->segs[0] = (struct backend_seg){ .offset_bytes = 65536 + 4096, .len_bytes = 4096 };
	assert_int_equal(run_req(f, req), 0);
	assert_int_equal(pread(f->img.fd, file, sizeof(file), 65536), (ssize_t)sizeof(file));
	assert_memory_equal(file, zeros, sizeof(zeros));
	/* The kick eventfd, read through its fixed file. */
	assert_int_equal(eventfd_write(f->kick_fd, 1), 0);
	while (!has_kick) {
		r = backend_io_uring.wait(f->bq, evs, 8, true);
		assert_true(r >= 0);
		for (int i = 0; i < r; i++)
			has_kick |= evs[i].type == BACKEND_EV_KICK;
	}
	/* ... and the ring consumed the counter (a refused read would leave it). */
	assert_int_equal(eventfd_read(f->kick_fd, &(eventfd_t){ 0 }), -1);
	assert_int_equal(errno, EAGAIN);
	free(req);
	assert_image_untouched(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_openat_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_unused_opcode_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_without_fixed_file_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unused_sqe_flag_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_after_enable_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_backend_ops_still_work, setup, teardown),
	};
	int r = backend_io_uring.probe();

	if (r < 0) {
		printf("SKIP: io_uring is unavailable here: %s\n", strerror(-r));
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
