// SPDX-License-Identifier: GPL-2.0-or-later
/* The IOTLB cache shared by a device's queues, and each queue's view of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iotlb.h"
#include "util.h"

void iotlb_init(struct iotlb *tlb, iotlb_get_fd_fn get_fd, void *opaque)
{
	memset(tlb, 0, sizeof(*tlb));
	pthread_mutex_init(&tlb->lock, NULL);
	tlb->get_fd = get_fd;
	tlb->get_fd_opaque = opaque;
}

void iotlb_put(struct iotlb_region *r)
{
	if (!r)
		return;
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	munmap(r->host, r->map_bytes);
	free(r);
}

static struct iotlb_region *get_ref(struct iotlb_region *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
	return r;
}

static bool contains(const struct iotlb_region *r, uint64_t iova)
{
	return iova >= r->start && iova <= r->last;
}

/* Fetch and map the region of @iova; called with tlb->lock held. */
static struct iotlb_region *map_region(struct iotlb *tlb, uint64_t iova, int *ret_err)
{
	uint64_t offset, start, last, len;
	unsigned int perm;
	struct iotlb_region *r;
	int fd, prot = 0;
	void *p;

	*ret_err = tlb->get_fd(tlb->get_fd_opaque, iova, &fd, &offset, &start, &last, &perm);
	if (*ret_err < 0)
		return NULL;
	if (last < start || start > iova || last < iova || last - start == UINT64_MAX ||
	    last - start + 1 > SIZE_MAX) {
		close(fd);
		*ret_err = -EINVAL;
		return NULL;
	}
	len = last - start + 1;
	if (perm & MEM_READ)
		prot |= PROT_READ;
	if (perm & MEM_WRITE)
		prot |= PROT_WRITE;
	p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)offset);
	close(fd);
	if (p == MAP_FAILED) {
		*ret_err = -errno;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(p, len);
		*ret_err = -ENOMEM;
		return NULL;
	}
	*r = (struct iotlb_region){
		.start = start, .last = last, .perm = perm, .host = p, .map_bytes = len, .refs = 1,
	};
	tlb->nr_maps++;
	return r;
}

struct iotlb_region *iotlb_get(struct iotlb *tlb, uint64_t iova, int *ret_err)
{
	struct iotlb_region *r = NULL;

	*ret_err = 0;
	pthread_mutex_lock(&tlb->lock);
	for (unsigned int i = 0; i < tlb->nr_regions; i++) {
		if (contains(tlb->regions[i], iova)) {
			r = get_ref(tlb->regions[i]);
			goto out;
		}
	}
	if (tlb->nr_regions == IOTLB_MAX_REGIONS) {
		*ret_err = -ENOSPC;
		goto out;
	}
	r = map_region(tlb, iova, ret_err);
	if (r)
		tlb->regions[tlb->nr_regions++] = get_ref(r);
out:
	pthread_mutex_unlock(&tlb->lock);
	return r;
}

void iotlb_invalidate(struct iotlb *tlb, uint64_t start, uint64_t last)
{
	unsigned int i = 0;

	pthread_mutex_lock(&tlb->lock);
	while (i < tlb->nr_regions) {
		struct iotlb_region *r = tlb->regions[i];

		if (r->last < start || r->start > last) {
			i++;
			continue;
		}
		tlb->regions[i] = tlb->regions[--tlb->nr_regions];
		iotlb_put(r);
	}
	__atomic_add_fetch(&tlb->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tlb->lock);
}

void iotlb_exit(struct iotlb *tlb)
{
	iotlb_invalidate(tlb, 0, UINT64_MAX);
	pthread_mutex_destroy(&tlb->lock);
}

/* --- per-queue view ------------------------------------------------------- */

static void view_release_retired(struct iotlb_view *v)
{
	while (v->nr_retired)
		iotlb_put(v->retired[--v->nr_retired]);
}

