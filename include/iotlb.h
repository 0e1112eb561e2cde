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
 * a view that sees a new generation retires its cached regions, and unmaps
 * them once no request it has in flight can still use them.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem.h"

#define IOTLB_MAX_REGIONS 64
#define IOTLB_VIEW_CACHE 8

struct iotlb_region {
	uint64_t start;          /* first IOVA */
	uint64_t last;           /* last IOVA (inclusive) */
	unsigned int perm;       /* MEM_READ | MEM_WRITE */
	uint8_t *host;           /* host address of start */
	size_t map_bytes;
	int refs;                /* atomic */
};

/*
 * How regions are fetched: VDUSE's ioctl in the daemon; tests plug in their
 * own.  Returns 0 with *ret_fd (to mmap), offset, range and perm, or -errno.
 */
typedef int (*iotlb_get_fd_fn)(void *opaque, uint64_t iova, int *ret_fd,
			       uint64_t *ret_offset, uint64_t *ret_start,
			       uint64_t *ret_last, unsigned int *ret_perm);

struct iotlb {
	pthread_mutex_t lock;
	uint32_t gen;            /* bumped by every invalidation; atomic */
	iotlb_get_fd_fn get_fd;
	void *get_fd_opaque;
	struct iotlb_region *regions[IOTLB_MAX_REGIONS];
	unsigned int nr_regions;
	uint64_t nr_maps;        /* mmaps done so far */
};

void iotlb_init(struct iotlb *tlb, iotlb_get_fd_fn get_fd, void *opaque);

/* iotlb_invalidate() - forget regions overlapping [start, last]. Any thread. */
void iotlb_invalidate(struct iotlb *tlb, uint64_t start, uint64_t last);

/* iotlb_exit() - drop every region; views must be gone. */
void iotlb_exit(struct iotlb *tlb);

/**
 * iotlb_get() - the region holding @iova, with a reference for the caller
 * Returns the region or NULL (-errno in *ret_err) when the driver did not map
 * it (the kernel answers EINVAL) or mmap failed.
 */
struct iotlb_region *iotlb_get(struct iotlb *tlb, uint64_t iova, int *ret_err);

/* iotlb_put() - drop a reference; the last one unmaps.  NULL-safe. */
void iotlb_put(struct iotlb_region *r);

/* One queue's window on the IOTLB. Used by that queue's thread only. */
struct iotlb_view {
	struct mem mem;
	struct iotlb *tlb;
	uint32_t gen;
	struct iotlb_region *cache[IOTLB_VIEW_CACHE];
	unsigned int nr_cache;
	struct iotlb_region **retired;   /* invalidated, used by requests in flight */
	unsigned int nr_retired;
	unsigned int max_retired;
	struct iotlb_region *leaked[8];  /* retired when memory ran out: kept to the end */
	unsigned int nr_leaked;
	struct iotlb_region *pinned[4];  /* the rings: kept until they are pinned again */
	unsigned int nr_pinned;
	unsigned int nr_held;            /* requests in flight */
};

void iotlb_view_init(struct iotlb_view *v, struct iotlb *tlb);

/* iotlb_view_exit() - drop every reference the view holds. */
void iotlb_view_exit(struct iotlb_view *v);

#endif
