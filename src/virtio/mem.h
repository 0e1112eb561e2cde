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

/* A range the device accesses in place (a ring). */
struct mem_range {
	uint64_t iova;
	uint64_t len;
	unsigned int perm;
};

struct mem_ops {
	/**
	 * lookup() - the host address of @iova
	 * @m: the address space
	 * @iova: the first byte wanted
	 * @perm: MEM_READ and/or MEM_WRITE, all of which the mapping must grant
	 * @ret_len: bytes from @iova that are contiguous in host memory
	 * @ret_err: on failure, why: -EFAULT when the driver did not map @iova
	 *           or not with @perm (the driver's fault); any other -errno
	 *           when the device could not reach memory the driver did map
	 *           (mmap failed, a table is full: the device's fault)
	 *
	 * Returns the host pointer, or NULL with *ret_err set.
	 */
	void *(*lookup)(struct mem *m, uint64_t iova, unsigned int perm,
			uint64_t *ret_len, int *ret_err);
	/**
	 * hold() - optional: keep the current mappings alive for one request
	 * Returns a token for release().  Mappings the driver removes while a
	 * request that may use them is in flight are unmapped after it ends.
	 */
	uint32_t (*hold)(struct mem *m);
	/*
	 * seal() - optional: the request that got @token has translated all it
	 * will (its chain is popped); mappings that appear later are not its.
	 */
	void (*seal)(struct mem *m, uint32_t token);
	/*
	 * detach() - optional: the queue was abandoned with requests still in
	 * its backend; make what they write land in private memory, not in
	 * the driver's (which the driver reuses after its reset).
	 */
	void (*detach)(struct mem *m);
	/* release() - optional: the request that got @token from hold() ended. */
	void (*release)(struct mem *m, uint32_t token);
	/**
	 * generation() - optional: a number that changes whenever mappings may
	 * have changed (the driver remapped memory).  Users that keep host
	 * pointers, like the rings, translate again when it moves.
	 */
	uint32_t (*generation)(struct mem *m);
	/**
	 * pin() - optional: map @nr ranges, each of which must lie in one host
	 * mapping, and keep them mapped until the next pin() (which replaces
	 * these pins) or the end of the space.
	 * @ret_host: the host address of each range, taken from the very
	 *            mappings that are pinned (so they cannot go away under it)
	 * Returns 0, -EFAULT when a range is not mapped as one piece with its
	 * permission, or another -errno (nothing is pinned then).
	 */
	int (*pin)(struct mem *m, const struct mem_range *ranges, unsigned int nr,
		   void **ret_host);
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
 * around the 64-bit space (the driver's fault), -E2BIG when @iov is full, or
 * the lookup's own -errno when the device could not map the memory.
 */
int mem_to_iov(struct mem *m, uint64_t iova, uint64_t len, unsigned int perm,
	       struct iovec *iov, unsigned int *nr_iov, unsigned int max_iov);

/**
 * mem_read() - copy @len bytes at @iova into @dst (device-readable memory)
 * Returns 0, -EFAULT, or the lookup's -errno (see mem_to_iov()).
 */
int mem_read(struct mem *m, uint64_t iova, void *dst, uint64_t len);

/**
 * mem_map_contig() - host pointer to a range that must be one host mapping
 * Returns the pointer or NULL.
 */
void *mem_map_contig(struct mem *m, uint64_t iova, uint64_t len,
		     unsigned int perm);

/**
 * mem_pin() - host pointers to ranges accessed in place (the rings)
 * Through the space's pin() when it has one, so the pointers come from the
 * pinned mappings; else through lookups.  Returns 0, -EFAULT or -errno.
 */
int mem_pin(struct mem *m, const struct mem_range *ranges, unsigned int nr,
	    void **ret_host);

#endif
