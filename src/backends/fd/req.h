/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_FD_REQ_H
#define VDB_BACKENDS_FD_REQ_H

/*
 * A request on an fd image (fd/image.h), as the fd backends (io_uring,
 * aio) perform it: the switch over its op, the accounting of READ and WRITE
 * transfers, and O_DIRECT's aligned bounce buffers.  A backend says how it
 * performs each step (struct fd_req_steps); the order of the steps and
 * what a transfer's result means are decided here, once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "backends/backend.h"

/* How an fd backend performs the steps of a request; each returns 0 or -errno. */
struct fd_req_steps {
	/* READ, WRITE: the transfer of what is left (fd_req_iov() from req->fd.done_bytes). */
	int (*rw)(struct backend_queue *bq, struct backend_req *req);
	int (*flush)(struct backend_queue *bq, struct backend_req *req);
	/* One range of a DISCARD or a WRITE_ZEROES. */
	int (*discard)(struct backend_queue *bq, struct backend_req *req,
		       const struct backend_seg *seg);
	int (*write_zeroes)(struct backend_queue *bq, struct backend_req *req,
			    const struct backend_seg *seg);
	/*
	 * After the ranges (all of them, or up to the first that failed with
	 * @res): what queue_req() returns for the request.
	 */
	int (*ranges_end)(struct backend_queue *bq, struct backend_req *req, int res);
};

/**
 * fd_req_start() - the fd backends' op switch, for their queue_req()
 * @is_copying: the queue copies every O_DIRECT transfer (fd_req_dio_refused())
 *
 * READ and WRITE get their bounce buffer where O_DIRECT needs one, then
 * @steps->rw; FLUSH is @steps->flush; DISCARD and WRITE_ZEROES call their
 * step once per range, stopping at the first error, then @steps->ranges_end.
 * Returns what the last step returned, or -EOPNOTSUPP for any other op
 * (-ENOMEM: no bounce buffer).
 */
int fd_req_start(const struct fd_req_steps *steps, struct backend_queue *bq,
		 const struct image *img, bool is_copying, struct backend_req *req);

/**
 * fd_req_rw_again() - a transfer of a READ or WRITE came back
 * @res: in: bytes transferred, or -errno; out: the result, see below
 * @is_copying: the queue's flag for fd_req_dio_refused()
 *
 * Counts the bytes in req->fd.done_bytes.  Returns true when what is left
 * must be submitted again: a short transfer (the iovecs advanced past what
 * is done), -EAGAIN, O_DIRECT refused (copied from now on); *res is then the
 * result should that fail.  Returns false when the transfer is over, with
 * *res 0, -EIO when the image ended inside it (it shrank), or -errno.
 */
bool fd_req_rw_again(const struct image *img, struct backend_req *req, int *res,
		     bool *is_copying);

/* fd_req_iov() - the iovecs a READ/WRITE transfers next (its bounce buffer, if any). */
const struct iovec *fd_req_iov(const struct backend_req *req, unsigned int *ret_nr);

/* fd_req_advance() - after a short transfer of @bytes: go on from where it stopped. */
void fd_req_advance(struct backend_req *req, size_t bytes);

/**
 * fd_needs_bounce() - must this transfer go through an aligned buffer?
 * True for an O_DIRECT image when a buffer's address or length is not
 * aligned as O_DIRECT requires (the offset is, see image_fit_direct()).
 */
bool fd_needs_bounce(const struct image *img, const struct iovec *iov, unsigned int nr_iov);

/**
 * fd_req_bounce_prepare() - route @req's data through an aligned buffer if needed
 * @must_copy: the queue copies every O_DIRECT transfer (fd_req_dio_refused())
 *
 * When fd_needs_bounce() or @must_copy on an O_DIRECT image, allocates the
 * buffer for what is left of the transfer (from req->fd.done_bytes) and for
 * a write copies the data into it.  Returns 0 or -ENOMEM.
 */
int fd_req_bounce_prepare(const struct image *img, struct backend_req *req, bool must_copy);

/* fd_req_bounce_end() - for a successful read copy the data out; free the buffer. */
void fd_req_bounce_end(struct backend_req *req, int res);

/**
 * fd_req_dio_refused() - an O_DIRECT READ or WRITE failed with @res: copy it instead?
 * @is_copying: the queue's flag, set when this returns true
 *
 * The kernel will not pin some memory for O_DIRECT and fails the transfer
 * with EFAULT: mappings flagged VM_IO or VM_PFNMAP (VDUSE's bounce buffer
 * from Linux 6.12.118 on) and secret memory.  The daemon can still read and
 * write that memory itself, so the rest of @req is prepared again through an
 * aligned buffer of its own (fd_req_bounce_prepare()), and so are the queue's
 * later transfers.  Returns true when @req is ready to be submitted again;
 * false when @res stands (not EFAULT, not O_DIRECT, already copied, no memory).
 */
bool fd_req_dio_refused(const struct image *img, struct backend_req *req, int res,
			bool *is_copying);

#endif
