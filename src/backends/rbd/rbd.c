// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rbd backend: a Ceph RBD image through librbd's asynchronous API.
 *
 * --image rbd:POOL/IMAGE[@SNAP].  open() connects to the cluster, checks
 * the pool and the image and reads the size: one connection and one image
 * handle for the daemon, shared by every queue.  (A handle per queue, each
 * with rbd_set_image_notification() on its own eventfd, was measured
 * first: with the exclusive-lock feature, on by default, two handles that
 * write pass the lock back and forth; 4 KiB random writes at depth 32 on 2
 * queues ran at 0.35x one queue's rate, and at 0.65-0.67x the shared
 * handle's on 2 queues.  With one queue both ways were even.)
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
 * librbd's client cache is off: a write the driver saw complete must
 * survive the daemon's crash or live upgrade (the device lives on, the
 * driver sees no power loss), so it must be on the OSDs, not in our
 * memory.  A request that cannot reach the cluster fails after
 * rados_osd_op_timeout (30 s unless ceph.conf says otherwise) and
 * completes as IOERR; the backend says so once for the image, and once
 * more when requests succeed again.
 *
 * Unlike the other backends it logs its start errors itself: only it can
 * tell a missing pool from a missing image (both -ENOENT).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/backend.h"
#include "log.h"
#include "sandbox/sandbox.h"
#include "sandbox/syscalls.h"
#include "util.h"

#define RBD_PREFIX "rbd:"
#define RBD_DEFAULT_OSD_OP_TIMEOUT "30"

/* The daemon's connection to the cluster: image->priv. */
struct rbd_conn {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;          /* for teardown's flush */
	char *pool;
	char *name;
	char *snap;                 /* or NULL */
	bool is_readonly;
	bool is_failing;            /* atomic: the last request failed, and we said so */
	uint64_t watch_handle;      /* rbd_update_watch(): someone else resized the image */
	bool is_watching;
	int watch_fd;               /* written when the header changes */
};

struct backend_queue;

/* Per request (req->priv): ranges still in librbd and the first error. */
struct rbd_req {
	struct backend_queue *bq;   /* stored last (release): complete() acquires it */
	struct backend_req *req;
	struct backend_req *next;   /* on bq->completed */
	uint32_t nr_pending;        /* atomic: librbd's finisher thread decrements it */
	int error;                  /* atomic: the first error */
	uint64_t done_bytes;        /* atomic: what librbd says it read or wrote */
};

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

/* rbd:POOL/IMAGE[@SNAP] less the prefix: split into @c's pool, name and snap. */
static int parse_spec(const char *spec, struct rbd_conn *c)
{
	const char *slash = strchr(spec, '/');
	const char *at;

	if (!slash || slash == spec || !slash[1])
		return -EINVAL;
	at = strchr(slash + 1, '@');
	if (at && (at == slash + 1 || !at[1]))
		return -EINVAL;
	if (strchr(slash + 1, '/'))
		return -EINVAL;
	c->pool = strndup(spec, (size_t)(slash - spec));
	c->name = at ? strndup(slash + 1, (size_t)(at - slash - 1)) : strdup(slash + 1);
	c->snap = at ? strdup(at + 1) : NULL;
	if (!c->pool || !c->name || (at && !c->snap))
		return -ENOMEM;
	return 0;
}

static int open_handle(struct rbd_conn *c, rbd_image_t *ret)
{
	if (c->is_readonly)
		return rbd_open_read_only(c->ioctx, c->name, ret, c->snap);
	return rbd_open(c->ioctx, c->name, ret, NULL);
}

static void rbd_close_image(struct image *img)
{
	struct rbd_conn *c = img ? img->priv : NULL;

	if (!c)
		return;
	if (c->is_watching)
		rbd_update_unwatch(c->image, c->watch_handle);
	if (c->image)
		rbd_close(c->image);
	if (c->ioctx)
		rados_ioctx_destroy(c->ioctx);
	if (c->cluster)
		rados_shutdown(c->cluster);
	free(c->pool);
	free(c->name);
	free(c->snap);
	free(c);
	img->priv = NULL;
}

