// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * struct mem helpers over the harness address space (hmem): ranges across
 * regions, permissions, wrap-around and full iovec lists.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hdrv.h"
#include "virtio/mem.h"

/*
 * IOVA layout:
 *   [0x1000, 0x2000)  A, RW     host a[]
 *   [0x2000, 0x3000)  B, RW     host b[] (adjacent IOVA, unrelated host memory)
 *   [0x3000, 0x4000)  unmapped
 *   [0x4000, 0x5000)  R, read-only   host r[]
 *   [0x5000, 0x6000)  W, write-only  host w[]
 * and, for wrap-around, the last page of the 64-bit space and the first:
 *   [2^64 - 4096, 2^64) host top[],  [0, 0x1000) host bottom[]
 */
static uint8_t a[4096], b[4096], r[4096], w[4096], top[4096], bottom[4096];
static struct hmem hm;

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 4096; i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(i + 100);
		r[i] = (uint8_t)(i + 7);
		w[i] = 0;
	}
	hmem_init(&hm);
	hmem_add(&hm, 0x1000, 4096, MEM_READ | MEM_WRITE, a);
	hmem_add(&hm, 0x2000, 4096, MEM_READ | MEM_WRITE, b);
	hmem_add(&hm, 0x4000, 4096, MEM_READ, r);
	hmem_add(&hm, 0x5000, 4096, MEM_WRITE, w);
	hmem_add(&hm, UINT64_MAX - 4095, 4096, MEM_READ | MEM_WRITE, top);
	hmem_add(&hm, 0, 4096, MEM_READ | MEM_WRITE, bottom);
	return 0;
}

static void test_to_iov_one_region(void **state)
{
	struct iovec iov[4];
	unsigned int nr = 0;

	(void)state;
	assert_int_equal(mem_to_iov(&hm.mem, 0x1010, 100, MEM_READ, iov, &nr, 4), 0);
	assert_int_equal(nr, 1);
	assert_ptr_equal(iov[0].iov_base, a + 0x10);
	assert_int_equal(iov[0].iov_len, 100);
	/* The last byte of a region. */
	assert_int_equal(mem_to_iov(&hm.mem, 0x1fff, 1, MEM_WRITE, iov, &nr, 4), 0);
	assert_int_equal(nr, 2);
	assert_ptr_equal(iov[1].iov_base, a + 4095);
}

static void test_to_iov_across_regions(void **state)
{
	struct iovec iov[4] = { { NULL, 0 } };
	unsigned int nr = 1;   /* appends after what is there */

	(void)state;
	assert_int_equal(mem_to_iov(&hm.mem, 0x1f00, 0x200, MEM_READ | MEM_WRITE, iov, &nr, 4), 0);
	assert_int_equal(nr, 3);
	assert_ptr_equal(iov[1].iov_base, a + 0xf00);
	assert_int_equal(iov[1].iov_len, 0x100);
	assert_ptr_equal(iov[2].iov_base, b);
	assert_int_equal(iov[2].iov_len, 0x100);
}

static void test_to_iov_zero_len(void **state)
{
	struct iovec iov[1];
	unsigned int nr = 0;

	(void)state;
	/* Nothing to map: fine anywhere, even unmapped, and with a full list. */
	assert_int_equal(mem_to_iov(&hm.mem, 0x3000, 0, MEM_READ, iov, &nr, 1), 0);
	assert_int_equal(nr, 0);
	nr = 1;
	assert_int_equal(mem_to_iov(&hm.mem, 0x1000, 0, MEM_READ, iov, &nr, 1), 0);
	assert_int_equal(nr, 1);
}

