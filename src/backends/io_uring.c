// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * io_uring backend: each virtqueue has its own ring.  The kick eventfd is read
 * through the same ring, so one io_uring_enter() submits a batch of I/O and
 * waits for the next kick or completion.
 *
 * Short reads and writes are resubmitted for the rest, -EAGAIN is retried;
 * a request is reported once, when all of its operations are done.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "blk.h"
#include "iov.h"

#define KICK_TAG ((uint64_t)1)   /* user_data of the kick read; requests are aligned pointers */

struct backend_queue {
	struct io_uring ring;
	int kick_fd;
	bool is_kick_armed;
	uint64_t kick_buf;
};

static struct io_uring_sqe *get_sqe(struct backend_queue *bq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bq->ring);

	if (!sqe) {
		/* The SQ is full: hand what we have to the kernel and go on. */
		io_uring_submit(&bq->ring);
		sqe = io_uring_get_sqe(&bq->ring);
	}
	return sqe;
}

static int uring_queue_init(const struct image *img, int kick_fd, unsigned int depth,
			    struct backend_queue **ret_bq)
{
	struct io_uring_params p;
	struct backend_queue *bq;
	unsigned int entries = 2 * depth + 2;
	int r;

	bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->kick_fd = kick_fd;
	/* Only this queue's thread touches the ring: let the kernel know. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	r = io_uring_queue_init_params(entries, &bq->ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		r = io_uring_queue_init_params(entries, &bq->ring, &p);
	}
	if (r < 0) {
		free(bq);
		return r;
	}
	r = io_uring_register_files(&bq->ring, &img->fd, 1);
	if (r < 0) {
		io_uring_queue_exit(&bq->ring);
		free(bq);
		return r;
	}
	*ret_bq = bq;
	return 0;
}

static void uring_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	io_uring_queue_exit(&bq->ring);
	free(bq);
}

/* Queue the (rest of the) data transfer of a READ or WRITE. */
static int prep_rw(struct backend_queue *bq, struct blk_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(bq);
	uint64_t off = req->offset_bytes + req->be.done_bytes;

	if (!sqe)
		return -EBUSY;
	if (req->op == BLK_OP_READ)
		io_uring_prep_readv(sqe, 0, req->data_iov, req->nr_data_iov, off);
	else
		io_uring_prep_writev(sqe, 0, req->data_iov, req->nr_data_iov, off);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, req);
	req->be.nr_pending++;
	return 0;
}

static int prep_simple(struct backend_queue *bq, struct blk_req *req, unsigned int i)
{
	struct io_uring_sqe *sqe = get_sqe(bq);
	const struct blk_dwz_seg *s = &req->segs[i];
	int mode;

	if (!sqe)
		return -EBUSY;
	switch (req->op) {
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, 0, mode, s->offset_bytes, s->len_bytes);
		break;
	case BLK_OP_WRITE_ZEROES:
		mode = (s->is_unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
		       FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, 0, mode, s->offset_bytes, s->len_bytes);
		break;
	default:
		return -EOPNOTSUPP;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, req);
	req->be.nr_pending++;
	return 0;
}

static int uring_queue_req(struct backend_queue *bq, struct blk_req *req)
{
	int r = 0;

	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return prep_rw(bq, req);
	case BLK_OP_FLUSH:
		return prep_simple(bq, req, 0);
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		for (unsigned int i = 0; i < req->nr_segs && r == 0; i++)
			r = prep_simple(bq, req, i);
		/* Segments already queued still complete; report the error then. */
		if (r < 0 && req->be.nr_pending) {
			req->be.error = r;
			return 0;
		}
		return r;
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * One CQE of @req.  Returns true when the request is finished, with its
 * result in req->be.error.
 */
static bool complete_op(struct backend_queue *bq, struct blk_req *req, int res)
{
	bool is_rw = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;

	req->be.nr_pending--;
	if (is_rw && res == -EAGAIN && prep_rw(bq, req) == 0)
		return false;
	if (is_rw && res > 0) {
		uint64_t left = req->data_bytes - req->be.done_bytes;

		if ((uint64_t)res > left)
			res = (int)left;
		req->be.done_bytes += (uint64_t)res;
		if ((uint64_t)res < left) {
			/* Short transfer: go on from where it stopped. */
			iov_advance(&req->data_iov, &req->nr_data_iov, (size_t)res);
			if (prep_rw(bq, req) == 0)
				return false;
			res = -EIO;
		} else {
			res = 0;
		}
	} else if (is_rw && res == 0 && req->data_bytes > req->be.done_bytes) {
		res = -EIO;   /* end of file inside the device: the image shrank */
	}
	if (res < 0 && req->be.error == 0)
		req->be.error = res;
	return req->be.nr_pending == 0;
}

static int uring_wait(struct backend_queue *bq, struct backend_event *evs,
		      unsigned int max, bool may_block)
{
	struct io_uring_cqe *cqe;
	unsigned int head, nr_cqes = 0, nr_evs = 0;
	int r;

	if (!bq->is_kick_armed) {
		struct io_uring_sqe *sqe = get_sqe(bq);

		if (sqe) {
			io_uring_prep_read(sqe, bq->kick_fd, &bq->kick_buf, sizeof(bq->kick_buf), 0);
			io_uring_sqe_set_data64(sqe, KICK_TAG);
			bq->is_kick_armed = true;
		}
	}
	r = io_uring_submit_and_wait(&bq->ring, may_block ? 1 : 0);
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		return r;

	io_uring_for_each_cqe(&bq->ring, head, cqe) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);

		if (nr_evs == max)
			break;
		nr_cqes++;
		if (tag == KICK_TAG) {
			bq->is_kick_armed = false;
			evs[nr_evs++] = (struct backend_event){ .type = BACKEND_EV_KICK };
			continue;
		}
		struct blk_req *req = (struct blk_req *)(uintptr_t)tag;

		if (complete_op(bq, req, cqe->res))
			evs[nr_evs++] = (struct backend_event){
				.type = BACKEND_EV_DONE, .req = req, .res = req->be.error,
			};
	}
	io_uring_cq_advance(&bq->ring, nr_cqes);
	return (int)nr_evs;
}

const struct backend_ops backend_io_uring = {
	.name = "io_uring",
	.queue_init = uring_queue_init,
	.queue_exit = uring_queue_exit,
	.queue_req = uring_queue_req,
	.wait = uring_wait,
};
