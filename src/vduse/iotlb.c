// SPDX-License-Identifier: GPL-2.0-or-later
/* The IOTLB cache shared by a device's queues, and each queue's view of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vduse/iotlb.h"
#include "util.h"

void iotlb_init(struct iotlb *tlb, iotlb_get_fd_fn get_fd, void *opaque)
{
	memset(tlb, 0, sizeof(*tlb));
	pthread_mutex_init(&tlb->lock, NULL);
	tlb->get_fd = get_fd;
	tlb->get_fd_opaque = opaque;
}

void iotlb_set_adopt(struct iotlb *tlb, iotlb_adopt_fn adopt, void *opaque)
{
	pthread_mutex_lock(&tlb->lock);
	tlb->adopt = adopt;
	tlb->adopt_opaque = opaque;
	pthread_mutex_unlock(&tlb->lock);
}

struct iotlb_backing *iotlb_backing_get(struct iotlb_backing *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void iotlb_backing_put(struct iotlb_backing *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		b->release(b);
}

void iotlb_put(struct iotlb_region *r)
{
	if (!r)
		return;
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (r->backing)
		iotlb_backing_put(r->backing);
	else
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
	if (*ret_err == -EINVAL || *ret_err == -EFAULT)
		*ret_err = -EFAULT;      /* nothing mapped there: the driver's fault */
	if (*ret_err < 0)
		return NULL;
	if (last < start || start > iova || last < iova || last - start == UINT64_MAX ||
	    last - start + 1 > SIZE_MAX) {
		close(fd);
		*ret_err = -EIO;
		return NULL;
	}
	len = last - start + 1;
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		*ret_err = -ENOMEM;
		return NULL;
	}
	*r = (struct iotlb_region){ .start = start, .last = last, .perm = perm, .map_bytes = len,
				    .refs = 1 };
	if (tlb->adopt && tlb->adopt(tlb->adopt_opaque, start, last, perm, &r->host,
				     &r->backing) > 0) {
		close(fd);
		return r;
	}
	if (perm & MEM_READ)
		prot |= PROT_READ;
	if (perm & MEM_WRITE)
		prot |= PROT_WRITE;
	p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)offset);
	close(fd);
	if (p == MAP_FAILED) {
		free(r);
		*ret_err = -errno;
		return NULL;
	}
	r->host = p;
	tlb->nr_maps++;
	return r;
}

