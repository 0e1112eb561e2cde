// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IOTLB cache: lazy mapping, permissions, sharing between views,
 * invalidation, and unmapping deferred until requests in flight end.
 * A fake VDUSE_IOTLB_GET_FD hands out ranges of a memfd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vduse/iotlb.h"
#include "vduse/umem.h"

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
	int fail_with;           /* an error of the device's own to return, or 0 */
	bool is_paged;           /* every page its own region (like rings under virtio-vdpa) */
};

static int fake_get_fd(void *opaque, uint64_t iova, int *ret_fd, uint64_t *ret_offset,
		       uint64_t *ret_start, uint64_t *ret_last, unsigned int *ret_perm)
{
	struct fake *f = opaque;

	f->nr_calls++;
	if (f->fail_with)
		return f->fail_with;
	if (f->is_paged) {
		*ret_fd = dup(f->memfd);
		*ret_start = iova & ~(uint64_t)(PAGE - 1);
		*ret_last = *ret_start + PAGE - 1;
		*ret_offset = 0;
		*ret_perm = MEM_READ | MEM_WRITE;
		return 0;
	}
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
static int err;

static void view_init(struct iotlb_view *v)
{
	assert_int_equal(iotlb_view_init(v, &tlb, 8), 0);
}

/* Pin one range of @len bytes at @iova; its host address in *ret_host. */
static int pin1(struct iotlb_view *v, uint64_t iova, uint64_t len, void **ret_host)
{
	const struct mem_range r = { iova, len, MEM_READ };
	void *host;

	return v->mem.ops->pin(&v->mem, &r, 1, ret_host ? ret_host : &host);
}

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

/* Live mappings of the fake's memfd: what a leak of retired regions shows as. */
static unsigned int nr_mappings(void)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:iotlb-test"))
			n++;
	fclose(f);
	return n;
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
	view_init(&v);
	assert_int_equal(tlb.nr_maps, 0);
	p = v.mem.ops->lookup(&v.mem, 0x10000 + 100, MEM_WRITE, &len, &err);
	assert_non_null(p);
	assert_int_equal(len, 4 * PAGE - 100);
	memcpy(p, "abcd", 4);
	assert_int_equal(pread(fk.memfd, buf, 4, 100), 4);
	assert_memory_equal(buf, "abcd", 4);
	/* Second lookup in the same region: cached, no new GET_FD. */
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000 + 3 * PAGE, MEM_READ, &len, &err));
	assert_int_equal(fk.nr_calls, 1);
	assert_int_equal(tlb.nr_maps, 1);
	iotlb_view_exit(&v);
}

static void test_permission_and_unmapped(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	view_init(&v);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len, &err));
	assert_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_WRITE, &len, &err));
	assert_int_equal(err, -EFAULT);
	assert_null(v.mem.ops->lookup(&v.mem, 0x90000, MEM_READ, &len, &err));
	assert_int_equal(err, -EFAULT);   /* not mapped by the driver: its fault */
	assert_null(v.mem.ops->lookup(&v.mem, 0x10000 + 4 * PAGE, MEM_READ, &len, &err));
	iotlb_view_exit(&v);
}

static void test_views_share_one_mapping(void **state)
{
	struct iotlb_view a, b;
	uint64_t len;
	void *pa, *pb;

	(void)state;
	view_init(&a);
	view_init(&b);
	pa = a.mem.ops->lookup(&a.mem, 0x10000, MEM_READ, &len, &err);
	pb = b.mem.ops->lookup(&b.mem, 0x10000, MEM_READ, &len, &err);
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
	view_init(&v);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err);
	assert_memory_equal(p, "OLD", 3);
	/* The driver remaps the range elsewhere, then the kernel tells us. */
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0x10000, 0x10000);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err);
	assert_memory_equal(p, "NEW", 3);
	assert_int_equal(tlb.nr_maps, 2);
	iotlb_view_exit(&v);
}

static void test_invalidate_outside_keeps_mapping(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	view_init(&v);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err));
	iotlb_invalidate(&tlb, 0x40000, 0x40fff);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err));
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
	view_init(&v);
	token = v.mem.ops->hold(&v.mem);
	old = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);
	assert_non_null(old);
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	/* The next lookup retires the old region; the request still uses it. */
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err));
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

	view_init(&v);
	assert_int_equal(pin1(&v, iova, 16, NULL), 0);
	ring = v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err);
	gen = v.mem.ops->generation(&v.mem);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_not_equal(v.mem.ops->generation(&v.mem), gen);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len, &err));
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
	view_init(&v);
	assert_int_equal(pin1(&v, iova, 16, NULL), 0);
	old = v.mem.ops->lookup(&v.mem, iova, MEM_READ, &len, &err);
	/* The driver takes the memory away: the ring cannot be pinned, the old pin goes. */
	fk.nr_maps = 0;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(pin1(&v, iova, 16, NULL), -EFAULT);
	assert_int_equal(v.nr_pinned, 0);
	/* ...then maps new memory at the same IOVA: pinning again finds it. */
	fk.nr_maps = 2;
	fk.maps[0].offset = 12 * PAGE;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(pin1(&v, iova, 16, NULL), 0);
	new = v.mem.ops->lookup(&v.mem, iova, MEM_READ, &len, &err);
	assert_memory_equal(new, "NEW", 3);
	assert_false(is_mapped(old));
	iotlb_view_exit(&v);
}

