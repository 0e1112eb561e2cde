// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libaio backend, for kernels or sandboxes without io_uring.  Each queue has
 * its own io context; completions signal an eventfd that the queue's loop
 * polls together with the kick eventfd.  Reads, writes and flushes are
 * asynchronous and submitted in one io_submit() per batch; DISCARD and
 * WRITE_ZEROES, which Linux AIO cannot express, run synchronously.
 */
#include <errno.h>
#include <libaio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backends/aio/aio.h"
#include "backends/backend.h"
#include "backends/fd/image.h"
#include "backends/fd/req.h"
#include "backends/fd/zero.h"

struct backend_queue {
	io_context_t ctx;
	const struct image *img;
	int kick_fd;
	int aio_fd;                    /* eventfd signalled by completions */
	unsigned int depth;
	struct iocb **pending;         /* prepared, not yet submitted */
	unsigned int nr_pending;
	unsigned int nr_submitted;     /* in the io context, not yet reaped */
	struct backend_req **done;         /* finished outside the io context */
	unsigned int nr_done;
	bool has_more_events;          /* io_getevents may have more for us */
	bool has_no_aio_fsync;         /* the filesystem refused IOCB_CMD_FDSYNC */
	bool is_dio_copying;           /* O_DIRECT refused our buffers: copy (fd_req_dio_refused) */
	enum zero_mode zero_mode;
	struct zero_buf zero;
};

int aio_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq)
{
	struct backend_queue *bq = calloc(1, sizeof(*bq));
	int r;

	if (!bq)
		return -ENOMEM;
	bq->img = img;
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	bq->aio_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	bq->pending = calloc(depth, sizeof(*bq->pending));
	bq->done = calloc(depth, sizeof(*bq->done));
	if (bq->aio_fd < 0 || !bq->pending || !bq->done) {
		r = bq->aio_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	r = io_setup((int)depth, &bq->ctx);
	if (r < 0)
		goto fail;
	*ret_bq = bq;
	return 0;
fail:
	if (bq->aio_fd >= 0)
		close(bq->aio_fd);
	free(bq->pending);
	free(bq->done);
	free(bq);
	return r;
}

void aio_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	io_destroy(bq->ctx);
	close(bq->aio_fd);
	zero_buf_exit(&bq->zero);
	free(bq->pending);
	free(bq->done);
	free(bq);
}

static void finish_now(struct backend_queue *bq, struct backend_req *req, int res)
{
	fd_req_bounce_end(req, res);
	req->fd.error = res;
	bq->done[bq->nr_done++] = req;
}

/* Prepare the (rest of the) transfer of a READ or WRITE. */
static void prep_rw(struct backend_queue *bq, struct backend_req *req)
{
	struct iocb *cb = req->priv;
	long long off = (long long)(req->offset_bytes + req->fd.done_bytes);
	unsigned int nr;
	const struct iovec *iov = fd_req_iov(req, &nr);

	if (req->op == BACKEND_OP_READ)
		io_prep_preadv(cb, bq->img->fd, iov, (int)nr, off);
	else
		io_prep_pwritev(cb, bq->img->fd, iov, (int)nr, off);
	io_set_eventfd(cb, bq->aio_fd);
	cb->data = req;
	bq->pending[bq->nr_pending++] = cb;
}

static int aio_rw(struct backend_queue *bq, struct backend_req *req)
{
	prep_rw(bq, req);
	return 0;
}

static int aio_flush(struct backend_queue *bq, struct backend_req *req)
{
	struct iocb *cb = req->priv;

	if (bq->has_no_aio_fsync) {
		finish_now(bq, req, fdatasync(bq->img->fd) < 0 ? -errno : 0);
		return 0;
	}
	io_prep_fdsync(cb, bq->img->fd);
	io_set_eventfd(cb, bq->aio_fd);
	cb->data = req;
	bq->pending[bq->nr_pending++] = cb;
	return 0;
}

/* DISCARD and WRITE_ZEROES, which Linux AIO cannot express: here and now. */
static int aio_discard(struct backend_queue *bq, struct backend_req *req,
		       const struct backend_seg *seg)
{
	(void)req;
	return discard_sync(bq->img, seg->offset_bytes, seg->len_bytes);
}

static int aio_write_zeroes(struct backend_queue *bq, struct backend_req *req,
			    const struct backend_seg *seg)
{
	(void)req;
	return zero_range_sync(bq->img, &bq->zero, &bq->zero_mode, seg->offset_bytes,
			       seg->len_bytes, seg->is_unmap);
}