/* Room for one more region; called with tlb->lock held. */
static int reserve_region(struct iotlb *tlb)
{
	struct iotlb_region **grown;
	unsigned int max;

	if (tlb->nr_regions < tlb->max_regions)
		return 0;
	if (tlb->max_regions == IOTLB_MAX_REGIONS)
		return -ENOSPC;
	max = tlb->max_regions ? 2 * tlb->max_regions : 16;
	if (max > IOTLB_MAX_REGIONS)
		max = IOTLB_MAX_REGIONS;
	grown = realloc(tlb->regions, max * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	tlb->regions = grown;
	tlb->max_regions = max;
	return 0;
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
	*ret_err = reserve_region(tlb);
	if (*ret_err < 0)
		goto out;
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
	free(tlb->regions);
	tlb->regions = NULL;
	tlb->max_regions = 0;
	pthread_mutex_destroy(&tlb->lock);
}

/* --- per-queue view ------------------------------------------------------- */

#define UNTRACKED UINT32_MAX   /* token of a hold beyond max_holds */

/* Epochs wrap: compare by distance. */
static bool epoch_le(uint32_t a, uint32_t b)
{
	return (int32_t)(b - a) >= 0;
}

static bool hold_is_live(const struct iotlb_view *v, uint32_t token)
{
	return v->holds[token].start != UNTRACKED;
}

/* May a live hold point into a region that was in the cache from epoch @in to @out? */
static bool is_in_use(const struct iotlb_view *v, uint32_t in, uint32_t out)
{
	if (v->nr_untracked)
		return true;
	for (uint32_t t = 0; t < v->max_holds; t++) {
		const struct iotlb_hold *h = &v->holds[t];

		if (!hold_is_live(v, t) || !epoch_le(h->start, out))
			continue;
		if (!h->is_sealed || epoch_le(in, h->end))
			return true;
	}
	return false;
}

/* Unmap (drop our reference to) every retired region no live hold can use. */
static void view_drop_retired(struct iotlb_view *v)
{
	unsigned int kept = 0;

	for (unsigned int i = 0; i < v->nr_retired; i++) {
		struct iotlb_retired *rt = &v->retired[i];

		if (v->nr_held && is_in_use(v, rt->in, rt->out))
			v->retired[kept++] = *rt;
		else
			iotlb_put(rt->region);
	}
	__atomic_store_n(&v->nr_retired, kept, __ATOMIC_RELAXED);   /* read by others as a stat */
}

/* Let go of region @r, in the cache since epoch @in. */
static void view_retire(struct iotlb_view *v, struct iotlb_region *r, uint32_t in)
{
	struct iotlb_retired *grown;
	uint32_t out = v->epoch;

	/* Holds taken from now on cannot point into it. */
	v->epoch++;
	if (!v->nr_held || !is_in_use(v, in, out)) {
		iotlb_put(r);
		return;
	}
	if (v->nr_retired == v->max_retired) {
		unsigned int max = 2 * v->max_retired;

		grown = realloc(v->retired, max * sizeof(*grown));
		if (!grown) {
			/* Cannot track it: keep it mapped for good rather than unmap it under a request. */
			v->nr_kept++;
			return;
		}
		v->retired = grown;
		v->max_retired = max;
	}
	v->retired[v->nr_retired] = (struct iotlb_retired){ .region = r, .in = in, .out = out };
	__atomic_store_n(&v->nr_retired, v->nr_retired + 1, __ATOMIC_RELAXED);
}

static void view_sync(struct iotlb_view *v)
{
	uint32_t gen = __atomic_load_n(&v->tlb->gen, __ATOMIC_ACQUIRE);

	if (gen == v->gen)
		return;
	v->gen = gen;
	while (v->nr_cache) {
		v->nr_cache--;
		view_retire(v, v->cache[v->nr_cache], v->cache_in[v->nr_cache]);
	}
}

static void *view_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len,
			 int *ret_err)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);
	struct iotlb_region *r = NULL;

	view_sync(v);
	for (unsigned int i = 0; i < v->nr_cache; i++) {
		if (contains(v->cache[i], iova)) {
			r = v->cache[i];
			break;
		}
	}
	if (!r) {
		r = iotlb_get(v->tlb, iova, ret_err);
		if (!r)
			return NULL;
		if (v->nr_cache == IOTLB_VIEW_CACHE) {
			/* Evict the oldest entry. */
			view_retire(v, v->cache[0], v->cache_in[0]);
			v->nr_cache--;
			memmove(v->cache, v->cache + 1, v->nr_cache * sizeof(v->cache[0]));
			memmove(v->cache_in, v->cache_in + 1, v->nr_cache * sizeof(v->cache_in[0]));
		}
		v->cache_in[v->nr_cache] = v->epoch;
		v->cache[v->nr_cache++] = r;
	}
	if ((r->perm & perm) != perm) {
		*ret_err = -EFAULT;
		return NULL;
	}
	*ret_len = r->last - iova + 1;
	return r->host + (iova - r->start);
}

static uint32_t view_hold(struct mem *m)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);
	uint32_t token;

	v->nr_held++;
	if (!v->nr_free_holds) {
		/* More holds than the queue said it would take: be conservative. */
		v->nr_untracked++;
		return UNTRACKED;
	}
	token = v->free_holds[--v->nr_free_holds];
	v->holds[token] = (struct iotlb_hold){ .start = v->epoch };
	return token;
}

static void view_seal(struct mem *m, uint32_t token)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);

	if (token == UNTRACKED || token >= v->max_holds)
		return;
	v->holds[token].end = v->epoch;
	v->holds[token].is_sealed = true;
}

static void view_release(struct mem *m, uint32_t token)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);

	if (token == UNTRACKED) {
		v->nr_untracked--;
	} else {
		if (token >= v->max_holds || !hold_is_live(v, token))
			return;
		v->holds[token].start = UNTRACKED;
		v->free_holds[v->nr_free_holds++] = token;
	}
	v->nr_held--;
	if (v->nr_retired)
		view_drop_retired(v);
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