static int connect_cluster(const struct image_spec *spec, struct rbd_conn *c)
{
	char timeout[32] = "";
	int r;

	r = rados_create(&c->cluster, spec->ceph_id);
	if (r < 0) {
		log_err("rbd: creating a cluster handle for client '%s': %s",
			spec->ceph_id ? spec->ceph_id : "admin", strerror(-r));
		return r;
	}
	r = rados_conf_read_file(c->cluster, spec->ceph_conf);
	if (r < 0 && spec->ceph_conf) {
		log_err("rbd: reading --ceph-conf '%s': %s", spec->ceph_conf, strerror(-r));
		return r;
	}
	if (r < 0)
		log_warn("rbd: no ceph.conf found (/etc/ceph/ceph.conf, $CEPH_CONF): "
			 "using the environment and defaults");
	r = rados_conf_parse_env(c->cluster, NULL);
	if (r < 0) {
		log_err("rbd: parsing $CEPH_ARGS: %s", strerror(-r));
		return r;
	}
	/*
	 * No admin socket, ever: its thread would bind and listen, and accept
	 * under the seccomp sandbox whenever anyone connects (a monitoring
	 * agent running `ceph --admin-daemon ... version`), which the filter
	 * refuses; the daemon died of SIGSYS.  The control socket is the
	 * daemon's interface.  Under the sandbox (a live upgrade's new image
	 * connects under the old one's filter) no file may be created either:
	 * librados' log thread would die opening a client "log file" with
	 * O_CREAT.
	 */
	rados_conf_set(c->cluster, "admin_socket", "");
	if (sandbox_seccomp_is_active())
		rados_conf_set(c->cluster, "log_file", "");
	/* A completed write is on the OSDs: it survives the daemon (see the top). */
	rados_conf_set(c->cluster, "rbd_cache", "false");
	/* A cluster that is gone fails requests (IOERR) instead of hanging the driver. */
	if (rados_conf_get(c->cluster, "rados_osd_op_timeout", timeout, sizeof(timeout)) == 0 &&
	    strcmp(timeout, "0") == 0)
		rados_conf_set(c->cluster, "rados_osd_op_timeout", RBD_DEFAULT_OSD_OP_TIMEOUT);
	r = rados_connect(c->cluster);
	if (r < 0) {
		char mount_timeout[32] = "?";

		rados_conf_get(c->cluster, "client_mount_timeout", mount_timeout,
			       sizeof(mount_timeout));
		if (r == -ETIMEDOUT)
			log_err("rbd: the cluster did not answer within client mount timeout (%s s): "
				"are the monitors in %s reachable?", mount_timeout,
				spec->ceph_conf ? spec->ceph_conf : "ceph.conf");
		else if (r == -EACCES || r == -EPERM || r == -ENOENT || r == -EINVAL)
			log_err("rbd: connecting as client.%s: %s (wrong credentials, or no "
				"keyring: --ceph-id, the keyring in ceph.conf)",
				spec->ceph_id ? spec->ceph_id : "admin", strerror(-r));
		else
			log_err("rbd: connecting to the cluster: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int rbd_open_image(const struct image_spec *spec, struct image *img)
{
	struct rbd_conn *c = calloc(1, sizeof(*c));
	rbd_image_info_t info;
	uint64_t size;
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->path = spec->path;
	if (!c)
		return -ENOMEM;
	img->priv = c;
	r = parse_spec(spec->path, c);
	if (r == -EINVAL)
		log_err("--image '" RBD_PREFIX "%s': not POOL/IMAGE or POOL/IMAGE@SNAP", spec->path);
	if (r < 0)
		goto fail;
	c->is_readonly = spec->is_readonly || c->snap;
	r = connect_cluster(spec, c);
	if (r < 0)
		goto fail;
	r = rados_ioctx_create(c->cluster, c->pool, &c->ioctx);
	if (r < 0) {
		log_err("rbd: pool '%s': %s", c->pool, r == -ENOENT ? "no such pool" : strerror(-r));
		goto fail;
	}
	r = open_handle(c, &c->image);
	if (r < 0) {
		if (r == -ENOENT && c->snap)
			log_err("rbd: no image '%s' with snapshot '%s' in pool '%s'", c->name,
				c->snap, c->pool);
		else if (r == -ENOENT)
			log_err("rbd: no image '%s' in pool '%s'", c->name, c->pool);
		else
			log_err("rbd: opening image %s/%s: %s", c->pool, c->name, strerror(-r));
		goto fail;
	}
	r = rbd_get_size(c->image, &size);
	if (r == 0)
		r = rbd_stat(c->image, &info, sizeof(info));
	if (r < 0) {
		log_err("rbd: image %s/%s: reading its size: %s", c->pool, c->name, strerror(-r));
		goto fail;
	}
	img->size_bytes = size;
	img->logical_block_size = 512;
	img->physical_block_size = 4096;
	img->min_io_bytes = 4096;
	img->opt_io_bytes = info.obj_size <= (1u << 30) ? (uint32_t)info.obj_size : 0;
	img->is_readonly = c->is_readonly;
	img->can_discard = true;
	img->can_write_zeroes = true;
	return 0;
fail:
	rbd_close_image(img);
	return r;
}

static int rbd_get_image_size(const struct image *img, uint64_t *ret_bytes)
{
	struct rbd_conn *c = img->priv;

	return rbd_get_size(c->image, ret_bytes);
}

/* rbd_resize2() reports progress: nobody listens. */
static int resize_progress(uint64_t offset, uint64_t total, void *arg)
{
	(void)offset;
	(void)total;
	(void)arg;
	return 0;
}

/* The image in the cluster, for real: librbd resizes it (a shrink drops the tail). */
static int rbd_resize_image(struct image *img, uint64_t size_bytes, bool is_shrink,
			    const char **ret_why)
{
	struct rbd_conn *c = img->priv;
	uint64_t now;
	int r;

	*ret_why = "reading the rbd image's size";
	r = rbd_get_size(c->image, &now);
	if (r < 0)
		return r;
	if (now == size_bytes || (!is_shrink && now > size_bytes))
		return 0;
	*ret_why = c->snap ? "a snapshot cannot be resized" : "resizing the rbd image";
	if (c->snap)
		return -EROFS;
	r = rbd_resize2(c->image, size_bytes, is_shrink, resize_progress, NULL);
	if (r < 0)
		return r;
	/*
	 * The handle's I/O path takes the new size only once it refreshed (it
	 * answered EINVAL at the new end meanwhile); rbd_get_size() refreshes.
	 * Done before the device grows into it.
	 */
	*ret_why = "the rbd image did not take its new size";
	for (int i = 0; i < 200; i++) {
		r = rbd_get_size(c->image, &now);
		if (r < 0 || now == size_bytes)
			return r;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* librbd's thread: the header changed (a resize by another client, a snapshot...). */
static void on_header_update(void *arg)
{
	struct rbd_conn *c = arg;

	eventfd_write(c->watch_fd, 1);
}

static int rbd_watch_size(struct image *img, int efd)
{
	struct rbd_conn *c = img->priv;
	int r;

	if (c->is_watching)
		return 0;
	c->watch_fd = efd;
	r = rbd_update_watch(c->image, &c->watch_handle, on_header_update, c);
	c->is_watching = r == 0;
	return r;
}

static void rbd_unwatch_size(struct image *img)
{
	struct rbd_conn *c = img ? img->priv : NULL;

	if (!c || !c->is_watching)
		return;
	rbd_update_unwatch(c->image, c->watch_handle);
	c->is_watching = false;
}

static int rbd_flush_image(const struct image *img)
{
	struct rbd_conn *c = img->priv;

	return c && !c->is_readonly ? rbd_flush(c->image) : 0;
}

static int rbd_queue_init(const struct image *img, int kick_fd, unsigned int depth,
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

static void rbd_queue_exit(struct backend_queue *bq)
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

static int rbd_queue_req(struct backend_queue *bq, struct backend_req *req)
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

static int rbd_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
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

/*
 * librbd's messenger threads talk TCP to the monitors
 * and OSDs (and connect again after a reset or a re-exec), its event
 * loops wait in epoll, its timers and finisher threads sleep on futexes.
 * Sockets are AF_INET/AF_INET6 streams only: no raw sockets, no netlink.
 */
static const struct sandbox_syscall rbd_syscalls[] = {
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET6),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW(connect),
	SANDBOX_ALLOW(getsockname),
	SANDBOX_ALLOW(getpeername),
	SANDBOX_ALLOW(setsockopt),
	SANDBOX_ALLOW(getsockopt),
	SANDBOX_ALLOW(shutdown),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendto),
	SANDBOX_ALLOW(recvfrom),
	SANDBOX_ALLOW(epoll_create),
	SANDBOX_ALLOW(epoll_create1),
	SANDBOX_ALLOW(epoll_ctl),
	SANDBOX_ALLOW(epoll_wait),
	SANDBOX_ALLOW(epoll_pwait),
	SANDBOX_ALLOW(pipe2),
	SANDBOX_ALLOW_IF(fcntl, 1, SANDBOX_EQ32(1, F_SETFL)),
	SANDBOX_ALLOW(getrandom),
	SANDBOX_ALLOW(uname),
};

/* What librados reads when it connects again (a live upgrade). */
static unsigned int rbd_landlock_paths(const struct image_spec *spec, const struct image *img,
				       struct sandbox_path *paths, unsigned int max)
{
	const struct sandbox_path mine[] = {
		{ "/etc/ceph", SANDBOX_FS_READ },
		{ spec->ceph_conf, SANDBOX_FS_READ },
		{ spec->ceph_conf, SANDBOX_FS_READ, .is_its_dir = true },
	};
	unsigned int n = 0;

	(void)img;
	for (size_t i = 0; i < ARRAY_SIZE(mine) && n < max; i++)
		paths[n++] = mine[i];
	return n;
}

const struct backend_ops backend_rbd = {
	.name = "rbd",
	.image_prefix = RBD_PREFIX,
	.req_priv_bytes = sizeof(struct rbd_req),
	.syscalls = rbd_syscalls,
	.nr_syscalls = ARRAY_SIZE(rbd_syscalls),
	.landlock_paths = rbd_landlock_paths,
	.open = rbd_open_image,
	.close = rbd_close_image,
	.flush = rbd_flush_image,
	.resize = rbd_resize_image,
	.get_size = rbd_get_image_size,
	.watch_size = rbd_watch_size,
	.unwatch_size = rbd_unwatch_size,
	.queue_init = rbd_queue_init,
	.queue_exit = rbd_queue_exit,
	.queue_req = rbd_queue_req,
	.wait = rbd_wait,
};
