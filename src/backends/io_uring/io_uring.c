// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * io_uring backend: each virtqueue has its own ring.  The kick eventfd is read
 * through the same ring, so one io_uring_enter() submits a batch of I/O and
 * waits for the next kick or completion.
 *
 * Short reads and writes are resubmitted for the rest, -EAGAIN is retried;
 * a request is reported once, when all of its operations are done.
 *
 * Small requests to an image in memory (tmpfs) are read and written in place,
 * with preadv and pwritev: such files cannot do I/O without blocking, so
 * io_uring would hand each request to an io-wq worker thread, a thread switch
 * per request for what is a copy of a few pages.  Large ones still go to the
 * workers, which copy them on several CPUs at once.
 *
 * The ring holds what a compromised daemon could do with it, and seccomp
 * cannot see io_uring opcodes: so it is created disabled, given the image and
 * the kick eventfd as its only (fixed) files, restricted to the opcodes and
 * SQE flags this file uses, and only then enabled (ring.c).  After that no
 * io_uring_register() call is allowed on it, and every SQE must name a fixed
 * file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdlib.h>
#include <time.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "backends/fd/req.h"
#include "backends/io_uring/io_uring.h"
#include "log.h"
#include "util.h"
#include "backends/fd/zero.h"

#define KICK_TAG ((uint64_t)1)   /* user_data of the kick read; requests are aligned pointers */
/*
 * Largest request to an image in memory done in place.  A worker thread
 * costs about as much as copying 64 KiB (guest profile, scripts/bench.sh:
 * 4k QD32 reads 329 -> 107 us of CPU each in place, 128k QD8 reads slower
 * in place than on 2 CPUs of workers).
 */
#define IN_PLACE_MAX_BYTES (64u * 1024)
/*
 * A write in place waits for the file's lock (tmpfs takes it for writes and
 * fallocate, not for reads): behind a DISCARD or WRITE_ZEROES of GiBs, which
 * holds it in a worker for seconds, the queue's thread would sit in pwritev,
 * serving nothing.  While any queue of the process has a fallocate of an
 * image in memory in flight, writes go to the workers (counted here: one
 * image per process, an atomic, no lock).  And an in-place transfer that
 * took longer than IN_PLACE_SLOW_NS anyway (a swap-in, another process's
 * fallocate) turns in-place off for the queue for IN_PLACE_PAUSE_NS: at most
 * one such stall a second.
 */
#define IN_PLACE_SLOW_NS (10ULL * 1000 * 1000)
#define IN_PLACE_PAUSE_NS (1000ULL * 1000 * 1000)
static unsigned int nr_allocating;

struct backend_queue {
	struct io_uring ring;
	const struct image *img;
	int kick_fd;
	bool is_kick_armed;
	uint64_t kick_buf;
	enum zero_mode zero_mode;        /* best WRITE_ZEROES method the image takes */
	struct zero_buf zero;
	unsigned int nr_sync_done;       /* finished without the ring (ioctls) */
	struct backend_req **sync_done;
	bool is_dio_copying;             /* O_DIRECT refused our buffers: copy (fd_req_dio_refused) */
	uint64_t in_place_off_until_ns;  /* a slow transfer in place: the workers until then */
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
	struct backend_queue *bq;
	int r;

	bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->img = img;
	bq->kick_fd = kick_fd;
	bq->zero_mode = ZERO_FALLOC;
	bq->sync_done = calloc(depth, sizeof(*bq->sync_done));
	if (!bq->sync_done) {
		r = -ENOMEM;
		goto fail_free;
	}
	r = uring_ring_setup(&bq->ring, img->fd, kick_fd, 2 * depth + 2);
	if (r < 0)
		goto fail_free;
	*ret_bq = bq;
	return 0;
fail_free:
	free(bq->sync_done);
	free(bq);
	return r;
}

struct io_uring *uring_queue_ring(struct backend_queue *bq)
{
	return &bq->ring;
}

static void uring_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	io_uring_queue_exit(&bq->ring);
	zero_buf_exit(&bq->zero);
	free(bq->sync_done);
	free(bq);
}

static struct io_uring_sqe *prep(struct backend_queue *bq, struct backend_req *req)
{
	struct io_uring_sqe *sqe = get_sqe(bq);

	if (!sqe)
		return NULL;
	io_uring_sqe_set_data(sqe, req);
	req->fd.nr_pending++;
	return sqe;
}