static int view_pin(struct mem *m, const struct mem_range *ranges, unsigned int nr,
		    void **ret_host)
{
	struct iotlb_view *v = container_of(m, struct iotlb_view, mem);
	struct iotlb_region *got[IOTLB_MAX_PINS];
	unsigned int i;
	int err = 0;

	if (nr > IOTLB_MAX_PINS)
		return -E2BIG;
	for (i = 0; i < nr; i++) {
		const struct mem_range *rg = &ranges[i];

		got[i] = iotlb_get(v->tlb, rg->iova, &err);
		if (!got[i])
			goto fail;
		/* The pointer comes from the region we keep: it cannot be unmapped under us. */
		if ((got[i]->perm & rg->perm) != rg->perm || got[i]->last - rg->iova < rg->len - 1) {
			err = -EFAULT;
			i++;
			goto fail;
		}
		ret_host[i] = got[i]->host + (rg->iova - got[i]->start);
	}
	/* New pins first, then the old ones go: a region in both stays mapped. */
	view_unpin(v);
	memcpy(v->pinned, got, nr * sizeof(got[0]));
	v->nr_pinned = nr;
	return 0;
fail:
	while (i)
		iotlb_put(got[--i]);
	view_unpin(v);
	return err;
}

static void view_detach(struct mem *m)
{
	iotlb_view_detach(container_of(m, struct iotlb_view, mem));
}

static const struct mem_ops iotlb_view_ops = {
	.detach = view_detach,
	.lookup = view_lookup,
	.hold = view_hold,
	.seal = view_seal,
	.release = view_release,
	.generation = view_generation,
	.pin = view_pin,
};

int iotlb_view_init(struct iotlb_view *v, struct iotlb *tlb, unsigned int max_holds)
{
	memset(v, 0, sizeof(*v));
	v->mem.ops = &iotlb_view_ops;
	/* One per request in flight, plus the hold of a pop in progress. */
	v->max_holds = max_holds + 1;
	v->holds = calloc(v->max_holds, sizeof(*v->holds));
	v->free_holds = calloc(v->max_holds, sizeof(*v->free_holds));
	v->max_retired = 4 * IOTLB_VIEW_CACHE;
	v->retired = calloc(v->max_retired, sizeof(*v->retired));
	if (!v->holds || !v->free_holds || !v->retired) {
		free(v->holds);
		free(v->free_holds);
		free(v->retired);
		memset(v, 0, sizeof(*v));
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < v->max_holds; t++) {
		v->holds[t].start = UNTRACKED;
		v->free_holds[v->nr_free_holds++] = v->max_holds - 1 - t;
	}
	v->tlb = tlb;
	v->gen = __atomic_load_n(&tlb->gen, __ATOMIC_ACQUIRE);
	return 0;
}

/* Swap the mapping for private memory at the same address (our own memory: its owner's way). */
static int detach_region(struct iotlb_region *r)
{
	int prot = (r->perm & MEM_READ ? PROT_READ : 0) | (r->perm & MEM_WRITE ? PROT_WRITE : 0);

	if (r->backing)
		return r->backing->detach ? r->backing->detach(r->backing) : 0;
	if (mmap(r->host, r->map_bytes, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

int iotlb_view_detach(struct iotlb_view *v)
{
	int r = 0;

	for (unsigned int i = 0; i < v->nr_cache; i++)
		r = detach_region(v->cache[i]) ?: r;
	for (unsigned int i = 0; i < v->nr_retired; i++)
		r = detach_region(v->retired[i].region) ?: r;
	for (unsigned int i = 0; i < v->nr_pinned; i++)
		r = detach_region(v->pinned[i]) ?: r;
	return r;
}

unsigned int iotlb_view_nr_retired(const struct iotlb_view *v)
{
	return __atomic_load_n(&v->nr_retired, __ATOMIC_RELAXED);
}

void iotlb_view_exit(struct iotlb_view *v)
{
	if (!v || !v->tlb)
		return;
	while (v->nr_cache)
		iotlb_put(v->cache[--v->nr_cache]);
	v->nr_held = 0;
	view_drop_retired(v);
	free(v->retired);
	free(v->holds);
	free(v->free_holds);
	v->retired = NULL;
	v->holds = NULL;
	v->free_holds = NULL;
	view_unpin(v);
	v->tlb = NULL;
}
