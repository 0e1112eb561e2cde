/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_ZERO_H
#define VDB_ZERO_H

/* Ways to make a range read back as zeroes, best first; backends step down. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zero_mode {
	ZERO_FALLOC,       /* fallocate ZERO_RANGE (or PUNCH_HOLE when unmap is allowed) */
	ZERO_PUNCH_ALLOC,  /* fallocate PUNCH_HOLE, then allocate again */
	ZERO_WRITE,        /* write zeroes from a buffer */
};

/* A read-only zero buffer for ZERO_WRITE; mapped on first use (no memory: the zero page). */
struct zero_buf {
	void *buf;
	size_t len_bytes;
};

int zero_buf_init(struct zero_buf *z);
void zero_buf_exit(struct zero_buf *z);

struct image;

/**
 * zero_range_sync() - make [off, off + len) read back as zeroes, blocking
 * @mode: in/out: the best method known to work; stepped down on EOPNOTSUPP
 * @may_unmap: deallocation is allowed (tried first, by punching)
 * Returns 0 or -errno.
 */
int zero_range_sync(const struct image *img, struct zero_buf *z, enum zero_mode *mode,
		    uint64_t off, uint64_t len, bool may_unmap);

/* discard_sync() - punch (files) or BLKDISCARD (devices); unsupported counts as done. */
int discard_sync(const struct image *img, uint64_t off, uint64_t len);

#endif