static void view_retire(struct iotlb_view *v, struct iotlb_region *r)
{
	struct iotlb_region **grown;

	if (v->nr_held == 0) {
		iotlb_put(r);
		return;
	}
	/* Requests in flight may still use it: unmap when they are done. */
	if (v->nr_retired == v->max_retired) {
		unsigned int max = v->max_retired ? 2 * v->max_retired : 8;

		grown = realloc(v->retired, max * sizeof(*grown));
		if (!grown) {
			/* Cannot defer: keep the mapping for the queue's life. */
			if (v->nr_leaked < ARRAY_SIZE(v->leaked))
				v->leaked[v->nr_leaked++] = r;
			return;
		}
		v->retired = grown;
		v->max_retired = max;
	}
	v->retired[v->nr_retired++] = r;
}

static void view_sync(struct iotlb_view *v)
{
	uint32_t gen = __atomic_load_n(&v->tlb->gen, __ATOMIC_ACQUIRE);

	if (gen == v->gen)
		return;
	v->gen = gen;
	while (v->nr_cache)
		view_retire(v, v->cache[--v->nr_cache]);
}

static void *view_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);
	struct iotlb_region *r = NULL;
	int err;

	view_sync(v);
	for (unsigned int i = 0; i < v->nr_cache; i++) {
		if (contains(v->cache[i], iova)) {
			r = v->cache[i];
			break;
		}
	}
	if (!r) {
		r = iotlb_get(v->tlb, iova, &err);
		if (!r)
			return NULL;
		if (v->nr_cache == IOTLB_VIEW_CACHE)
			view_retire(v, v->cache[--v->nr_cache]);
		v->cache[v->nr_cache++] = r;
	}
	if ((r->perm & perm) != perm)
		return NULL;
	*ret_len = r->last - iova + 1;
	return r->host + (iova - r->start);
}

static uint32_t view_hold(struct mem *m)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);

	v->nr_held++;
	return 0;
}

static void view_release(struct mem *m, uint32_t token)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);

	(void)token;
	if (--v->nr_held == 0)
		view_release_retired(v);
}

static uint32_t view_generation(struct mem *m)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);

	return __atomic_load_n(&v->tlb->gen, __ATOMIC_ACQUIRE);
}

static void view_unpin(struct iotlb_view *v)
{
	while (v->nr_pinned)
		iotlb_put(v->pinned[--v->nr_pinned]);
}

static int view_pin(struct mem *m, const uint64_t *iovas, unsigned int nr)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);
	struct iotlb_region *got[ARRAY_SIZE(v->pinned)];
	int err = 0;

	if (nr > ARRAY_SIZE(v->pinned))
		return -E2BIG;
	for (unsigned int i = 0; i < nr; i++) {
		got[i] = iotlb_get(v->tlb, iovas[i], &err);
		if (!got[i]) {
			while (i)
				iotlb_put(got[--i]);
			view_unpin(v);
			return -EFAULT;
		}
	}
	/* New pins first, then the old ones go: a region in both stays mapped. */
	view_unpin(v);
	memcpy(v->pinned, got, nr * sizeof(got[0]));
	v->nr_pinned = nr;
	return 0;
}

static const struct mem_ops iotlb_view_ops = {
	.lookup = view_lookup,
	.hold = view_hold,
	.release = view_release,
	.generation = view_generation,
	.pin = view_pin,
};

void iotlb_view_init(struct iotlb_view *v, struct iotlb *tlb)
{
	memset(v, 0, sizeof(*v));
	v->mem.ops = &iotlb_view_ops;
	v->tlb = tlb;
	v->gen = __atomic_load_n(&tlb->gen, __ATOMIC_ACQUIRE);
}

void iotlb_view_exit(struct iotlb_view *v)
{
	if (!v || !v->tlb)
		return;
	while (v->nr_cache)
		iotlb_put(v->cache[--v->nr_cache]);
	view_release_retired(v);
	free(v->retired);
	v->retired = NULL;
	v->max_retired = 0;
	while (v->nr_leaked)
		iotlb_put(v->leaked[--v->nr_leaked]);
	view_unpin(v);
	v->tlb = NULL;
}