static void test_pin_unmapped_fails(void **state)
{
	struct iotlb_view v;

	(void)state;
	uint64_t iova = 0x900000;

	view_init(&v);
	assert_int_equal(pin1(&v, iova, 16, NULL), -EFAULT);
	iotlb_view_exit(&v);
}

/* A failure of the device's own is not reported as the driver's -EFAULT. */
static void test_device_failure_is_not_efault(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	view_init(&v);
	fk.fail_with = -EMFILE;
	assert_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_READ, &len, &err));
	assert_int_equal(err, -EMFILE);
	fk.fail_with = 0;
	iotlb_view_exit(&v);
}

/*
 * Defect 3: more regions than the old fixed table (64).  Under virtio-vdpa
 * every ring is its own IOTLB entry: 64 queues took every slot and no data
 * buffer could be mapped.
 */
static void test_many_regions(void **state)
{
	struct iotlb_view v;
	uint64_t len;

	(void)state;
	fk.is_paged = true;
	view_init(&v);
	for (unsigned int i = 0; i < 200; i++) {
		void *host;

		assert_int_equal(pin1(&v, 0x100000 + (uint64_t)i * PAGE, 64, &host), 0);
		/* Keep a reference like a queue's pinned rings do. */
		assert_non_null(iotlb_get(&tlb, 0x100000 + (uint64_t)i * PAGE, &err));
	}
	assert_int_equal(tlb.nr_regions, 200);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x900000, MEM_WRITE, &len, &err));
	/* Drop the extra references taken above. */
	for (unsigned int i = 0; i < 200; i++)
		iotlb_put(tlb.regions[i]);
	iotlb_view_exit(&v);
	fk.is_paged = false;
}

/*
 * Defect 4: requests that overlap (one always in flight) while the driver
 * remaps over and over.  Each retired mapping must go as soon as the holds
 * that could use it end, not wait for an idle moment that never comes.
 */
static void test_retired_unmapped_under_overlapping_holds(void **state)
{
	struct iotlb_view v;
	uint8_t *old[1000];
	uint32_t prev;
	uint64_t len;

	(void)state;
	view_init(&v);
	prev = v.mem.ops->hold(&v.mem);
	for (unsigned int i = 0; i < 1000; i++) {
		uint32_t token = v.mem.ops->hold(&v.mem);

		old[i] = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);
		assert_non_null(old[i]);
		old[i][0] = (uint8_t)i;
		iotlb_invalidate(&tlb, 0, UINT64_MAX);
		/* The previous request ends; this one is still in flight. */
		v.mem.ops->release(&v.mem, prev);
		prev = token;
		assert_true(iotlb_view_nr_retired(&v) <= 2);
		assert_true(nr_mappings() <= 2);
	}
	/* The request still in flight can write where it was told to. */
	assert_true(is_mapped(old[999]));
	old[999][1] = 1;
	v.mem.ops->release(&v.mem, prev);
	assert_int_equal(iotlb_view_nr_retired(&v), 0);
	assert_true(nr_mappings() <= 1);
	iotlb_view_exit(&v);
}

/* A retired region stays while any hold stamped before its retirement lives. */
static void test_old_hold_keeps_region_newer_does_not(void **state)
{
	struct iotlb_view v;
	uint32_t t_old, t_new;
	uint8_t *a, *b;
	uint64_t len;

	(void)state;
	view_init(&v);
	t_old = v.mem.ops->hold(&v.mem);
	a = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	b = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);   /* retires a */
	t_new = v.mem.ops->hold(&v.mem);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len, &err));  /* retires b */
	/* The newer request ends first: a is still needed by the old one, b too. */
	v.mem.ops->release(&v.mem, t_new);
	assert_true(is_mapped(a));
	assert_true(is_mapped(b));
	v.mem.ops->release(&v.mem, t_old);
	assert_false(is_mapped(a));
	assert_false(is_mapped(b));
	iotlb_view_exit(&v);
}

