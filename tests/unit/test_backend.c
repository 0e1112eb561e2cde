// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table of backends: names, the prefix of --image that chooses one,
 * their options, and what every row must have now that a backend owns its
 * image (open, close, flush, the queue calls, its system calls), or why
 * this build has none of them.
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
#include "backends/lazy.h"
#include "sandbox/sandbox.h"

/* The backends the daemon has always had, io_uring (the default) first. */
static const char *const names[] = { "io_uring", "aio", "null", "rbd" };

/* Every row of the table, whether or not this build has that backend. */
/*
 * lazy_load(): a library's functions found into a table of the caller's
 * types; a missing library or function is -ENOPKG, and the table keeps
 * nothing it was not given.
 */
struct libc_table {
	size_t (*strlen)(const char *);
	int (*abs)(int);
};

static void test_lazy_load(void **state)
{
	static const struct lazy_sym syms[] = {
		LAZY_SYM(struct libc_table, strlen) LAZY_SYM(struct libc_table, abs)
	};
	static const struct lazy_sym missing[] = {
		LAZY_SYM(struct libc_table, strlen) { "vdb_no_such_function", 0 },
	};
	struct libc_table t = { 0 };
	struct lazy_lib libc = { "libc.so.6", "libc6", syms, 2, &t };
	struct lazy_lib absent = { "libvdb-not-there.so.9", "nothing", syms, 2, &t };
	struct lazy_lib old = { "libc.so.6", "libc6", missing, 2, &t };

	(void)state;
	assert_int_equal(lazy_load(&libc), 0);
	assert_int_equal(t.strlen("vduse"), 5);
	assert_int_equal(t.abs(-3), 3);
	assert_int_equal(lazy_load(&absent), -ENOPKG);
	assert_int_equal(lazy_load(&old), -ENOPKG);
	/* Tried once: the same answer again, without loading again. */
	assert_int_equal(lazy_load(&absent), -ENOPKG);
	assert_int_equal(lazy_load(&libc), 0);
}

static void test_every_row_is_complete(void **state)
{
	const struct backend_ops *be;
	unsigned int i;

	(void)state;
	for (i = 0; (be = backend_at(i)); i++) {
		assert_ptr_equal(backend_find_any(be->name), be);
		/* --help names and describes it whatever the build. */
		assert_non_null(be->summary);
		assert_true(!be->image_prefix || be->image_form);
		/* The sandbox allows what it declares, and nothing it forgot. */
		assert_non_null(be->syscalls);
		assert_true(be->nr_syscalls > 0);
		if (be->missing) {
			/* Not built in: named, and why, but nothing to call. */
			assert_null(backend_find(be->name));
			assert_null(strstr(backend_names(), be->name));
			assert_null(be->open);
			assert_null(be->queue_init);
			continue;
		}
		assert_ptr_equal(backend_find(be->name), be);
		assert_non_null(be->open);
		assert_non_null(be->close);
		assert_non_null(be->flush);
		assert_non_null(be->queue_init);
		assert_non_null(be->queue_exit);
		assert_non_null(be->queue_req);
		assert_non_null(be->wait);
		assert_non_null(be->landlock_paths);
		assert_non_null(strstr(backend_names(), be->name));
	}
	assert_string_equal(backend_at(0)->name, "io_uring");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(backend_find_any(names[i]));
	assert_null(backend_find("spdk"));
	assert_null(backend_find_any("spdk"));
	assert_null(strstr(backend_names(), "spdk"));
}

static void test_plain_path_has_no_backend(void **state)
{
	const char *path = NULL;

	(void)state;
	assert_null(backend_for_image("/var/lib/img/disk.raw", &path));
	assert_string_equal(path, "/var/lib/img/disk.raw");
	/* A file whose name merely contains the prefix. */
	assert_null(backend_for_image("./rbd:x", &path));
	/* A file whose name starts with a URI scheme family's prefix ("nbd"). */
	assert_null(backend_for_image("nbd0.raw", &path));
	assert_null(backend_for_image("nbd+unix.img", &path));
	assert_string_equal(path, "nbd+unix.img");
}

/* The nbd backend claims its URI schemes, and only those: SCHEME://. */
static void test_nbd_schemes(void **state)
{
	const struct backend_ops *be = backend_find_any("nbd");
	const char *path = NULL;

	(void)state;
	assert_non_null(be);
	assert_ptr_equal(backend_for_image("nbd://127.0.0.1:10809/", &path), be);
	assert_ptr_equal(backend_for_image("nbds+unix:///e?socket=/run/s", &path), be);
	assert_string_equal(path, "s+unix:///e?socket=/run/s");
	assert_null(backend_for_image("nbd:/x", &path));
}

/* An rbd: image names the rbd backend, in a build with librbd or without. */
static void test_rbd_prefix(void **state)
{
	const struct backend_ops *be = backend_find_any("rbd");
	const char *path = NULL;

	(void)state;
	assert_ptr_equal(backend_for_image("rbd:pool/disk0@snap", &path), be);
	assert_string_equal(path, "pool/disk0@snap");
	assert_string_equal(be->image_prefix, "rbd:");
	assert_string_equal(be->image_form, "rbd:POOL/IMAGE[@SNAP]");
#if HAVE_LIBRBD
	assert_null(be->missing);
	assert_true(be->req_priv_bytes > 0);
#else
	assert_non_null(strstr(be->missing, "librbd was not found at build time"));
#endif
}

/* A backend's options: found by key, in its own table only; each one documented. */
static void test_options(void **state)
{
	const struct backend_ops *rbd = backend_find_any("rbd"), *be;

	(void)state;
	assert_int_equal(backend_opt_index(rbd, "ceph-conf"), 0);
	assert_int_equal(backend_opt_index(rbd, "ceph-id"), 1);
	assert_int_equal(backend_opt_index(rbd, "ceph"), -ENOENT);
	assert_int_equal(backend_opt_index(&backend_io_uring, "ceph-conf"), -ENOENT);
	assert_ptr_equal(backend_opt_owner("ceph-id"), rbd);
	assert_null(backend_opt_owner("no-such-option"));
	for (unsigned int i = 0; (be = backend_at(i)); i++) {
		unsigned int n = 0;

		for (const struct backend_opt *bo = be->opts; bo && bo->key; bo++, n++) {
			assert_non_null(bo->arg);
			assert_non_null(bo->help);
			assert_ptr_equal(backend_opt_owner(bo->key), be);   /* keys are unique */
		}
		assert_true(n <= BACKEND_MAX_OPTS);
	}
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
		cmocka_unit_test(test_lazy_load),
		cmocka_unit_test(test_plain_path_has_no_backend),
		cmocka_unit_test(test_rbd_prefix),
		cmocka_unit_test(test_nbd_schemes),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_fd_backend_opens_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
