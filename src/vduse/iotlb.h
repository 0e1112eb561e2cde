/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_IOTLB_H
#define VDB_IOTLB_H

/*
 * The VDUSE IOTLB: which IOVA ranges the driver has mapped, and where we
 * mapped them in our address space.
 *
 * struct iotlb is shared by the device: regions are fetched lazily with
 * VDUSE_IOTLB_GET_FD + mmap and cached, and dropped when the kernel sends
 * UPDATE_IOTLB for a range.  Regions are reference counted and unmapped when
 * the last user lets go.
 *
 * Each queue reads memory through its own struct iotlb_view, a struct mem
 * with a small lock-free cache.  An invalidation bumps the IOTLB generation;
 * a view that sees a new generation retires its cached regions.
 *
 * What keeps a mapping alive while a request uses it: every request takes a
 * hold before its chain is translated, seals it when the chain is popped and
 * releases it when it completes.  The view's epoch moves each time it lets go
 * of a region (retired on invalidation, or evicted from the cache).  A
 * retired region was in the cache from epoch @in to @out; a hold that began
 * at or before @out and was sealed at or after @in may point into it.  The
 * region is unmapped once no live hold may: a request stuck in the backend
 * keeps only the mappings its own chain could use.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/mem.h"

/* Most regions one device maps at once: a driver cannot make us map without bound. */
#define IOTLB_MAX_REGIONS 65536
#define IOTLB_VIEW_CACHE 8
#define IOTLB_MAX_PINS 4

/*
 * Memory of the daemon's own that serves a range the driver mapped, instead
 * of a mapping of the fd VDUSE_IOTLB_GET_FD returns (see iotlb_adopt_fn).
 * Each region served from it holds a reference.
 */
struct iotlb_backing {
	int refs;                /* atomic */
	/* The last reference is gone: free the memory. */
	void (*release)(struct iotlb_backing *b);
	/*
	 * An abandoned queue still uses the memory (iotlb_view_detach()): make
	 * sure that a late READ cannot land where the driver's data will be.
	 */
	int (*detach)(struct iotlb_backing *b);
};

/* iotlb_backing_get() / iotlb_backing_put() - references; put is NULL-safe. */
struct iotlb_backing *iotlb_backing_get(struct iotlb_backing *b);
void iotlb_backing_put(struct iotlb_backing *b);

struct iotlb_region {
	uint64_t start;          /* first IOVA */
	uint64_t last;           /* last IOVA (inclusive) */
	unsigned int perm;       /* MEM_READ | MEM_WRITE */
	uint8_t *host;           /* host address of start */
	size_t map_bytes;
	struct iotlb_backing *backing; /* NULL: host is our mmap of the GET_FD fd */
	int refs;                /* atomic */
};

/*
 * How regions are fetched: VDUSE's ioctl in the daemon; tests plug in their
 * own.  Returns 0 with *ret_fd (to mmap), offset, range and perm, or -errno:
 * -EINVAL or -EFAULT when the driver has nothing mapped at @iova.
 */
typedef int (*iotlb_get_fd_fn)(void *opaque, uint64_t iova, int *ret_fd,
			       uint64_t *ret_offset, uint64_t *ret_start,
			       uint64_t *ret_last, unsigned int *ret_perm);

/*
 * Offered each range the driver mapped, [start, last] with @perm, before it
 * is mapped from the fd (called with the IOTLB's lock held): it may serve the
 * range from memory of the daemon's own.  Returns 1 with *ret_host (the
 * address of @start) and *ret_backing (a reference for the region), or 0 to
 * map the fd as usual.
 */
typedef int (*iotlb_adopt_fn)(void *opaque, uint64_t start, uint64_t last, unsigned int perm,
			      uint8_t **ret_host, struct iotlb_backing **ret_backing);

struct iotlb {
	pthread_mutex_t lock;
	uint32_t gen;            /* bumped by every invalidation; atomic */
	iotlb_get_fd_fn get_fd;
	void *get_fd_opaque;
	iotlb_adopt_fn adopt;    /* or NULL */
	void *adopt_opaque;
	struct iotlb_region **regions;   /* grows as the driver maps more */
	unsigned int nr_regions;
	unsigned int max_regions;
	uint64_t nr_maps;        /* mmaps done so far */
};

