// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rbd backend's queues (see rbd.h), all on the daemon's one handle.
 *
 * A completion comes back to the queue that started it: librbd's finisher
 * thread runs complete(), which pushes the request on that queue's
 * lock-free list and writes the queue's eventfd (the one write librbd's own
 * image notification would make); the queue's wait polls it beside the
 * kick and takes the whole list in one exchange.  No lock of ours and no
 * thread of ours.
 *
 * Requests go straight from the driver's buffers: rbd_aio_readv/writev on
 * the request's iovecs, rbd_aio_flush, rbd_aio_discard per range,
 * rbd_aio_write_zeroes per range (discard inside an object leaves the old
 * data readable, so WRITE_ZEROES never uses it).
 *
 * A request that cannot reach the cluster fails after
 * rados_osd_op_timeout (30 s unless ceph.conf says otherwise) and
 * completes as IOERR; the backend says so once for the image, and once
 * more when requests succeed again.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backends/rbd/rbd.h"
#include "log.h"
#include "util.h"

struct backend_queue {
	struct rbd_conn *conn;
	rbd_image_t image;          /* the daemon's one handle */
	int kick_fd;
	int ev_fd;                  /* written by complete() */
	unsigned int depth;
	struct backend_req **pending; /* prepared, submitted in wait() */
	unsigned int nr_pending;
	struct backend_req **done;  /* finished, not yet reported */
	unsigned int nr_done;
	unsigned int nr_in_librbd;  /* requests librbd still has */
	struct backend_req *completed; /* atomic: pushed by complete(), taken by wait() */
	unsigned int nr_notifying;  /* atomic: complete() calls between push and eventfd write */
};

int rbd_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq)
{
	struct backend_queue *bq = calloc(1, sizeof(*bq));
	int r;

	if (!bq)
		return -ENOMEM;
	bq->conn = img->priv;
	bq->image = bq->conn->image;
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	bq->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	bq->pending = calloc(depth, sizeof(*bq->pending));
	bq->done = calloc(depth, sizeof(*bq->done));
	if (bq->ev_fd < 0 || !bq->pending || !bq->done) {
		r = bq->ev_fd < 0 ? -errno : -ENOMEM;
		if (bq->ev_fd >= 0)
			close(bq->ev_fd);
		free(bq->pending);
		free(bq->done);
		free(bq);
		return r;
	}
	*ret_bq = bq;
	return 0;
}

static void take_completed(struct backend_queue *bq);

void rbd_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	/* The queue drained before it stopped; should it not have, librbd must not call back. */
	while (bq->nr_in_librbd) {
		struct pollfd pfd = { .fd = bq->ev_fd, .events = POLLIN };
		uint64_t v;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		if (read(bq->ev_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		take_completed(bq);
		bq->nr_done = 0;
	}
	/* A callback that pushed our last request may still be writing the eventfd. */
	while (__atomic_load_n(&bq->nr_notifying, __ATOMIC_ACQUIRE))
		sched_yield();
	close(bq->ev_fd);
	free(bq->pending);
	free(bq->done);
	free(bq);
}

int rbd_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	if (bq->nr_pending == bq->depth)
		return -EBUSY;
	bq->pending[bq->nr_pending++] = req;
	return 0;
}

/*
 * librbd's finisher thread: the last range of a request hands it to its
 * queue (a lock-free push) and wakes the queue's wait.
 */
