// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nbd backend's queues (see nbd.h): each virtqueue has a connection of
 * its own, driven from the queue's wait: one poll() on the kick eventfd
 * and the connection's socket, nbd_aio_notify_read/write when the socket
 * is ready, completion callbacks (run inside those calls, on this thread)
 * that put finished requests on the queue's done list.  No thread of ours,
 * no lock.
 *
 * One connection per queue is what the NBD protocol allows only when the
 * server advertises multi-conn (a flush on one connection covers writes
 * completed on the others, and every connection sees them): without it, a
 * writable export for more than one queue is refused at open (image.c),
 * and a second queue refuses to start should one come all the same.  A
 * read-only export may have a connection per queue either way.
 *
 * Data: a single-segment READ or WRITE goes straight from the driver's
 * buffer (libnbd 1.14 has no vectored call); a multi-segment one is copied
 * through bounce buffers of NBD_BOUNCE_BYTES, a command each: the queue
 * has as many as slots (mapped once: no allocation per request), and a
 * request takes up to NBD_MAX_BOUNCES of them while enough are free.
 * Measured (qemu-nbd on tmpfs, QD12): 64 KiB in 16 segments through one
 * buffer ran as fast as in one segment; 256 KiB in 16 segments as 16
 * commands ran at half the rate of one command, so a command per segment
 * is only the fallback, for a request larger than NBD_MAX_BOUNCES buffers
 * or a queue out of them.  Payloads beyond the server's maximum block
 * size are split.
 * DISCARD is NBD_CMD_TRIM; WRITE_ZEROES is NBD_CMD_WRITE_ZEROES, with
 * NBD_CMD_FLAG_NO_HOLE unless the driver allowed unmapping; FLUSH is
 * NBD_CMD_FLUSH, and succeeds at once on a server without a write cache to
 * flush (it does not advertise flush) or a read-only export.
 *
 * Faults: when the connection is lost, libnbd fails every command it holds
 * (ENOTCONN): those requests complete with IOERR, the backend says so once,
 * and connects again from the wait, after 100 ms, then doubling up to 5 s.
 * A request that arrives meanwhile waits for the new connection for
 * nbd-retry-ms (5 s by default) and fails with IOERR after that: a server
 * restarted at once (a qemu-nbd upgrade) loses nothing, and a guest never
 * sees its I/O hang past its own timeout (30 s in Linux) because of us.
 * Requests are not retried after being sent: whether a lost WRITE reached
 * the disk is unknown, and only the driver may decide to write it again.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/nbd/queue.h"
#include "log.h"
#include "util.h"
#include "virtio/iov.h"

static void finish(struct backend_queue *bq, struct nbd_req *nr)
{
	struct backend_req *req = nr->req;

	for (unsigned int i = 0; i < nr->nr_bounce; i++) {
		size_t skip = (size_t)i * NBD_BOUNCE_BYTES;

		if (req->op == BACKEND_OP_READ && nr->error == 0)
			iov_from_buf(req->data_iov, req->nr_data_iov, skip, nr->bounce[i],
				     min_u64(req->data_bytes - skip, NBD_BOUNCE_BYTES));
		bq->free_bounce[bq->nr_free_bounce++] = nr->bounce[i];
	}
	nr->nr_bounce = 0;
	bq->done[bq->nr_done++] = req;
}

static void set_error(struct nbd_req *nr, int err)
{
	if (nr->error == 0)
		nr->error = err;
}

/* One command of @nr's done (or never issued): the last finishes the request. */
static void put(struct backend_queue *bq, struct nbd_req *nr)
{
	if (--nr->nr_pending)
		return;
	bq->nr_in_libnbd--;
	finish(bq, nr);
}

/*
 * libnbd's completion callback, inside nbd_aio_notify_*() or the call that
 * found the connection dead, on the queue's thread.  A lost connection is
 * ENOTCONN: IOERR for the driver like any failure.
 */
static int command_done(void *user_data, int *error)
{
	struct nbd_req *nr = user_data;

	if (*error)
		set_error(nr, *error == ENOTCONN || *error == ESHUTDOWN ? -EIO : -*error);
	nr->bq->has_progress = true;
	put(nr->bq, nr);
	return 1;                   /* retired: libnbd forgets it */
}