static int aio_ranges_end(struct backend_queue *bq, struct backend_req *req, int res)
{
	finish_now(bq, req, res);
	return 0;
}

static const struct fd_req_steps aio_steps = {
	.rw = aio_rw,
	.flush = aio_flush,
	.discard = aio_discard,
	.write_zeroes = aio_write_zeroes,
	.ranges_end = aio_ranges_end,
};

int aio_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	req->fd = (struct backend_fd_state){ 0 };
	return fd_req_start(&aio_steps, bq, bq->img, bq->is_dio_copying, req);
}

/* Hand prepared iocbs to the kernel; ones it refuses finish with that error. */
static void submit_pending(struct backend_queue *bq)
{
	unsigned int first = 0;

	while (first < bq->nr_pending) {
		int r = io_submit(bq->ctx, (long)(bq->nr_pending - first), bq->pending + first);
		struct iocb *cb;
		struct backend_req *req;

		if (r > 0) {
			first += (unsigned int)r;
			bq->nr_submitted += (unsigned int)r;
			continue;
		}
		if (r == -EAGAIN || r == 0)
			break;   /* the context is full: try again after completions */
		cb = bq->pending[first++];
		req = cb->data;
		if (fd_req_dio_refused(bq->img, req, r, &bq->is_dio_copying)) {
			prep_rw(bq, req);   /* queued behind the rest of this loop */
			continue;
		}
		if (cb->aio_lio_opcode == IO_CMD_FDSYNC && r == -EINVAL) {
			/* Not every filesystem takes IOCB_CMD_FDSYNC: sync by hand. */
			bq->has_no_aio_fsync = true;
			r = fdatasync(bq->img->fd) < 0 ? -errno : 0;
		}
		finish_now(bq, req, r);
	}
	memmove(bq->pending, bq->pending + first, (bq->nr_pending - first) * sizeof(*bq->pending));
	bq->nr_pending -= first;
}

/* One completion; returns true when the request is finished. */
static bool complete_event(struct backend_queue *bq, struct backend_req *req, long res)
{
	int r = (int)res;

	if (req->op != BACKEND_OP_READ && req->op != BACKEND_OP_WRITE) {
		req->fd.error = r < 0 ? r : 0;
		return true;
	}
	if (fd_req_rw_again(bq->img, req, &r, &bq->is_dio_copying)) {
		prep_rw(bq, req);
		return false;
	}
	req->fd.error = r;
	return true;
}

int aio_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block)
{
	struct pollfd pfd[2] = {
		{ .fd = bq->kick_fd, .events = POLLIN },
		{ .fd = bq->aio_fd, .events = POLLIN },
	};
	struct io_event events[64];
	unsigned int n = 0;
	int timeout_ms;
	uint64_t v;

	submit_pending(bq);
	while (bq->nr_done && n < max) {
		struct backend_req *req = bq->done[--bq->nr_done];

		evs[n++] = (struct backend_event){ .type = BACKEND_EV_DONE, .req = req,
						   .res = req->fd.error };
	}
	if (n || bq->has_more_events)
		may_block = false;
	/*
	 * io_submit said EAGAIN with nothing of ours in the context: no completion
	 * will wake us, so look again shortly rather than sleep on the fds.
	 */
	timeout_ms = !may_block ? 0 : bq->nr_pending && !bq->nr_submitted ? 10 : -1;
	if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	if ((pfd[0].revents & POLLIN) && n < max &&
	    read(bq->kick_fd, &v, sizeof(v)) == sizeof(v))
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	if (pfd[1].revents & POLLIN)
		(void)!read(bq->aio_fd, &v, sizeof(v));
	if ((pfd[1].revents & POLLIN) || bq->has_more_events) {
		struct timespec zero = { 0, 0 };
		long room = (long)(max - n < 64 ? max - n : 64);
		int got = room ? io_getevents(bq->ctx, 0, room, events, &zero) : 0;

		bq->has_more_events = got == room;
		if (got > 0)
			bq->nr_submitted -= (unsigned int)got;
		for (int i = 0; i < got; i++) {
			struct backend_req *req = events[i].data;

			if (!complete_event(bq, req, (long)events[i].res))
				continue;
			fd_req_bounce_end(req, req->fd.error);
			evs[n++] = (struct backend_event){
				.type = BACKEND_EV_DONE, .req = req, .res = req->fd.error,
			};
		}
	}
	return (int)n;
}