static void complete(rbd_completion_t comp, void *arg)
{
	struct rbd_req *rr = arg;
	struct backend_queue *bq = __atomic_load_n(&rr->bq, __ATOMIC_ACQUIRE);
	struct backend_req *req = rr->req;
	ssize_t res = rbd_aio_get_return_value(comp);
	int no_error = 0;

	rbd_aio_release(comp);
	if (res < 0)
		__atomic_compare_exchange_n(&rr->error, &no_error, (int)res, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&rr->done_bytes, (uint64_t)res, __ATOMIC_RELAXED);

	if (__atomic_sub_fetch(&rr->nr_pending, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* Once pushed, the request may finish and the queue exit: it waits for this count. */
	__atomic_add_fetch(&bq->nr_notifying, 1, __ATOMIC_ACQ_REL);
	rr->next = __atomic_load_n(&bq->completed, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&bq->completed, &rr->next, req, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	eventfd_write(bq->ev_fd, 1);
	__atomic_sub_fetch(&bq->nr_notifying, 1, __ATOMIC_RELEASE);
}

/* wait(): everything complete() pushed, onto bq->done. */
static void take_completed(struct backend_queue *bq)
{
	struct backend_req *req = __atomic_exchange_n(&bq->completed, NULL, __ATOMIC_ACQUIRE);

	while (req) {
		struct rbd_req *rr = req->priv;

		bq->done[bq->nr_done++] = req;
		bq->nr_in_librbd--;
		req = rr->next;
	}
}

/* One asynchronous call for range @seg of @req, with a completion carrying @req. */
static int submit_one(struct backend_queue *bq, struct backend_req *req, unsigned int seg)
{
	rbd_completion_t comp;
	int r;

	r = rbd_aio_create_completion(req->priv, complete, &comp);
	if (r < 0)
		return r;
	switch (req->op) {
	case BACKEND_OP_READ:
		r = rbd_aio_readv(bq->image, req->data_iov, (int)req->nr_data_iov,
				  req->offset_bytes, comp);
		break;
	case BACKEND_OP_WRITE:
		r = rbd_aio_writev(bq->image, req->data_iov, (int)req->nr_data_iov,
				   req->offset_bytes, comp);
		break;
	case BACKEND_OP_FLUSH:
		r = rbd_aio_flush(bq->image, comp);
		break;
	case BACKEND_OP_DISCARD:
		r = rbd_aio_discard(bq->image, req->segs[seg].offset_bytes,
				    req->segs[seg].len_bytes, comp);
		break;
	case BACKEND_OP_WRITE_ZEROES:
		r = rbd_aio_write_zeroes(bq->image, req->segs[seg].offset_bytes,
					 req->segs[seg].len_bytes, comp, 0, 0);
		break;
	default:
		r = -EOPNOTSUPP;
		break;
	}
	if (r < 0)
		rbd_aio_release(comp);
	return r;
}

static void submit(struct backend_queue *bq, struct backend_req *req)
{
	struct rbd_req *rr = req->priv;
	unsigned int nr = req->op == BACKEND_OP_DISCARD || req->op == BACKEND_OP_WRITE_ZEROES ?
			  req->nr_segs : 1;
	int r = 0;

	/* A read-only image (a snapshot) has nothing to flush. */
	if (req->op == BACKEND_OP_FLUSH && bq->conn->is_readonly) {
		*rr = (struct rbd_req){ .bq = bq, .req = req };
		bq->done[bq->nr_done++] = req;
		return;
	}
	/*
	 * One reference for each range and one for us: no completion finishes
	 * it early.  @bq last, with release: librbd's thread sees all of it.
	 */
	*rr = (struct rbd_req){ .req = req, .nr_pending = nr + 1 };
	__atomic_store_n(&rr->bq, bq, __ATOMIC_RELEASE);
	bq->nr_in_librbd++;
	for (unsigned int i = 0; i < nr; i++) {
		r = submit_one(bq, req, i);
		if (r < 0) {
			int no_error = 0;

			__atomic_compare_exchange_n(&rr->error, &no_error, r, false,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			/* The ranges never submitted will not complete. */
			__atomic_sub_fetch(&rr->nr_pending, nr - i, __ATOMIC_ACQ_REL);
			break;
		}
	}
	if (__atomic_sub_fetch(&rr->nr_pending, 1, __ATOMIC_ACQ_REL) == 0) {
		bq->nr_in_librbd--;
		bq->done[bq->nr_done++] = req;
	}
}

/* Where @req's data ends in the image (WRITE_ZEROES: its last range). */
static uint64_t request_end(const struct backend_req *req)
{
	uint64_t end = 0;

	if (req->op == BACKEND_OP_READ || req->op == BACKEND_OP_WRITE)
		return req->offset_bytes + req->data_bytes;
	for (unsigned int i = 0; i < req->nr_segs; i++)
		end = MAX(end, req->segs[i].offset_bytes + req->segs[i].len_bytes);
	return end;
}

/*
 * What the request did.  librbd clips I/O at the image's end: after someone
 * else shrank the image (rbd resize --allow-shrink), a READ across the end
 * returns fewer bytes and a WRITE completes with its tail dropped, both
 * with success.  The file backends answer IOERR there, and so does this
 * one: a READ short of its length, a WRITE or WRITE_ZEROES that ends past
 * the size librbd has now (librbd returns 0 for those, not a length).
 * The daemon's own capacity check stops later requests once it followed
 * the new size (watch_size()).
 */
static int request_result(struct backend_queue *bq, struct backend_req *req)
{
	struct rbd_req *rr = req->priv;
	int res = __atomic_load_n(&rr->error, __ATOMIC_RELAXED);
	uint64_t size;

	if (res < 0)
		return res;
	if (req->op == BACKEND_OP_READ &&
	    __atomic_load_n(&rr->done_bytes, __ATOMIC_RELAXED) != req->data_bytes)
		return -EIO;
	if ((req->op == BACKEND_OP_WRITE || req->op == BACKEND_OP_WRITE_ZEROES) &&
	    (rbd_get_size(bq->image, &size) < 0 || request_end(req) > size))
		return -EIO;
	return 0;
}

/* Failures of the cluster: say so, for the image, when they start and when they stop. */
static void note_result(struct backend_queue *bq, int res)
{
	struct rbd_conn *c = bq->conn;
	bool is_failing = res < 0;

	if (__atomic_load_n(&c->is_failing, __ATOMIC_RELAXED) == is_failing ||
	    __atomic_exchange_n(&c->is_failing, is_failing, __ATOMIC_RELAXED) == is_failing)
		return;
	if (is_failing)
		log_err("rbd: image %s/%s: requests fail: %s (IOERR for the driver until the "
			"cluster serves again)", c->pool, c->name, strerror(-res));
	else
		log_info("rbd: image %s/%s: requests succeed again", c->pool, c->name);
}

int rbd_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block)
{
	struct pollfd pfd[2] = {
		{ .fd = bq->kick_fd, .events = POLLIN },
		{ .fd = bq->ev_fd, .events = POLLIN },
	};
	unsigned int n = 0;
	uint64_t v;

	for (unsigned int i = 0; i < bq->nr_pending; i++)
		submit(bq, bq->pending[i]);
	bq->nr_pending = 0;
	if (bq->nr_done)
		may_block = false;
	if (poll(pfd, 2, may_block ? -1 : 0) < 0 && errno != EINTR)
		return -errno;
	if ((pfd[0].revents & POLLIN) && read(bq->kick_fd, &v, sizeof(v)) == sizeof(v))
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	if ((pfd[1].revents & POLLIN) && read(bq->ev_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	/* Read the eventfd first: a push after the exchange writes it again. */
	take_completed(bq);
	while (bq->nr_done && n < max) {
		struct backend_req *req = bq->done[--bq->nr_done];
		int res = request_result(bq, req);

		note_result(bq, res);
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_DONE, .req = req, .res = res };
	}
	return (int)n;
}