/* One NBD command for @nr; false when libnbd refused it (the request has its error). */
static bool issue(struct backend_queue *bq, struct nbd_req *nr, enum backend_op op,
		  void *buf, uint64_t len, uint64_t off, uint32_t flags)
{
	nbd_completion_callback cb = { .callback = command_done, .user_data = nr };
	int64_t cookie;

	nr->nr_pending++;
	switch (op) {
	case BACKEND_OP_READ:
		cookie = nbd_aio_pread(bq->h, buf, len, off, cb, 0);
		break;
	case BACKEND_OP_WRITE:
		cookie = nbd_aio_pwrite(bq->h, buf, len, off, cb, 0);
		break;
	case BACKEND_OP_FLUSH:
		cookie = nbd_aio_flush(bq->h, cb, 0);
		break;
	case BACKEND_OP_DISCARD:
		cookie = nbd_aio_trim(bq->h, len, off, cb, 0);
		break;
	case BACKEND_OP_WRITE_ZEROES:
		cookie = nbd_aio_zero(bq->h, len, off, cb, flags);
		break;
	default:
		cookie = -1;
		break;
	}
	if (cookie >= 0)
		return true;
	/* Not issued: libnbd does not call back. */
	nr->nr_pending--;
	set_error(nr, op == BACKEND_OP_NONE ? -EOPNOTSUPP : -EIO);
	log_err_ratelimited("nbd: %s: %s at %llu: %s", bq->ni->uri, backend_op_name(op),
			    (unsigned long long)off, nbd_get_error() ? nbd_get_error() : "refused");
	return false;
}

/* @len bytes of @buf at @off, in commands of at most the server's maximum. */
static bool issue_data(struct backend_queue *bq, struct nbd_req *nr, uint8_t *buf,
		       uint64_t len, uint64_t off)
{
	while (len) {
		uint64_t n = min_u64(len, bq->ni->max_io_bytes);

		if (!issue(bq, nr, nr->req->op, buf, n, off, 0))
			return false;
		buf += n;
		off += n;
		len -= n;
	}
	return true;
}

/*
 * A multi-segment READ or WRITE through bounce buffers, a command per
 * buffer: false when it is too large or the queue has too few left (the
 * caller then sends a command per segment).
 */
static bool issue_bounced(struct backend_queue *bq, struct nbd_req *nr)
{
	struct backend_req *req = nr->req;
	uint64_t nr_bounce = (req->data_bytes + NBD_BOUNCE_BYTES - 1) / NBD_BOUNCE_BYTES;

	if (nr_bounce > NBD_MAX_BOUNCES || nr_bounce > bq->nr_free_bounce)
		return false;
	for (unsigned int i = 0; i < nr_bounce; i++)
		nr->bounce[nr->nr_bounce++] = bq->free_bounce[--bq->nr_free_bounce];
	for (unsigned int i = 0; i < nr_bounce; i++) {
		size_t skip = (size_t)i * NBD_BOUNCE_BYTES;
		uint64_t len = min_u64(req->data_bytes - skip, NBD_BOUNCE_BYTES);

		if (req->op == BACKEND_OP_WRITE)
			iov_to_buf(req->data_iov, req->nr_data_iov, skip, nr->bounce[i], len);
		if (!issue_data(bq, nr, nr->bounce[i], len, req->offset_bytes + skip))
			break;
	}
	return true;
}

static void issue_read_write(struct backend_queue *bq, struct nbd_req *nr)
{
	struct backend_req *req = nr->req;
	uint64_t off = req->offset_bytes;

	if (req->nr_data_iov == 1) {
		issue_data(bq, nr, req->data_iov[0].iov_base, req->data_bytes, off);
		return;
	}
	if (issue_bounced(bq, nr))
		return;
	for (unsigned int i = 0; i < req->nr_data_iov; i++) {
		if (!issue_data(bq, nr, req->data_iov[i].iov_base, req->data_iov[i].iov_len, off))
			return;
		off += req->data_iov[i].iov_len;
	}
}

