// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IOTLB cache: lazy mapping, permissions, sharing between views,
 * invalidation, and unmapping deferred until requests in flight end.
 * A fake VDUSE_IOTLB_GET_FD hands out ranges of a memfd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "iotlb.h"

#define PAGE 4096u

struct fake_map {
	uint64_t start, last, offset;
	unsigned int perm;
};

struct fake {
	int memfd;
	struct fake_map maps[4];
	unsigned int nr_maps;
	unsigned int nr_calls;
};

static int fake_get_fd(void *opaque, uint64_t iova, int *ret_fd, uint64_t *ret_offset,
		       uint64_t *ret_start, uint64_t *ret_last, unsigned int *ret_perm)
{
	struct fake *f = opaque;

	f->nr_calls++;
	for (unsigned int i = 0; i < f->nr_maps; i++) {
		struct fake_map *m = &f->maps[i];

		if (iova < m->start || iova > m->last)
			continue;
		*ret_fd = dup(f->memfd);
		*ret_offset = m->offset;
		*ret_start = m->start;
		*ret_last = m->last;
		*ret_perm = m->perm;
		return 0;
	}
	return -EINVAL;   /* what the kernel answers for an unmapped IOVA */
}

static struct fake fk;
static struct iotlb tlb;

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.memfd = memfd_create("iotlb-test", 0);
	if (fk.memfd < 0 || ftruncate(fk.memfd, 16 * PAGE) < 0)
		return -1;
	fk.maps[0] = (struct fake_map){ 0x10000, 0x10000 + 4 * PAGE - 1, 0, MEM_READ | MEM_WRITE };
	fk.maps[1] = (struct fake_map){ 0x40000, 0x40000 + 2 * PAGE - 1, 8 * PAGE, MEM_READ };
	fk.nr_maps = 2;
	iotlb_init(&tlb, fake_get_fd, &fk);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	iotlb_exit(&tlb);
	close(fk.memfd);
	return 0;
}

static bool is_mapped(void *p)
{
	void *page = (void *)((uintptr_t)p & ~(uintptr_t)(PAGE - 1));

	return msync(page, PAGE, MS_ASYNC) == 0 || errno != ENOMEM;
}

static void test_lookup_maps_lazily_and_writes_reach_the_file(void **state)
{
	struct iotlb_view v;
	uint64_t len;
	char buf[4];
	uint8_t *p;

	(void)state;
	iotlb_view_init(&v, &tlb);
	assert_int_equal(tlb.nr_maps, 0);
	p = v.mem.ops->lookup(&v.mem, 0x10000 + 100, MEM_WRITE, &len);
	assert_non_null(p);
	assert_int_equal(len, 4 * PAGE - 100);
	memcpy(p, "abcd", 4);
	assert_int_equal(pread(fk.memfd, buf, 4, 100), 4);
	assert_memory_equal(buf, "abcd", 4);
	/* Second lookup in the same region: cached, no new GET_FD. */
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000 + 3 * PAGE, MEM_READ, &len));
	assert_int_equal(fk.nr_calls, 1);
	assert_int_equal(tlb.nr_maps, 1);
	iotlb_view_exit(&v);
}

static void test_permission_and_unmapped(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	iotlb_view_init(&v, &tlb);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len));
	assert_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_WRITE, &len));
	assert_null(v.mem.ops->lookup(&v.mem, 0x90000, MEM_READ, &len));
	assert_null(v.mem.ops->lookup(&v.mem, 0x10000 + 4 * PAGE, MEM_READ, &len));
	iotlb_view_exit(&v);
}

static void test_views_share_one_mapping(void **state)
{
	struct iotlb_view a, b;
	uint64_t len;
	void *pa, *pb;

	(void)state;
	iotlb_view_init(&a, &tlb);
	iotlb_view_init(&b, &tlb);
	pa = a.mem.ops->lookup(&a.mem, 0x10000, MEM_READ, &len);
	pb = b.mem.ops->lookup(&b.mem, 0x10000, MEM_READ, &len);
	assert_ptr_equal(pa, pb);
	assert_int_equal(tlb.nr_maps, 1);
	iotlb_view_exit(&a);
	iotlb_view_exit(&b);
}

