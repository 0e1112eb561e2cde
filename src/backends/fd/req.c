// SPDX-License-Identifier: GPL-2.0-or-later
/* A request on an fd image: the op switch, transfers, bounce buffers (see req.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "backends/backend.h"
#include "backends/fd/req.h"
#include "log.h"
#include "virtio/iov.h"

/* Every range of a DISCARD or WRITE_ZEROES, up to the first error. */
static int each_range(struct backend_queue *bq, struct backend_req *req,
		      int (*step)(struct backend_queue *bq, struct backend_req *req,
				  const struct backend_seg *seg))
{
	int r = 0;

	for (unsigned int i = 0; i < req->nr_segs && r == 0; i++)
		r = step(bq, req, &req->segs[i]);
	return r;
}

int fd_req_start(const struct fd_req_steps *steps, struct backend_queue *bq,
		 const struct image *img, bool is_copying, struct backend_req *req)
{
	int r;

	switch (req->op) {
	case BACKEND_OP_READ:
	case BACKEND_OP_WRITE:
		r = fd_req_bounce_prepare(img, req, is_copying);
		return r < 0 ? r : steps->rw(bq, req);
	case BACKEND_OP_FLUSH:
		return steps->flush(bq, req);
	case BACKEND_OP_DISCARD:
		return steps->ranges_end(bq, req, each_range(bq, req, steps->discard));
	case BACKEND_OP_WRITE_ZEROES:
		return steps->ranges_end(bq, req, each_range(bq, req, steps->write_zeroes));
	default:
		return -EOPNOTSUPP;
	}
}

bool fd_req_rw_again(const struct image *img, struct backend_req *req, int *res,
		     bool *is_copying)
{
	uint64_t left = req->data_bytes - req->fd.done_bytes;

	if (*res == -EAGAIN || fd_req_dio_refused(img, req, *res, is_copying))
		return true;
	if (*res < 0)
		return false;
	if (*res == 0) {
		/* Nothing more: the end of the file inside the device, the image shrank. */
		*res = left ? -EIO : 0;
		return false;
	}
	if ((uint64_t)*res > left)
		*res = (int)left;
	req->fd.done_bytes += (uint64_t)*res;
	if ((uint64_t)*res < left) {
		/* Short: go on from where it stopped. */
		fd_req_advance(req, (size_t)*res);
		*res = -EIO;
		return true;
	}
	*res = 0;
	return false;
}

const struct iovec *fd_req_iov(const struct backend_req *req, unsigned int *ret_nr)
{
	*ret_nr = req->fd.bounce ? 1 : req->nr_data_iov;
	return req->fd.bounce ? &req->fd.bounce_iov : req->data_iov;
}

void fd_req_advance(struct backend_req *req, size_t bytes)
{
	if (req->fd.bounce) {
		req->fd.bounce_iov.iov_base = (char *)req->fd.bounce_iov.iov_base + bytes;
		req->fd.bounce_iov.iov_len -= bytes;
	} else {
		iov_advance(&req->data_iov, &req->nr_data_iov, bytes);
	}
}

bool fd_needs_bounce(const struct image *img, const struct iovec *iov, unsigned int nr_iov)
{
	uint64_t mem_mask = img->dio_mem_align ? img->dio_mem_align - 1 : 0;
	uint64_t len_mask = img->dio_offset_align ? img->dio_offset_align - 1 : 0;

	if (!img->is_direct)
		return false;
	for (unsigned int i = 0; i < nr_iov; i++) {
		if (((uintptr_t)iov[i].iov_base & mem_mask) || (iov[i].iov_len & len_mask))
			return true;
	}
	return false;
}

int fd_req_bounce_prepare(const struct image *img, struct backend_req *req, bool must_copy)
{
	size_t align = img->dio_mem_align > 4096 ? img->dio_mem_align : 4096;
	uint64_t rest = req->data_bytes - req->fd.done_bytes;
	size_t bytes = (rest + align - 1) & ~(align - 1);
	void *buf;

	if (!(must_copy && img->is_direct) &&
	    !fd_needs_bounce(img, req->data_iov, req->nr_data_iov))
		return 0;
	if (posix_memalign(&buf, align, bytes ? bytes : align))
		return -ENOMEM;
	/* From where the transfer stands: data_iov was advanced past what is done. */
	if (req->op == BACKEND_OP_WRITE)
		iov_to_buf(req->data_iov, req->nr_data_iov, 0, buf, rest);
	req->fd.bounce = buf;
	req->fd.bounce_bytes = rest;
	req->fd.bounce_iov = (struct iovec){ buf, rest };
	return 0;
}

void fd_req_bounce_end(struct backend_req *req, int res)
{
	if (!req->fd.bounce)
		return;
	if (req->op == BACKEND_OP_READ && res == 0)
		iov_from_buf(req->data_iov, req->nr_data_iov, 0, req->fd.bounce,
			     req->fd.bounce_bytes);
	free(req->fd.bounce);
	req->fd.bounce = NULL;
}

bool fd_req_dio_refused(const struct image *img, struct backend_req *req, int res,
			bool *is_copying)
{
	static bool is_logged;

	if (res != -EFAULT || !img->is_direct || req->fd.bounce ||
	    (req->op != BACKEND_OP_READ && req->op != BACKEND_OP_WRITE))
		return false;
	if (!__atomic_exchange_n(&is_logged, true, __ATOMIC_RELAXED))
		log_warn("--direct: the kernel refuses to pin the driver's buffers for O_DIRECT "
			 "(EFAULT: VDUSE's bounce buffer is mapped VM_IO from Linux 6.12.118); "
			 "copying them through the daemon's own aligned buffers instead");
	*is_copying = true;
	return fd_req_bounce_prepare(img, req, true) == 0;
}
