// SPDX-License-Identifier: GPL-2.0-or-later
/* iovec helpers: copies that skip, stop short, cross and skip empty iovecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/iov.h"

/* Three iovecs over one backing buffer: [0,3) [3,3) (empty) [3,10), plus [10,16). */
struct fix {
	char back[16];
	struct iovec iov[4];
};

static void fix_init(struct fix *f)
{
	memcpy(f->back, "abcdefghijklmnop", 16);
	f->iov[0] = (struct iovec){ f->back, 3 };
	f->iov[1] = (struct iovec){ f->back + 3, 0 };
	f->iov[2] = (struct iovec){ f->back + 3, 7 };
	f->iov[3] = (struct iovec){ f->back + 10, 6 };
}

static void test_to_buf_all(void **state)
{
	struct fix f;
	char out[32];

	(void)state;
	fix_init(&f);
	memset(out, '.', sizeof(out));
	assert_int_equal(iov_to_buf(f.iov, 4, 0, out, sizeof(out)), 16);
	assert_memory_equal(out, "abcdefghijklmnop", 16);
	assert_int_equal(out[16], '.');
}

static void test_to_buf_skip_and_len(void **state)
{
	struct fix f;
	char out[8];

	(void)state;
	fix_init(&f);
	/* Skip lands mid-iovec; the copy crosses the empty one and two boundaries. */
	memset(out, '.', sizeof(out));
	assert_int_equal(iov_to_buf(f.iov, 4, 2, out, 6), 6);
	assert_memory_equal(out, "cdefgh..", 8);
	/* Skip exactly at a boundary. */
	memset(out, '.', sizeof(out));
	assert_int_equal(iov_to_buf(f.iov, 4, 10, out, 8), 6);
	assert_memory_equal(out, "klmnop..", 8);
	/* Skip at or past the end, zero length, no iovecs. */
	assert_int_equal(iov_to_buf(f.iov, 4, 16, out, 8), 0);
	assert_int_equal(iov_to_buf(f.iov, 4, 1000, out, 8), 0);
	assert_int_equal(iov_to_buf(f.iov, 4, 0, out, 0), 0);
	assert_int_equal(iov_to_buf(f.iov, 0, 0, out, 8), 0);
	/* Only the first @nr iovecs count. */
	memset(out, '.', sizeof(out));
	assert_int_equal(iov_to_buf(f.iov, 2, 0, out, 8), 3);
	assert_memory_equal(out, "abc.....", 8);
}

static void test_from_buf(void **state)
{
	struct fix f;

	(void)state;
	fix_init(&f);
	assert_int_equal(iov_from_buf(f.iov, 4, 1, "XYZW", 4), 4);
	assert_memory_equal(f.back, "aXYZWfghijklmnop", 16);
	/* Stops at the end of the list. */
	assert_int_equal(iov_from_buf(f.iov, 4, 14, "123456", 6), 2);
	assert_memory_equal(f.back, "aXYZWfghijklmn12", 16);
	assert_int_equal(iov_from_buf(f.iov, 4, 16, "q", 1), 0);
	assert_int_equal(iov_from_buf(f.iov, 4, 0, "q", 0), 0);
	assert_memory_equal(f.back, "aXYZWfghijklmn12", 16);
}

static void test_memset(void **state)
{
	struct fix f;

	(void)state;
	fix_init(&f);
	iov_memset(f.iov, 3, 0);
	assert_memory_equal(f.back, "\0\0\0\0\0\0\0\0\0\0klmnop", 16);
	iov_memset(f.iov, 0, 'z');
	assert_memory_equal(f.back, "\0\0\0\0\0\0\0\0\0\0klmnop", 16);
}

static void test_advance_mid(void **state)
{
	struct fix f;
	struct iovec *iov;
	unsigned int nr = 4;

	(void)state;
	fix_init(&f);
	iov = f.iov;
	iov_advance(&iov, &nr, 5);
	/* Past iov[0] (3) and the empty iov[1], 2 bytes into iov[2]. */
	assert_ptr_equal(iov, &f.iov[2]);
	assert_int_equal(nr, 2);
	assert_ptr_equal(iov[0].iov_base, f.back + 5);
	assert_int_equal(iov[0].iov_len, 5);
	assert_int_equal(iov[1].iov_len, 6);
}

static void test_advance_boundary(void **state)
{
	struct fix f;
	struct iovec *iov;
	unsigned int nr = 4;

	(void)state;
	fix_init(&f);
	iov = f.iov;
	/* Exactly one iovec: the empty one after it is dropped too. */
	iov_advance(&iov, &nr, 3);
	assert_ptr_equal(iov, &f.iov[2]);
	assert_int_equal(nr, 2);
	assert_ptr_equal(iov[0].iov_base, f.back + 3);
	assert_int_equal(iov[0].iov_len, 7);

	/* Zero bytes: nothing changes (iov[2] has data). */
	iov_advance(&iov, &nr, 0);
	assert_ptr_equal(iov, &f.iov[2]);
	assert_int_equal(nr, 2);
	assert_int_equal(iov[0].iov_len, 7);
}

static void test_advance_all(void **state)
{
	struct fix f;
	struct iovec *iov;
	unsigned int nr = 4;

	(void)state;
	fix_init(&f);
	iov = f.iov;
	iov_advance(&iov, &nr, 16);
	assert_int_equal(nr, 0);
	assert_ptr_equal(iov, &f.iov[4]);

	/* More than there is: stops with nothing left, touches nothing else. */
	fix_init(&f);
	iov = f.iov;
	nr = 4;
	iov_advance(&iov, &nr, 1000);
	assert_int_equal(nr, 0);
	assert_int_equal(f.iov[3].iov_len, 6);

	/* An empty list stays empty. */
	iov = f.iov;
	nr = 0;
	iov_advance(&iov, &nr, 5);
	assert_int_equal(nr, 0);
	assert_ptr_equal(iov, f.iov);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_buf_all),
		cmocka_unit_test(test_to_buf_skip_and_len),
		cmocka_unit_test(test_from_buf),
		cmocka_unit_test(test_memset),
		cmocka_unit_test(test_advance_mid),
		cmocka_unit_test(test_advance_boundary),
		cmocka_unit_test(test_advance_all),
	};

	return cmocka_run_group_tests_name("iov", tests, NULL, NULL);
}
