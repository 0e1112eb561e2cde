/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_FD_IMAGE_H
#define VDB_BACKENDS_FD_IMAGE_H

/*
 * The fd backends' image (io_uring, aio, null): a regular file or a block
 * device, its geometry, O_DIRECT and its bounce buffers.  Their open(),
 * close(), flush(), resize() and get_size() are the image_fd_*() calls here.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/backend.h"

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
 * image_fd_open() - the fd backends' open(): image_adopt() of @spec->adopt_fd
 * when it is >= 0, else image_open() of @spec->path.
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

/**
 * image_needs_bounce() - must this transfer go through an aligned buffer?
 * True for an O_DIRECT image when a buffer's address or length is not
 * aligned as O_DIRECT requires (the offset is, see image_fit_direct()).
 */
bool image_needs_bounce(const struct image *img, const struct iovec *iov,
			unsigned int nr_iov);

/**
 * image_bounce_prepare() - route @req's data through an aligned buffer if needed
 * @must_copy: the queue copies every O_DIRECT transfer (image_dio_refused())
 *
 * When image_needs_bounce() or @must_copy on an O_DIRECT image, allocates the
 * buffer for what is left of the transfer (from req->fd.done_bytes) and for
 * a write copies the data into it.  Returns 0 or -ENOMEM.
 */
int image_bounce_prepare(const struct image *img, struct backend_req *req, bool must_copy);

/* image_bounce_end() - for a successful read copy the data out; free the buffer. */
void image_bounce_end(struct backend_req *req, int res);

/**
 * image_dio_refused() - an O_DIRECT READ or WRITE failed with @res: copy it instead?
 * @is_copying: the queue's flag, set when this returns true
 *
 * The kernel will not pin some memory for O_DIRECT and fails the transfer
 * with EFAULT: mappings flagged VM_IO or VM_PFNMAP (VDUSE's bounce buffer
 * from Linux 6.12.118 on) and secret memory.  The daemon can still read and
 * write that memory itself, so the rest of @req is prepared again through an
 * aligned buffer of its own (image_bounce_prepare()), and so are the queue's
 * later transfers.  Returns true when @req is ready to be submitted again;
 * false when @res stands (not EFAULT, not O_DIRECT, already copied, no memory).
 */
bool image_dio_refused(const struct image *img, struct backend_req *req, int res, bool *is_copying);

#endif