static void issue_ranges(struct backend_queue *bq, struct nbd_req *nr)
{
	struct backend_req *req = nr->req;

	for (unsigned int i = 0; i < req->nr_segs; i++) {
		const struct backend_seg *seg = &req->segs[i];
		uint32_t flags = req->op == BACKEND_OP_WRITE_ZEROES && !seg->is_unmap ?
				 LIBNBD_CMD_FLAG_NO_HOLE : 0;

		for (uint64_t done = 0; done < seg->len_bytes;) {
			uint64_t n = min_u64(seg->len_bytes - done, NBD_MAX_RANGE_BYTES);

			if (!issue(bq, nr, req->op, NULL, n, seg->offset_bytes + done, flags))
				return;
			done += n;
		}
	}
}

/* Send @req's commands; it finishes when the last completes (or at once). */
static void submit(struct backend_queue *bq, struct backend_req *req)
{
	struct nbd_req *nr = req->priv;
	const struct nbd_image *ni = bq->ni;

	/* One reference of ours while issuing: no completion finishes it early. */
	nr->nr_pending = 1;
	/* The server's time to answer (nbd-timeout-ms) runs from here when it owed nothing. */
	if (bq->nr_in_libnbd++ == 0)
		bq->progress_ns = monotonic_ns();
	switch (req->op) {
	case BACKEND_OP_READ:
	case BACKEND_OP_WRITE:
		issue_read_write(bq, nr);
		break;
	case BACKEND_OP_FLUSH:
		if (ni->can_flush && !ni->is_readonly)
			issue(bq, nr, req->op, NULL, 0, 0, 0);
		break;
	case BACKEND_OP_DISCARD:
	case BACKEND_OP_WRITE_ZEROES:
		issue_ranges(bq, nr);
		break;
	default:
		set_error(nr, -EOPNOTSUPP);
		break;
	}
	put(bq, nr);
}

int nbd_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq)
{
	struct nbd_image *ni = img->priv;
	struct backend_queue *bq;
	size_t arena_bytes = (size_t)depth * NBD_BOUNCE_BYTES;

	if (__atomic_fetch_add(&ni->nr_queues, 1, __ATOMIC_ACQ_REL) > 0 &&
	    !ni->can_multi_conn && !ni->is_readonly) {
		__atomic_sub_fetch(&ni->nr_queues, 1, __ATOMIC_ACQ_REL);
		log_err("nbd: %s: the server does not advertise multi-conn: a writable export is "
			"served by one queue (--queues 1), or read-only by many", ni->uri);
		return -EOPNOTSUPP;
	}
	bq = calloc(1, sizeof(*bq));
	if (!bq)
		goto fail;
	bq->is_counted = true;
	bq->ni = ni;
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	bq->waiting = calloc(depth, sizeof(*bq->waiting));
	bq->done = calloc(depth, sizeof(*bq->done));
	bq->free_bounce = calloc(depth, sizeof(*bq->free_bounce));
	/* Touched as used: a queue that never bounces costs address space only. */
	bq->bounce_arena = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bq->bounce_arena == MAP_FAILED)
		bq->bounce_arena = NULL;
	if (!bq->waiting || !bq->done || !bq->free_bounce || !bq->bounce_arena)
		goto fail;
	for (unsigned int i = 0; i < depth; i++)
		bq->free_bounce[bq->nr_free_bounce++] = bq->bounce_arena +
							(size_t)i * NBD_BOUNCE_BYTES;
	nbd_conn_open(bq);
	*ret_bq = bq;
	return 0;
fail:
	nbd_queue_exit(bq);
	if (!bq)
		__atomic_sub_fetch(&ni->nr_queues, 1, __ATOMIC_ACQ_REL);
	return -ENOMEM;
}

void nbd_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	nbd_conn_close(bq);
	if (bq->is_counted)
		__atomic_sub_fetch(&bq->ni->nr_queues, 1, __ATOMIC_ACQ_REL);
	if (bq->bounce_arena)
		munmap(bq->bounce_arena, (size_t)bq->depth * NBD_BOUNCE_BYTES);
	free(bq->free_bounce);
	free(bq->waiting);
	free(bq->done);
	free(bq);
}