/* Queue the (rest of the) data transfer of a READ or WRITE. */
static int prep_rw(struct backend_queue *bq, struct backend_req *req)
{
	uint64_t off = req->offset_bytes + req->fd.done_bytes;
	unsigned int nr;
	const struct iovec *iov = fd_req_iov(req, &nr);
	struct io_uring_sqe *sqe = prep(bq, req);

	if (!sqe)
		return -EBUSY;
	if (req->op == BACKEND_OP_READ)
		io_uring_prep_readv(sqe, FILE_IMAGE, iov, nr, off);
	else
		io_uring_prep_writev(sqe, FILE_IMAGE, iov, nr, off);
	sqe->flags |= IOSQE_FIXED_FILE;
	return 0;
}

static int prep_fallocate(struct backend_queue *bq, struct backend_req *req, int mode,
			  uint64_t off, uint64_t len, bool is_linked)
{
	struct io_uring_sqe *sqe = prep(bq, req);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, FILE_IMAGE, mode, off, len);
	sqe->flags |= IOSQE_FIXED_FILE | (is_linked ? IOSQE_IO_LINK : 0);
	return 0;
}

/* Zeroes written from a shared zero buffer, in chunks. */
static int prep_zero_writes(struct backend_queue *bq, struct backend_req *req, uint64_t off,
			    uint64_t len)
{
	int r = zero_buf_init(&bq->zero);

	if (r < 0)
		return r;
	while (len) {
		uint64_t n = len < bq->zero.len_bytes ? len : bq->zero.len_bytes;
		struct io_uring_sqe *sqe = prep(bq, req);

		if (!sqe)
			return -EBUSY;
		io_uring_prep_write(sqe, FILE_IMAGE, bq->zero.buf, (unsigned int)n, off);
		sqe->flags |= IOSQE_FIXED_FILE;
		off += n;
		len -= n;
	}
	return 0;
}

static int prep_write_zeroes(struct backend_queue *bq, struct backend_req *req,
			     const struct backend_seg *s)
{
	const int keep = FALLOC_FL_KEEP_SIZE;

	/* The unmap flag allows deallocation: punching keeps reads at zero. */
	if (s->is_unmap && req->fd.zero_mode == ZERO_FALLOC)
		return prep_fallocate(bq, req, FALLOC_FL_PUNCH_HOLE | keep, s->offset_bytes,
				      s->len_bytes, false);
	switch (req->fd.zero_mode) {
	case ZERO_FALLOC:
		return prep_fallocate(bq, req, FALLOC_FL_ZERO_RANGE | keep, s->offset_bytes,
				      s->len_bytes, false);
	case ZERO_PUNCH_ALLOC:
		/* No ZERO_RANGE (tmpfs): punch, then allocate again. */
		if (prep_fallocate(bq, req, FALLOC_FL_PUNCH_HOLE | keep, s->offset_bytes,
				   s->len_bytes, true) < 0)
			return -EBUSY;
		return prep_fallocate(bq, req, keep, s->offset_bytes, s->len_bytes, false);
	default:
		return prep_zero_writes(bq, req, s->offset_bytes, s->len_bytes);
	}
}