/* An evicted region is retired like an invalidated one: a request may point into it. */
static void test_eviction_waits_for_holds(void **state)
{
	struct iotlb_view v;
	uint8_t *first;
	uint32_t token;
	uint64_t len;

	(void)state;
	fk.is_paged = true;
	view_init(&v);
	token = v.mem.ops->hold(&v.mem);
	first = v.mem.ops->lookup(&v.mem, 0x100000, MEM_WRITE, &len, &err);
	for (unsigned int i = 1; i <= 2 * IOTLB_VIEW_CACHE; i++)
		assert_non_null(v.mem.ops->lookup(&v.mem, 0x100000 + (uint64_t)i * PAGE,
						  MEM_WRITE, &len, &err));
	/* The driver unmaps the first page: only the request's hold keeps it now. */
	iotlb_invalidate(&tlb, 0x100000, 0x100fff);
	assert_true(is_mapped(first));
	first[0] = 1;
	v.mem.ops->release(&v.mem, token);
	assert_false(is_mapped(first));
	iotlb_view_exit(&v);
	fk.is_paged = false;
}

/*
 * A request stuck in the backend (sealed: its chain is translated) keeps the
 * mapping its chain used, and only that one, however often the driver remaps.
 */
static void test_stuck_request_keeps_only_its_mapping(void **state)
{
	struct iotlb_view v;
	uint32_t stuck;
	uint8_t *p;
	uint64_t len;

	(void)state;
	view_init(&v);
	stuck = v.mem.ops->hold(&v.mem);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);
	v.mem.ops->seal(&v.mem, stuck);
	for (unsigned int i = 0; i < 500; i++) {
		uint32_t t = v.mem.ops->hold(&v.mem);

		iotlb_invalidate(&tlb, 0, UINT64_MAX);
		assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err));
		v.mem.ops->seal(&v.mem, t);
		v.mem.ops->release(&v.mem, t);
		assert_true(iotlb_view_nr_retired(&v) <= 1);
		assert_true(nr_mappings() <= 2);
	}
	assert_true(is_mapped(p));
	p[0] = 1;
	v.mem.ops->release(&v.mem, stuck);
	assert_int_equal(iotlb_view_nr_retired(&v), 0);
	iotlb_view_exit(&v);
}

/* Defect 2: the ring pointer is the pinned region's, even when an update lands between. */
static void test_pin_returns_pinned_mapping(void **state)
{
	struct iotlb_view v;
	void *host;

	(void)state;
	view_init(&v);
	assert_int_equal(pin1(&v, 0x10000 + 64, 128, &host), 0);
	assert_int_equal(v.nr_pinned, 1);
	assert_ptr_equal(host, v.pinned[0]->host + 64);
	/* The mapping is gone from the IOTLB; the pinned pointer stays usable. */
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_true(is_mapped(host));
	/* A range longer than its region, or without the permission, is refused. */
	assert_int_equal(pin1(&v, 0x10000 + 4 * PAGE - 8, 16, NULL), -EFAULT);
	iotlb_view_exit(&v);
	assert_false(is_mapped(host));
}

/* --- ranges served from memory of the daemon's own (iotlb_adopt_fn) ------- */

struct own {
	struct iotlb_backing backing;
	uint8_t *host;
	unsigned int nr_released, nr_detached, nr_offered;
	uint64_t start;                /* the range it takes */
};

static void own_release(struct iotlb_backing *b)
{
	struct own *o = (struct own *)b;

	o->nr_released++;
}

static int own_detach(struct iotlb_backing *b)
{
	((struct own *)b)->nr_detached++;
	return 0;
}

static int own_adopt(void *opaque, uint64_t start, uint64_t last, unsigned int perm,
		     uint8_t **ret_host, struct iotlb_backing **ret_backing)
{
	struct own *o = opaque;

	(void)last;
	(void)perm;
	o->nr_offered++;
	if (start != o->start)
		return 0;
	*ret_host = o->host;
	*ret_backing = iotlb_backing_get(&o->backing);
	return 1;
}

static void own_init(struct own *o, uint64_t start)
{
	static uint8_t mem[4 * PAGE] __attribute__((aligned(4096)));

	memset(mem, 0, sizeof(mem));
	*o = (struct own){ .host = mem, .start = start };
	o->backing = (struct iotlb_backing){ .refs = 1, .release = own_release,
					     .detach = own_detach };
	iotlb_set_adopt(&tlb, own_adopt, o);
}

/*
 * The range the adopter takes is served from its memory, not mapped from the
 * fd; the others are mapped as before.  Every range is offered once.
 */