int nbd_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	struct nbd_req *nr = req->priv;

	if (bq->nr_waiting == bq->depth)
		return -EBUSY;
	*nr = (struct nbd_req){ .bq = bq, .req = req, .queued_ns = monotonic_ns() };
	bq->waiting[bq->nr_waiting++] = req;
	return 0;
}

/* Connected: send what waits, in order, until the connection fails (the rest waits on). */
static void submit_waiting(struct backend_queue *bq)
{
	unsigned int i;

	for (i = 0; i < bq->nr_waiting && bq->state == CONN_READY; i++) {
		submit(bq, bq->waiting[i]);
		if (nbd_aio_is_dead(bq->h) || nbd_aio_is_closed(bq->h))
			nbd_conn_lost(bq);
	}
	memmove(bq->waiting, bq->waiting + i, (bq->nr_waiting - i) * sizeof(*bq->waiting));
	bq->nr_waiting -= i;
}

/* Not connected: requests that waited nbd-retry-ms fail.  Returns ms until the next does. */
static int expire_waiting(struct backend_queue *bq, uint64_t now)
{
	uint64_t limit = (uint64_t)bq->ni->retry_ms * 1000000u;
	unsigned int n = 0, nr_failed = 0;
	int next_ms = -1;

	for (unsigned int i = 0; i < bq->nr_waiting; i++) {
		struct backend_req *req = bq->waiting[i];
		struct nbd_req *nr = req->priv;

		if (now - nr->queued_ns >= limit) {
			nr->error = -EIO;
			finish(bq, nr);
			nr_failed++;
			continue;
		}
		if (next_ms < 0)
			next_ms = (int)((nr->queued_ns + limit - now + 999999) / 1000000);
		bq->waiting[n++] = req;
	}
	bq->nr_waiting = n;
	if (nr_failed)
		log_err_ratelimited("nbd: %s: not connected for %u ms: %u request(s) fail with IOERR",
				    bq->ni->uri, bq->ni->retry_ms, nr_failed);
	return next_ms;
}

static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int nbd_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block)
{
	struct pollfd pfd[2] = { { .fd = bq->kick_fd, .events = POLLIN } };
	uint64_t now = monotonic_ns();
	int timeout, nfds = 1, r;
	unsigned int n = 0;
	uint64_t v;

	timeout = nbd_conn_tick(bq, now);
	if (bq->state == CONN_READY)
		submit_waiting(bq);
	else
		timeout = min_timeout(timeout, expire_waiting(bq, now));
	timeout = min_timeout(timeout, nbd_conn_stall_ms(bq, now));
	if (bq->nr_done || !may_block)
		timeout = 0;
	if (bq->h) {
		unsigned int dir = nbd_aio_get_direction(bq->h);

		/* Always POLLIN: a server that closes the connection is noticed at once. */
		pfd[1] = (struct pollfd){ .fd = nbd_aio_get_fd(bq->h), .events = POLLIN };
		if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			pfd[1].events |= POLLOUT;
		nfds = pfd[1].fd >= 0 ? 2 : 1;
	}
	r = poll(pfd, (nfds_t)nfds, timeout);
	if (r < 0 && errno != EINTR)
		return -errno;
	if (r > 0 && (pfd[0].revents & POLLIN) && read(bq->kick_fd, &v, sizeof(v)) == sizeof(v))
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	if (r > 0 && nfds == 2 && pfd[1].revents)
		nbd_conn_drive(bq, pfd[1].revents);
	if (bq->has_progress) {
		bq->progress_ns = monotonic_ns();
		bq->has_progress = false;
	}
	if (bq->state == CONN_READY && bq->nr_waiting)
		submit_waiting(bq);
	while (bq->nr_done && n < max) {
		struct backend_req *req = bq->done[--bq->nr_done];
		struct nbd_req *nr = req->priv;

		evs[n++] = (struct backend_event){ .type = BACKEND_EV_DONE, .req = req,
						   .res = nr->error };
	}
	return (int)n;
}