static void sync_done(struct backend_queue *bq, struct backend_req *req, int res)
{
	req->fd.error = res;
	bq->sync_done[bq->nr_sync_done++] = req;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Small, of an image in memory, and nothing in sight that makes it wait. */
static bool may_do_in_place(struct backend_queue *bq, const struct backend_req *req)
{
	if (!bq->img->is_in_memory || req->data_bytes > IN_PLACE_MAX_BYTES)
		return false;
	if (req->op == BACKEND_OP_WRITE && __atomic_load_n(&nr_allocating, __ATOMIC_ACQUIRE))
		return false;
	return !bq->in_place_off_until_ns || now_ns() >= bq->in_place_off_until_ns;
}

/* A DISCARD or WRITE_ZEROES of an image in memory starts or ends (see nr_allocating). */
static void note_allocating(struct backend_req *req, bool is_allocating)
{
	if (req->fd.is_allocating == is_allocating)
		return;
	req->fd.is_allocating = is_allocating;
	if (is_allocating)
		__atomic_add_fetch(&nr_allocating, 1, __ATOMIC_ACQ_REL);
	else
		__atomic_sub_fetch(&nr_allocating, 1, __ATOMIC_ACQ_REL);
}

/* READ or WRITE of an image in memory, in place: finished at the next wait(). */
static void rw_in_place(struct backend_queue *bq, struct backend_req *req)
{
	uint64_t t0 = now_ns(), took;
	int r = 0;

	while (req->fd.done_bytes < req->data_bytes) {
		uint64_t off = req->offset_bytes + req->fd.done_bytes;
		unsigned int nr;
		const struct iovec *iov = fd_req_iov(req, &nr);
		ssize_t n = req->op == BACKEND_OP_READ ? preadv(bq->img->fd, iov, (int)nr, (off_t)off)
						   : pwritev(bq->img->fd, iov, (int)nr, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* 0: end of file inside the device, the image shrank */
			r = n < 0 ? -errno : -EIO;
			break;
		}
		req->fd.done_bytes += (uint64_t)n;
		if (req->fd.done_bytes < req->data_bytes)
			fd_req_advance(req, (size_t)n);
	}
	took = now_ns() - t0;
	if (took > IN_PLACE_SLOW_NS) {
		bq->in_place_off_until_ns = t0 + took + IN_PLACE_PAUSE_NS;
		log_debug("in-place %s of %llu bytes took %llu ms: through io_uring's workers "
			  "for a while", backend_op_name(req->op), (unsigned long long)req->data_bytes,
			  (unsigned long long)(took / 1000000));
	}
	fd_req_bounce_end(req, r);
	sync_done(bq, req, r);
}

/* READ, WRITE: in place (an image in memory), or through the ring. */
static int uring_rw(struct backend_queue *bq, struct backend_req *req)
{
	int r;

	if (may_do_in_place(bq, req)) {
		rw_in_place(bq, req);
		return 0;
	}
	r = prep_rw(bq, req);
	if (r < 0)
		fd_req_bounce_end(req, r);
	return r;
}

/* FLUSH: fdatasync of the image, everything written before is stable. */
static int uring_flush(struct backend_queue *bq, struct backend_req *req)
{
	struct io_uring_sqe *sqe = prep(bq, req);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, FILE_IMAGE, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE;
	return 0;
}

/* DISCARD: a hole punched; on a block device BLKDISCARD, which liburing 2.3 cannot queue. */
static int uring_discard(struct backend_queue *bq, struct backend_req *req,
			 const struct backend_seg *seg)
{
	if (bq->img->is_blockdev)
		return discard_sync(bq->img, seg->offset_bytes, seg->len_bytes);
	if (bq->img->is_in_memory)
		note_allocating(req, true);
	return prep_fallocate(bq, req, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      seg->offset_bytes, seg->len_bytes, false);
}

static int uring_write_zeroes(struct backend_queue *bq, struct backend_req *req,
			      const struct backend_seg *seg)
{
	if (bq->img->is_in_memory)
		note_allocating(req, true);
	if (req->fd.zero_mode < bq->zero_mode)
		req->fd.zero_mode = bq->zero_mode;
	return prep_write_zeroes(bq, req, seg);
}

static int uring_ranges_end(struct backend_queue *bq, struct backend_req *req, int r)
{
	/* BLKDISCARD waited: the request is done. */
	if (req->op == BACKEND_OP_DISCARD && bq->img->is_blockdev) {
		sync_done(bq, req, r);
		return 0;
	}
	/* Operations already queued still complete; report the error then. */
	if (r < 0 && req->fd.nr_pending) {
		req->fd.error = r;
		return 0;
	}
	if (r < 0)
		note_allocating(req, false);
	return r;
}

static const struct fd_req_steps uring_steps = {
	.rw = uring_rw,
	.flush = uring_flush,
	.discard = uring_discard,
	.write_zeroes = uring_write_zeroes,
	.ranges_end = uring_ranges_end,
};

static int uring_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	return fd_req_start(&uring_steps, bq, bq->img, bq->is_dio_copying, req);
}

/* queue_req(): a request starts, with none of an earlier one's bookkeeping. */
static int uring_start(struct backend_queue *bq, struct backend_req *req)
{
	req->fd = (struct backend_fd_state){ 0 };
	return uring_queue_req(bq, req);
}

static bool has_unmap(const struct backend_req *req)
{
	for (unsigned int i = 0; i < req->nr_segs; i++)
		if (req->segs[i].is_unmap)
			return true;
	return false;
}

/* A finished request that should be tried another way; true when requeued. */
static bool retry_other_way(struct backend_queue *bq, struct backend_req *req)
{
	int r;

	/* Only "not supported" steps down: EINVAL is the request's own error. */
	if (req->fd.error != -EOPNOTSUPP)
		return false;
	if (req->op == BACKEND_OP_DISCARD) {
		req->fd.error = 0;   /* no hole punching here: discard is a hint */
		return false;
	}
	if (req->op != BACKEND_OP_WRITE_ZEROES)
		return false;
	if (has_unmap(req)) {
		/* Deallocating is allowed, not required: zero in place instead. */
		for (unsigned int i = 0; i < req->nr_segs; i++)
			req->segs[i].is_unmap = false;
	} else if (req->fd.zero_mode < ZERO_WRITE) {
		req->fd.zero_mode++;
		if (bq->zero_mode < req->fd.zero_mode)
			bq->zero_mode = req->fd.zero_mode;
	} else {
		return false;
	}
	req->fd.error = 0;
	req->fd.done_bytes = 0;
	r = uring_queue_req(bq, req);
	if (r < 0 && !req->fd.nr_pending)
		req->fd.error = r;
	return req->fd.nr_pending > 0;
}

