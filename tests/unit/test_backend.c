// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table of backends: names, the prefix of --image that chooses one, and
 * what every row must have now that a backend owns its image (open, close,
 * flush and the queue calls).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "sandbox/sandbox.h"

static const char *const names[] = { "io_uring", "aio", "null", "rbd" };

static void test_every_row_is_complete(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct backend_ops *be = backend_find(names[i]);

		if (!be)
			continue;       /* not built in (aio, rbd) */
		assert_string_equal(be->name, names[i]);
		assert_non_null(be->open);
		assert_non_null(be->close);
		assert_non_null(be->flush);
		assert_non_null(be->queue_init);
		assert_non_null(be->queue_exit);
		assert_non_null(be->queue_req);
		assert_non_null(be->wait);
		/* The sandbox allows what it declares, and nothing it forgot. */
		assert_non_null(be->syscalls);
		assert_true(be->nr_syscalls > 0);
		assert_non_null(be->landlock_paths);
		assert_non_null(strstr(backend_names(), names[i]));
	}
	assert_null(backend_find("spdk"));
	assert_null(strstr(backend_names(), "spdk"));
}

static void test_plain_path_has_no_backend(void **state)
{
	const struct backend_ops *be = (void *)1;
	const char *path = NULL;

	(void)state;
	assert_int_equal(backend_for_image("/var/lib/img/disk.raw", &be, &path), 0);
	assert_null(be);
	assert_string_equal(path, "/var/lib/img/disk.raw");
	/* A file whose name merely contains the prefix. */
	assert_int_equal(backend_for_image("./rbd:x", &be, &path), 0);
	assert_null(be);
}

static void test_rbd_prefix(void **state)
{
	const struct backend_ops *be = NULL;
	const char *path = NULL;
	int r;

	(void)state;
	r = backend_for_image("rbd:pool/disk0@snap", &be, &path);
#if HAVE_LIBRBD
	assert_int_equal(r, 0);
	assert_ptr_equal(be, &backend_rbd);
	assert_string_equal(path, "pool/disk0@snap");
	assert_string_equal(be->image_prefix, "rbd:");
	assert_true(be->req_priv_bytes > 0);
#else
	assert_int_equal(r, -ENOTSUP);
	assert_null(be);
#endif
}

/* The fd backends open a file through image.c; the image says what it can do. */
static void test_fd_backend_opens_a_file(void **state)
{
	char path[] = "/tmp/vdb-test-backend-XXXXXX";
	int fd = mkstemp(path);
	struct image img;
	const struct backend_ops *be = backend_find("null");
	struct image_spec spec = { .path = path, .adopt_fd = -1 };
	struct sandbox_path paths[4];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(be->open(&spec, &img), 0);
	assert_true(img.fd >= 0);
	assert_null(img.priv);
	assert_int_equal(img.size_bytes, 1 << 20);
	assert_true(img.can_write_zeroes);
	assert_false(img.is_readonly);
	assert_int_equal(be->flush(&img), 0);
	/* Under Landlock it may open its image again, for writing as it serves it. */
	assert_int_equal(be->landlock_paths(&spec, &img, paths, 4), 1);
	assert_string_equal(paths[0].path, path);
	assert_int_equal(paths[0].rights, SANDBOX_FS_READ | SANDBOX_FS_WRITE);
	img.is_readonly = true;
	assert_int_equal(be->landlock_paths(&spec, &img, paths, 4), 1);
	assert_int_equal(paths[0].rights, SANDBOX_FS_READ);
	assert_int_equal(be->landlock_paths(&spec, &img, paths, 0), 0);
	be->close(&img);
	assert_int_equal(img.fd, -1);
	be->close(&img);        /* twice: NULL-safe, closed-safe */
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row_is_complete),
		cmocka_unit_test(test_plain_path_has_no_backend),
		cmocka_unit_test(test_rbd_prefix),
		cmocka_unit_test(test_fd_backend_opens_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