void iotlb_init(struct iotlb *tlb, iotlb_get_fd_fn get_fd, void *opaque);

/* iotlb_set_adopt() - offer the ranges mapped from now on to @adopt first. */
void iotlb_set_adopt(struct iotlb *tlb, iotlb_adopt_fn adopt, void *opaque);

/* iotlb_invalidate() - forget regions overlapping [start, last]. Any thread. */
void iotlb_invalidate(struct iotlb *tlb, uint64_t start, uint64_t last);

/* iotlb_exit() - drop every region; views must be gone. */
void iotlb_exit(struct iotlb *tlb);

/**
 * iotlb_get() - the region holding @iova, with a reference for the caller
 * Returns the region, or NULL with *ret_err: -EFAULT when the driver did not
 * map @iova; -ENOSPC (IOTLB_MAX_REGIONS), -ENOMEM or mmap's -errno when the
 * device could not map what the driver did.
 */
struct iotlb_region *iotlb_get(struct iotlb *tlb, uint64_t iova, int *ret_err);

/* iotlb_put() - drop a reference; the last one unmaps.  NULL-safe. */
void iotlb_put(struct iotlb_region *r);

/* A region the view let go of while holds that may use it were live. */
struct iotlb_retired {
	struct iotlb_region *region;
	uint32_t in, out;        /* epochs it entered and left the cache */
};

/* One request's hold. */
struct iotlb_hold {
	uint32_t start;          /* epoch when it was taken */
	uint32_t end;            /* epoch when it was sealed */
	bool is_sealed;
};

/* One queue's window on the IOTLB. Used by that queue's thread only. */
struct iotlb_view {
	struct mem mem;
	struct iotlb *tlb;
	uint32_t gen;                    /* IOTLB generation the cache belongs to */
	uint32_t epoch;                  /* moves each time a region is let go of */
	struct iotlb_region *cache[IOTLB_VIEW_CACHE];
	uint32_t cache_in[IOTLB_VIEW_CACHE]; /* epoch each entry came in */
	unsigned int nr_cache;
	struct iotlb_retired *retired;
	unsigned int nr_retired;
	unsigned int max_retired;
	struct iotlb_hold *holds;        /* indexed by token */
	uint32_t *free_holds;            /* tokens not in use */
	unsigned int nr_free_holds;
	unsigned int max_holds;
	unsigned int nr_untracked;       /* holds beyond max_holds: keep every retired region */
	unsigned int nr_held;            /* live holds */
	struct iotlb_region *pinned[IOTLB_MAX_PINS]; /* the rings: until pinned again */
	unsigned int nr_pinned;
	uint64_t nr_kept;                /* retired with no memory to track them: kept mapped */
};

/**
 * iotlb_view_init() - a queue's view
 * @max_holds: most requests the queue has in flight at once (its slots)
 * Returns 0 or -ENOMEM.
 */
int iotlb_view_init(struct iotlb_view *v, struct iotlb *tlb, unsigned int max_holds);

/* iotlb_view_exit() - drop every reference the view holds; NULL-safe, idempotent. */
void iotlb_view_exit(struct iotlb_view *v);

/**
 * iotlb_view_detach() - cut the view's mappings off from driver memory
 * For a queue abandoned with requests still in the backend, once the driver
 * has reset the device: each mapping the view still references is replaced,
 * at the same address, by private anonymous memory, so that a late READ
 * lands there instead of in memory the driver reuses; memory of our own
 * (struct iotlb_backing) is detached by its owner.  (The regions must no
 * longer be in the IOTLB: call after iotlb_invalidate() of everything.)
 * Returns 0, or the -errno of a mapping that could not be replaced.
 */
int iotlb_view_detach(struct iotlb_view *v);

/* iotlb_view_nr_retired() - regions retired but still mapped for live holds; any thread. */
unsigned int iotlb_view_nr_retired(const struct iotlb_view *v);

#endif