static void test_to_iov_faults(void **state)
{
	struct iovec iov[4];
	unsigned int nr = 0;

	(void)state;
	/* Unmapped, partly unmapped (runs from B into the hole). */
	assert_int_equal(mem_to_iov(&hm.mem, 0x3000, 1, MEM_READ, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_to_iov(&hm.mem, 0x2f00, 0x200, MEM_READ, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_to_iov(&hm.mem, 0x8000, 16, MEM_READ, iov, &nr, 4), -EFAULT);
	/* Permissions. */
	assert_int_equal(mem_to_iov(&hm.mem, 0x4000, 16, MEM_WRITE, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_to_iov(&hm.mem, 0x4000, 16, MEM_READ | MEM_WRITE, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_to_iov(&hm.mem, 0x5000, 16, MEM_READ, iov, &nr, 4), -EFAULT);
	/* Wrapping around 2^64, though both ends are mapped. */
	assert_int_equal(mem_to_iov(&hm.mem, UINT64_MAX - 10, 20, MEM_READ, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_to_iov(&hm.mem, 0x1000, UINT64_MAX, MEM_READ, iov, &nr, 4), -EFAULT);
	assert_int_equal(nr, 0);

	/* The allowed ones. */
	assert_int_equal(mem_to_iov(&hm.mem, 0x4000, 16, MEM_READ, iov, &nr, 4), 0);
	assert_int_equal(mem_to_iov(&hm.mem, 0x5000, 16, MEM_WRITE, iov, &nr, 4), 0);
	assert_int_equal(nr, 2);
	assert_ptr_equal(iov[0].iov_base, r);
	assert_ptr_equal(iov[1].iov_base, w);
}

static void test_to_iov_e2big(void **state)
{
	struct iovec iov[2];
	unsigned int nr = 0;

	(void)state;
	/* Two regions, room for one. */
	assert_int_equal(mem_to_iov(&hm.mem, 0x1f00, 0x200, MEM_READ, iov, &nr, 1), -E2BIG);
	assert_int_equal(nr, 0);
	/* A full list takes nothing more. */
	nr = 2;
	assert_int_equal(mem_to_iov(&hm.mem, 0x1000, 1, MEM_READ, iov, &nr, 2), -E2BIG);
	assert_int_equal(nr, 2);
	/* Exactly enough. */
	nr = 0;
	assert_int_equal(mem_to_iov(&hm.mem, 0x1f00, 0x200, MEM_READ, iov, &nr, 2), 0);
	assert_int_equal(nr, 2);
}

static void test_read(void **state)
{
	uint8_t out[0x300];

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(mem_read(&hm.mem, 0x1e00, out, 0x300), 0);
	assert_memory_equal(out, a + 0xe00, 0x200);
	assert_memory_equal(out + 0x200, b, 0x100);
	assert_int_equal(mem_read(&hm.mem, 0x4010, out, 16), 0);
	assert_memory_equal(out, r + 16, 16);
	assert_int_equal(mem_read(&hm.mem, 0x3000, out, 0), 0);

	memset(out, 0xee, sizeof(out));
	assert_int_equal(mem_read(&hm.mem, 0x2f00, out, 0x200), -EFAULT);
	assert_int_equal(mem_read(&hm.mem, 0x5000, out, 16), -EFAULT);
	assert_int_equal(mem_read(&hm.mem, UINT64_MAX - 3, out, 16), -EFAULT);
	assert_int_equal(mem_read(&hm.mem, UINT64_MAX - 15, out, 16), -EFAULT);   /* ends at 2^64 */
	assert_int_equal(mem_read(&hm.mem, UINT64_MAX - 16, out, 16), 0);
	assert_int_equal(out[0x1ff], 0xee);
}

static void test_map_contig(void **state)
{
	(void)state;
	assert_ptr_equal(mem_map_contig(&hm.mem, 0x1000, 4096, MEM_READ), a);
	assert_ptr_equal(mem_map_contig(&hm.mem, 0x1ff0, 16, MEM_WRITE), a + 0xff0);
	assert_ptr_equal(mem_map_contig(&hm.mem, 0x4000, 64, MEM_READ), r);
	/* Adjacent in IOVA space is not contiguous in host memory. */
	assert_null(mem_map_contig(&hm.mem, 0x1ff0, 32, MEM_READ));
	assert_null(mem_map_contig(&hm.mem, 0x1000, 4097, MEM_READ));
	assert_null(mem_map_contig(&hm.mem, 0x1000, 0, MEM_READ));
	assert_null(mem_map_contig(&hm.mem, 0x3000, 16, MEM_READ));
	assert_null(mem_map_contig(&hm.mem, 0x4000, 64, MEM_WRITE));
	assert_null(mem_map_contig(&hm.mem, 0x5000, 64, MEM_READ));
	assert_null(mem_map_contig(&hm.mem, UINT64_MAX - 1, 16, MEM_READ));
	/* The last byte of the 64-bit space can be mapped (len - 1 does not wrap). */
	assert_ptr_equal(mem_map_contig(&hm.mem, UINT64_MAX - 15, 16, MEM_READ), top + 4080);
}

/* A lookup that claims success with nothing behind it must not spin forever. */
static void *empty_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len,
			  int *ret_err)
{
	(void)m;
	(void)iova;
	(void)perm;
	(void)ret_err;
	*ret_len = 0;
	return a;
}

static void test_empty_mapping(void **state)
{
	static const struct mem_ops ops = { .lookup = empty_lookup };
	struct mem m = { .ops = &ops };
	struct iovec iov[4];
	unsigned int nr = 0;
	uint8_t out[4];

	(void)state;
	assert_int_equal(mem_to_iov(&m, 0x1000, 4, MEM_READ, iov, &nr, 4), -EFAULT);
	assert_int_equal(mem_read(&m, 0x1000, out, 4), -EFAULT);
	assert_null(mem_map_contig(&m, 0x1000, 4, MEM_READ));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_to_iov_one_region, setup),
		cmocka_unit_test_setup(test_to_iov_across_regions, setup),
		cmocka_unit_test_setup(test_to_iov_zero_len, setup),
		cmocka_unit_test_setup(test_to_iov_faults, setup),
		cmocka_unit_test_setup(test_to_iov_e2big, setup),
		cmocka_unit_test_setup(test_read, setup),
		cmocka_unit_test_setup(test_map_contig, setup),
		cmocka_unit_test_setup(test_empty_mapping, setup),
	};

	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