static void test_invalidate_refetches_new_mapping(void **state)
{
	struct iotlb_view v;
	uint64_t len;
	uint8_t *p;

	(void)state;
	assert_int_equal(pwrite(fk.memfd, "OLD", 3, 0), 3);
	assert_int_equal(pwrite(fk.memfd, "NEW", 3, 12 * PAGE), 3);
	iotlb_view_init(&v, &tlb);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len);
	assert_memory_equal(p, "OLD", 3);
	/* The driver remaps the range elsewhere, then the kernel tells us. */
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0x10000, 0x10000);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len);
	assert_memory_equal(p, "NEW", 3);
	assert_int_equal(tlb.nr_maps, 2);
	iotlb_view_exit(&v);
}

static void test_invalidate_outside_keeps_mapping(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	iotlb_view_init(&v, &tlb);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len));
	iotlb_invalidate(&tlb, 0x40000, 0x40fff);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len));
	assert_int_equal(tlb.nr_regions, 1);
	/* The view retired its cache on the generation change, refetch is shared. */
	assert_int_equal(tlb.nr_maps, 1);
	iotlb_view_exit(&v);
}

static void test_unmap_waits_for_requests_in_flight(void **state)
{
	struct iotlb_view v;
	uint64_t len;
	uint32_t token;
	uint8_t *old;

	(void)state;
	iotlb_view_init(&v, &tlb);
	token = v.mem.ops->hold(&v.mem);
	old = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len);
	assert_non_null(old);
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	/* The next lookup retires the old region; the request still uses it. */
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len));
	assert_true(is_mapped(old));
	old[0] = 1;
	v.mem.ops->release(&v.mem, token);
	assert_false(is_mapped(old));
	iotlb_view_exit(&v);
}

static void test_pinned_rings_survive_invalidation(void **state)
{
	struct iotlb_view v;
	uint64_t len;
	uint8_t *ring;

	(void)state;
	uint64_t iova = 0x10000;
	uint32_t gen;

	iotlb_view_init(&v, &tlb);
	assert_int_equal(v.mem.ops->pin(&v.mem, &iova, 1), 0);
	ring = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len);
	gen = v.mem.ops->generation(&v.mem);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_not_equal(v.mem.ops->generation(&v.mem), gen);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len));
	assert_true(is_mapped(ring));
	iotlb_view_exit(&v);
	assert_false(is_mapped(ring));
}

static void test_repin_moves_rings_to_new_mapping(void **state)
{
	struct iotlb_view v;
	uint64_t len, iova = 0x10000;
	uint8_t *old, *new;

	(void)state;
	assert_int_equal(pwrite(fk.memfd, "NEW", 3, 12 * PAGE), 3);
	iotlb_view_init(&v, &tlb);
	assert_int_equal(v.mem.ops->pin(&v.mem, &iova, 1), 0);
	old = v.mem.ops->lookup(&v.mem, iova, MEM_READ, &len);
	/* The driver takes the memory away: the ring cannot be pinned, the old pin goes. */
	fk.nr_maps = 0;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(v.mem.ops->pin(&v.mem, &iova, 1), -EFAULT);
	assert_int_equal(v.nr_pinned, 0);
	/* ...then maps new memory at the same IOVA: pinning again finds it. */
	fk.nr_maps = 2;
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(v.mem.ops->pin(&v.mem, &iova, 1), 0);
	new = v.mem.ops->lookup(&v.mem, iova, MEM_READ, &len);
	assert_memory_equal(new, "NEW", 3);
	assert_false(is_mapped(old));
	iotlb_view_exit(&v);
}

static void test_pin_unmapped_fails(void **state)
{
	struct iotlb_view v;

	(void)state;
	uint64_t iova = 0x900000;

	iotlb_view_init(&v, &tlb);
	assert_int_equal(v.mem.ops->pin(&v.mem, &iova, 1), -EFAULT);
	iotlb_view_exit(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_maps_lazily_and_writes_reach_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_and_unmapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views_share_one_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate_refetches_new_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate_outside_keeps_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_waits_for_requests_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pinned_rings_survive_invalidation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_unmapped_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repin_moves_rings_to_new_mapping, setup, teardown),
	};

	return cmocka_run_group_tests_name("iotlb", tests, NULL, NULL);
}