static void test_adopted_range_uses_own_memory(void **state)
{
	unsigned int maps_before = nr_mappings();
	struct iotlb_view v;
	struct own o;
	uint64_t len;
	char buf[4];
	uint8_t *p;

	(void)state;
	own_init(&o, 0x10000);
	view_init(&v);
	p = v.mem.ops->lookup(&v.mem, 0x10000 + 100, MEM_WRITE, &len, &err);
	assert_ptr_equal(p, o.host + 100);
	assert_int_equal(len, 4 * PAGE - 100);
	memcpy(p, "abcd", 4);
	assert_int_equal(pread(fk.memfd, buf, 4, 100), 4);
	assert_memory_not_equal(buf, "abcd", 4);
	assert_int_equal(nr_mappings(), maps_before);
	/* The read-only range is not taken: mapped from the fd. */
	p = v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len, &err);
	assert_non_null(p);
	assert_true(p < o.host || p >= o.host + 4 * PAGE);
	assert_int_equal(nr_mappings(), maps_before + 1);
	assert_int_equal(o.nr_offered, 2);
	assert_int_equal(fk.nr_calls, 2);
	iotlb_view_exit(&v);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(o.nr_released, 0);   /* the adopter's own reference */
	iotlb_backing_put(&o.backing);
	assert_int_equal(o.nr_released, 1);
}

/* The memory outlives invalidation while a request in flight may use it; released once. */
static void test_adopted_memory_released_after_last_user(void **state)
{
	struct iotlb_view v;
	struct own o;
	uint32_t t;
	uint64_t len;

	(void)state;
	own_init(&o, 0x10000);
	view_init(&v);
	t = v.mem.ops->hold(&v.mem);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err));
	v.mem.ops->seal(&v.mem, t);
	iotlb_backing_put(&o.backing);            /* the adopter lets go first */
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_non_null(v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err));
	assert_int_equal(o.nr_released, 0);
	v.mem.ops->release(&v.mem, t);            /* the retired region goes */
	assert_int_equal(o.nr_released, 0);       /* the new one still holds it */
	iotlb_view_exit(&v);
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(o.nr_released, 1);
}

/*
 * An abandoned queue's view is detached: mappings of the fd are replaced by
 * private memory, own memory is detached by its owner (not replaced).
 */
static void test_detach_hands_own_memory_to_its_owner(void **state)
{
	struct iotlb_view v;
	struct own o;
	uint64_t len;
	uint8_t *p, *q;

	(void)state;
	own_init(&o, 0x10000);
	view_init(&v);
	p = v.mem.ops->lookup(&v.mem, 0x10000, MEM_WRITE, &len, &err);
	q = v.mem.ops->lookup(&v.mem, 0x40000, MEM_READ, &len, &err);
	assert_non_null(q);
	p[0] = 7;
	iotlb_invalidate(&tlb, 0, UINT64_MAX);
	assert_int_equal(iotlb_view_detach(&v), 0);
	assert_int_equal(o.nr_detached, 1);
	assert_int_equal(p[0], 7);                /* still the adopter's memory */
	assert_true(is_mapped(q));                /* private memory now */
	iotlb_view_exit(&v);
	iotlb_backing_put(&o.backing);
	assert_int_equal(o.nr_released, 1);
}

/*
 * The VDUSE adopter: not wanted (no --direct), it asks nothing; where the
 * kernel has no such ioctl (here a memfd, ENOTTY), it is refused for good and
 * the ranges are mapped from the kernel.
 */
static void test_umem_refused_maps_from_kernel(void **state)
{
	struct iotlb_backing *b = NULL;
	struct vduse_umem u;
	uint8_t *host = NULL;

	(void)state;
	vduse_umem_init(&u, false);
	assert_int_equal(vduse_umem_adopt(&u, fk.memfd, 0, 16 * PAGE - 1, MEM_READ | MEM_WRITE,
					  &host, &b), 0);
	assert_false(u.is_refused);
	vduse_umem_exit(&u);
	vduse_umem_init(&u, true);
	assert_int_equal(vduse_umem_adopt(&u, fk.memfd, 0, 16 * PAGE - 1, MEM_READ | MEM_WRITE,
					  &host, &b), 0);
	assert_true(u.is_refused);
	assert_int_equal(u.last_err, -ENOTTY);
	assert_null(b);
	assert_null(u.buf);
	assert_int_equal(vduse_umem_adopt(&u, fk.memfd, 0, 16 * PAGE - 1, MEM_READ | MEM_WRITE,
					  &host, &b), 0);
	vduse_umem_exit(&u);
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
		cmocka_unit_test_setup_teardown(test_device_failure_is_not_efault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retired_unmapped_under_overlapping_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_hold_keeps_region_newer_does_not, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_waits_for_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_returns_pinned_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stuck_request_keeps_only_its_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopted_range_uses_own_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopted_memory_released_after_last_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_hands_own_memory_to_its_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_umem_refused_maps_from_kernel, setup, teardown),
	};

	return cmocka_run_group_tests_name("iotlb", tests, NULL, NULL);
}
