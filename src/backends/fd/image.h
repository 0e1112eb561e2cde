/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_FD_IMAGE_H
#define VDB_BACKENDS_FD_IMAGE_H

/*
 * The fd backends' image (io_uring, aio, null): a regular file or a block
 * device, its geometry and O_DIRECT.  Their open(), close(), flush(),
 * resize() and get_size() are the image_fd_*() calls here; a request on
 * such an image is fd/req.h's.
 */

#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backends/backend.h"
#include "sandbox/syscalls.h"

/*
 * What an fd image needs once the device serves, beyond the daemon's own
 * reads, writes and flushes: fallocate (DISCARD, WRITE_ZEROES, punching),
 * a block device's geometry, size and BLKDISCARD, fstatfs (a live upgrade's
 * new image asks whether the image is in memory).  The first rows of each
 * fd backend's syscalls.
 */
#define FD_IMAGE_SYSCALLS                                          \
	SANDBOX_ALLOW(fallocate),                                  \
	SANDBOX_ALLOW(fstatfs),                                    \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKDISCARD)),   \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKZEROOUT)),   \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKGETSIZE64)), \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKSSZGET)),    \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKPBSZGET)),   \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKIOMIN)),     \
	SANDBOX_ALLOW_IF(ioctl, 1, SANDBOX_EQ32(1, BLKIOOPT))

/**
 * image_open() - open a regular file or block device
 * @path: the image
 * @is_readonly: open O_RDONLY
 * @is_direct: open O_DIRECT
 * @img: filled in; img->fd is -1 on failure
 * Returns 0 or -errno (-ENOENT, -EACCES, -EINVAL for other file types).
 */
int image_open(const char *path, bool is_readonly, bool is_direct, struct image *img);

/**
 * image_wants_direct() - is an image of file type @mode opened O_DIRECT?
 * With --direct (@spec->is_direct) always, with --buffered never; without
 * either a block device is (its own page cache would cache again what the
 * driver's side caches, and O_DIRECT took as little CPU per I/O or less in
 * every job of scripts/bench.sh on a raw device and was faster in most,
 * docs/performance.md), a file is not.
 */
bool image_wants_direct(const struct image_spec *spec, mode_t mode);

/**
 * image_fd_open() - the fd backends' open(): image_adopt() of @spec->adopt_fd
 * when it is >= 0, else image_open() of @spec->path, O_DIRECT as
 * image_wants_direct() says.
 */
int image_fd_open(const struct image_spec *spec, struct image *img);

/* image_fd_flush() - the fd backends' flush(): fdatasync (read-only: nothing). */
int image_fd_flush(const struct image *img);

/*
 * image_fd_resize() - the fd backends' resize(): a file is truncated to the
 * size (grown only if smaller); a block device is not resized, it must be
 * as large already (-ENOSPC).
 */
int image_fd_resize(struct image *img, uint64_t size_bytes, bool is_shrink,
		    const char **ret_why);

/* image_fd_get_size() - the fd backends' get_size(): fstat, or BLKGETSIZE64. */
int image_fd_get_size(const struct image *img, uint64_t *ret_bytes);

/* image_fd_landlock_paths() - the fd backends' landlock_paths(): the image, as served. */
unsigned int image_fd_landlock_paths(const struct image_spec *spec, const struct image *img,
				     struct sandbox_path *paths, unsigned int max);

/* An fd backend's image calls, in its struct backend_ops: the image_fd_*() above. */
#define FD_IMAGE_OPS                               \
	.landlock_paths = image_fd_landlock_paths, \
	.open = image_fd_open,                     \
	.close = image_close,                      \
	.flush = image_fd_flush,                   \
	.resize = image_fd_resize,                 \
	.get_size = image_fd_get_size

/**
 * image_adopt() - the same for an image already open as @fd (a live upgrade
 * hands it over); read-only and O_DIRECT are as @fd was opened.  @fd is the
 * image's from now on, closed on failure too.
 */
int image_adopt(int fd, const char *path, struct image *img);

/* image_close() - NULL-safe. */
void image_close(struct image *img);

/**
 * image_fit_direct() - keep O_DIRECT only where every request can use it
 * @block_size: the logical block size the device offers
 *
 * A device whose blocks are smaller than the image's O_DIRECT offset
 * alignment would get requests that only a read-modify-write of shared
 * blocks could serve directly.  Mixing direct and buffered I/O on one page
 * loses data, so such an image is reopened without O_DIRECT: all of its I/O
 * goes through the page cache (FLUSH still syncs it).
 * Returns 1 when it reopened, 0 when nothing changed, or -errno.
 */
int image_fit_direct(struct image *img, uint32_t block_size);

#endif