/* Did the zero-writing fallback write every byte it was asked for? */
static bool zero_writes_complete(const struct backend_req *req)
{
	uint64_t total = 0;

	if (req->op != BACKEND_OP_WRITE_ZEROES || req->fd.zero_mode != ZERO_WRITE)
		return true;
	for (unsigned int i = 0; i < req->nr_segs; i++)
		total += req->segs[i].len_bytes;
	return req->fd.done_bytes == total;
}

/*
 * One CQE of @req.  Returns true when the request is finished, with its
 * result in req->fd.error.
 */
static bool complete_op(struct backend_queue *bq, struct backend_req *req, int res)
{
	bool is_rw = req->op == BACKEND_OP_READ || req->op == BACKEND_OP_WRITE;

	req->fd.nr_pending--;
	if (is_rw && fd_req_rw_again(bq->img, req, &res, &bq->is_dio_copying) &&
	    prep_rw(bq, req) == 0)
		return false;
	if (res == -ECANCELED) {
		res = 0;      /* a linked operation whose predecessor failed: that error counts */
	} else if (req->op == BACKEND_OP_WRITE_ZEROES && res > 0) {
		req->fd.done_bytes += (uint64_t)res;   /* a chunk of zeroes written */
		res = 0;
	}
	if (res < 0 && req->fd.error == 0)
		req->fd.error = res;
	if (req->fd.nr_pending)
		return false;
	if (req->fd.error == 0 && !zero_writes_complete(req))
		req->fd.error = -EIO;   /* a short write left part of the range unzeroed */
	if (retry_other_way(bq, req))
		return false;
	note_allocating(req, false);
	fd_req_bounce_end(req, req->fd.error);
	return true;
}

static int uring_wait(struct backend_queue *bq, struct backend_event *evs,
		      unsigned int max, bool may_block)
{
	struct io_uring_cqe *cqe;
	unsigned int head, nr_cqes = 0, nr_evs = 0;
	int r;

	while (bq->nr_sync_done && nr_evs < max) {
		struct backend_req *req = bq->sync_done[--bq->nr_sync_done];

		evs[nr_evs++] = (struct backend_event){
			.type = BACKEND_EV_DONE, .req = req, .res = req->fd.error,
		};
	}
	if (nr_evs)
		may_block = false;
	if (!bq->is_kick_armed) {
		struct io_uring_sqe *sqe = get_sqe(bq);

		if (sqe) {
			io_uring_prep_read(sqe, FILE_KICK, &bq->kick_buf, sizeof(bq->kick_buf), 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, KICK_TAG);
			bq->is_kick_armed = true;
		}
	}
	r = io_uring_submit_and_wait(&bq->ring, may_block ? 1 : 0);
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		return r;

	io_uring_for_each_cqe(&bq->ring, head, cqe) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		struct backend_req *req;

		if (nr_evs == max)
			break;
		nr_cqes++;
		if (tag == KICK_TAG) {
			bq->is_kick_armed = false;
			evs[nr_evs++] = (struct backend_event){ .type = BACKEND_EV_KICK };
			continue;
		}
		req = (struct backend_req *)(uintptr_t)tag;
		if (complete_op(bq, req, cqe->res))
			evs[nr_evs++] = (struct backend_event){
				.type = BACKEND_EV_DONE, .req = req, .res = req->fd.error,
			};
	}
	io_uring_cq_advance(&bq->ring, nr_cqes);
	return (int)nr_evs;
}

/* One ring per queue, made at DRIVER_OK, and the probe of a live upgrade's new image. */
static const struct sandbox_syscall uring_syscalls[] = {
	FD_IMAGE_SYSCALLS,
	SANDBOX_ALLOW(io_uring_setup),
	SANDBOX_ALLOW(io_uring_enter),
	SANDBOX_ALLOW(io_uring_register),
};

const struct backend_ops backend_io_uring = {
	.name = "io_uring",
	.summary = "one io_uring per queue (the default; aio is used when io_uring "
		   "is unavailable)",
	.probe = uring_probe,
	.syscalls = uring_syscalls,
	.nr_syscalls = ARRAY_SIZE(uring_syscalls),
	FD_IMAGE_OPS,
	.queue_init = uring_queue_init,
	.queue_exit = uring_queue_exit,
	.queue_req = uring_start,
	.wait = uring_wait,
};
