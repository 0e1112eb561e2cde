/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_MEM_H
#define VDB_MEM_H

/*
 * The memory a driver shares with the device, reached through IOVAs.
 *
 * The same virtqueue code serves the VDUSE bounce buffer, a VM's memory
 * (vhost-vdpa) and the test harness: each provides a struct mem whose
 * lookup() turns an IOVA into a host pointer.  Everything behind an IOVA is
 * guest-controlled; a lookup checks that the whole access is mapped with the
 * permission it needs.
 */

#include <stdint.h>
#include <sys/uio.h>

/* What the device needs to do with the memory (VDUSE_ACCESS_* values). */
enum mem_perm {
	MEM_READ = 1,   /* the device reads: driver-written buffers */
	MEM_WRITE = 2,  /* the device writes: device-writable buffers */
};

struct mem;

struct mem_ops {
	/**
	 * lookup() - the host address of @iova
	 * @m: the address space
	 * @iova: the first byte wanted
	 * @perm: MEM_READ and/or MEM_WRITE, all of which the mapping must grant
	 * @ret_len: bytes from @iova that are contiguous in host memory
	 *
	 * Returns the host pointer, or NULL when @iova is not mapped or not
	 * mapped with @perm.
	 */
	void *(*lookup)(struct mem *m, uint64_t iova, unsigned int perm,
			uint64_t *ret_len);
	/**
	 * hold() - optional: keep the current mappings alive for one request
	 * Returns a token for release().  Mappings the driver removes while a
	 * request that may use them is in flight are unmapped after it ends.
	 */
	uint32_t (*hold)(struct mem *m);
	/* release() - optional: the request that got @token from hold() ended. */
	void (*release)(struct mem *m, uint32_t token);
	/**
	 * generation() - optional: a number that changes whenever mappings may
	 * have changed (the driver remapped memory).  Users that keep host
	 * pointers, like the rings, translate again when it moves.
	 */
	uint32_t (*generation)(struct mem *m);
	/**
	 * pin() - optional: keep the regions holding @iovas mapped until the
	 * next pin() (which replaces these pins) or the end of the space.
	 * Returns 0, or -EFAULT when one of them is not mapped (nothing is
	 * pinned then).
	 */
	int (*pin)(struct mem *m, const uint64_t *iovas, unsigned int nr);
};

struct mem {
	const struct mem_ops *ops;
};

/**
 * mem_to_iov() - translate [iova, iova + len) into host iovecs
 * @m: the address space
 * @iova: start of the range
 * @len: its length in bytes (0 is allowed and adds nothing)
 * @perm: permission every byte needs
 * @iov: where to append
 * @nr_iov: in: iovecs already used; out: iovecs used after the append
 * @max_iov: capacity of @iov
 *
 * A range may span several host mappings and then takes several iovecs.
 * Returns 0, -EFAULT when part of the range is unmapped, lacks @perm or wraps
 * around the 64-bit space, or -E2BIG when @iov is full.
 */
int mem_to_iov(struct mem *m, uint64_t iova, uint64_t len, unsigned int perm,
	       struct iovec *iov, unsigned int *nr_iov, unsigned int max_iov);

/**
 * mem_read() - copy @len bytes at @iova into @dst (device-readable memory)
 * Returns 0 or -EFAULT.
 */
int mem_read(struct mem *m, uint64_t iova, void *dst, uint64_t len);

/**
 * mem_map_contig() - host pointer to a range that must be one host mapping
 * Used for the rings, which are accessed in place.
 * Returns the pointer or NULL.
 */
void *mem_map_contig(struct mem *m, uint64_t iova, uint64_t len,
		     unsigned int perm);

#endif
