// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The per-virtqueue loop: pop every available chain, start them all, submit
 * the batch and wait in one call, then complete, publish the used entries and
 * interrupt once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "log.h"
#include "blk/abandon.h"
#include "blk/poll.h"
#include "blk/queue_impl.h"
#include "blk/remap.h"
#include "util.h"

#define EVENTS_PER_WAIT 64

void blk_queue_set_counters(struct blk_queue *q, struct blk_stats *stats)
{
	q->stats = stats;
}

struct blk_stats *blk_queue_counters(const struct blk_queue *q)
{
	return q->stats;
}

const struct vq *blk_queue_vq(const struct blk_queue *q)
{
	return &q->vq;
}

/* Counters have one writer, this thread (stats.h); others read a snapshot. */
void blk_queue_get_stats(const struct blk_queue *q, struct blk_queue_stats *ret)
{
	struct blk_stats st;

	stats_snapshot(q->stats, &st);
	*ret = (struct blk_queue_stats){
		.nr_reqs = stats_nr_ops(&st), .nr_read_bytes = st.read_bytes,
		.nr_write_bytes = st.write_bytes, .nr_io_errors = st.errors,
		.nr_bad_chains = st.driver_faults, .nr_device_faults = st.device_faults,
		.nr_kicks = st.kicks, .nr_notifies = st.interrupts, .nr_batches = st.batches,
		.nr_remaps = st.remaps, .nr_poll_hits = st.poll_hits,
		.nr_poll_misses = st.poll_misses,
	};
}

/*
 * The queue's journal (virtio/journal.h): a fresh start records the rings;
 * a resume settles what an earlier run left and lists the heads to run
 * again.  Without a section of the caller's the virtqueue keeps its own,
 * so the data path is the same.
 */
static int queue_journal_init(struct blk_queue *q, const struct blk_queue_ring *ring)
{
	const char *why = NULL;
	int r;

	if (!ring->is_resume)
		return vq_journal_start(&q->vq, ring->log, q->dev->queue_size);
	r = vq_journal_resume(&q->vq, ring->log, q->dev->queue_size, q->replay_heads,
			      &q->nr_replay, &why);
	if (r == -EBADMSG)
		log_err("queue %u: the state file does not fit the rings: %s", q->index, why);
	if (r < 0)
		return r;
	q->must_notify = true;
	return 0;
}

int blk_queue_new(uint16_t index, const struct blk_dev *dev, const struct image *img,
		  const struct backend_ops *be, struct mem *mem, const struct blk_queue_ring *ring,
		  int kick_fd, blk_queue_notify_fn notify, void *notify_opaque,
		  struct blk_queue **ret_q)
{
	struct blk_queue *q = calloc(1, sizeof(*q));
	unsigned int num;
	int r;

	*ret_q = NULL;
	if (!q)
		return -ENOMEM;
	r = vq_init(&q->vq, mem, &ring->cfg, &ring->state);
	if (r < 0)
		goto fail;
	num = ring->cfg.num;
	q->index = index;
	q->quiet_fd = -1;
	q->dev = dev;
	q->img = img;
	q->be = be;
	q->kick_fd = kick_fd;
	q->notify = notify;
	q->notify_opaque = notify_opaque;
	q->stats = &q->own_stats;
	/* Accept what we advertised (seg_max), whatever ring size the driver chose. */
	r = vq_accept_chains(&q->vq, blk_seg_max(dev->queue_size) + 2);
	if (r < 0)
		goto fail;
	q->iov_per_req = blk_iov_per_req(dev->queue_size);
	q->slots = calloc(num, sizeof(*q->slots));
	q->iovs = calloc((size_t)num * q->iov_per_req, sizeof(*q->iovs));
	q->free_slots = calloc(num, sizeof(*q->free_slots));
	q->deferred = calloc(num, sizeof(*q->deferred));
	q->replay_heads = calloc(num, sizeof(*q->replay_heads));
	q->be_privs = calloc(num, be->req_priv_bytes ? be->req_priv_bytes : 1);
	if (!q->slots || !q->iovs || !q->free_slots || !q->deferred || !q->replay_heads ||
	    !q->be_privs) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned int i = 0; i < num; i++) {
		q->slots[i].slot = (uint16_t)i;
		q->slots[i].elem.iov = &q->iovs[(size_t)i * q->iov_per_req];
		q->slots[i].priv = (char *)q->be_privs + (size_t)i * be->req_priv_bytes;
		q->free_slots[i] = (uint16_t)(num - 1 - i);
	}
	q->nr_free = num;
	r = queue_journal_init(q, ring);
	if (r < 0)
		goto fail;
	*ret_q = q;
	return 0;
fail:
	blk_queue_free(q);
	return r;
}

void blk_queue_free(struct blk_queue *q)
{
	if (!q)
		return;
	if (q->be && q->bq)
		q->be->queue_exit(q->bq);
	vq_exit(&q->vq);
	free(q->slots);
	free(q->iovs);
	free(q->free_slots);
	free(q->deferred);
	free(q->replay_heads);
	free(q->be_privs);
	free(q);
}

void blk_queue_stop(struct blk_queue *q)
{
	__atomic_store_n(&q->is_stop_requested, true, __ATOMIC_RELEASE);
	eventfd_write(q->kick_fd, 1);
}

bool blk_queue_is_stopping(const struct blk_queue *q)
{
	return __atomic_load_n(&q->is_stop_requested, __ATOMIC_ACQUIRE);
}

static void queue_broken(struct blk_queue *q, const char *why)
{
	vq_set_broken(&q->vq);
	if (!q->has_reported_broken)
		log_err("queue %u: driver broke the ring (%s); serving stopped until reset",
			q->index, why);
	q->has_reported_broken = true;
}

static uint32_t queue_mem_hold(struct blk_queue *q)
{
	struct mem *m = vq_mem(&q->vq);

	return m->ops->hold ? m->ops->hold(m) : 0;
}

/* The request's chain is translated: later mappings are not its. */
static void queue_mem_seal(struct blk_queue *q, uint32_t token)
{
	struct mem *m = vq_mem(&q->vq);

	if (m->ops->seal)
		m->ops->seal(m, token);
}

static void queue_mem_release(struct blk_queue *q, uint32_t token)
{
	struct mem *m = vq_mem(&q->vq);

	if (m->ops->release)
		m->ops->release(m, token);
}

static void queue_req_release(struct blk_queue *q, struct blk_req *req)
{
	q->nr_inflight--;
	queue_mem_release(q, req->mem_token);
	q->free_slots[q->nr_free++] = req->slot;
}

/* Make the pushed used entries visible to the driver: one store on the ring. */
static void queue_flush(struct blk_queue *q)
{
	if (!q->nr_unflushed)
		return;
	vq_flush(&q->vq);
	q->nr_unflushed = 0;
	q->has_unsignalled = true;
}

/* Return a chain to the driver (visible at the next flush). */
static void queue_push(struct blk_queue *q, uint16_t head, uint32_t len)
{
	vq_push(&q->vq, head, len);
	/* Every head came back: vq_push() takes no more before a flush. */
	if (++q->nr_unflushed == vq_num(&q->vq))
		queue_flush(q);
}

/* The image failed a request: say where, at most once a second. */
static void queue_log_error(const struct blk_queue *q, const struct blk_req *req, int res)
{
	bool is_dwz = req->op == BLK_OP_DISCARD || req->op == BLK_OP_WRITE_ZEROES;
	uint64_t off = is_dwz ? req->segs[0].offset_bytes : req->offset_bytes;
	uint64_t len = is_dwz ? req->segs[0].len_bytes : req->data_bytes;

	log_warn_ratelimited("queue %u: %s of %llu bytes at offset %llu%s failed: %s", q->index,
			     blk_op_name(req->op), (unsigned long long)len,
			     (unsigned long long)off, req->nr_segs > 1 ? " (and more ranges)" : "",
			     strerror(-res));
}

/* The one place a request completes: status, used entry, slot back. */
static void queue_req_complete(struct blk_queue *q, struct blk_req *req, int res)
{
	uint32_t len = 0;
	int status = -1;

	queue_write_end(q, req);
	if (vq_is_unmapped(&q->vq)) {
		/* No ring to put it in until the driver maps its memory again. */
		queue_defer(q, req, res);
		return;
	}
	if (req->status_ptr) {
		len = blk_req_finish(req, res);
		if (res < 0 && req->op != BLK_OP_NONE)
			queue_log_error(q, req, res);
		status = *req->status_ptr;
	} else if (!req->is_device_fault) {
		stats_driver_fault(q->stats, VQ_ERR_NONE);
	}
	stats_req_done(q->stats, req, status, q->nr_inflight - 1, q->now_ns);
	log_debug("queue %u: head %u done: op %d res %d used.len %u", q->index,
		  req->elem.head, req->op, res, len);
	queue_push(q, req->elem.head, len);
	queue_req_release(q, req);
}

/*
 * The driver remapped memory: translate the rings again (remap.c); true when
 * it did.  Completions that waited for the rings go as soon as they are back.
 */
static bool queue_follow_mem(struct blk_queue *q)
{
	struct blk_req *req;
	int res;

	if (!queue_mem_moved(q))
		return false;
	if (queue_remap(q))
		while ((req = queue_undefer(q, &res)))
			queue_req_complete(q, req, res);
	return true;
}

/*
 * The device failed the request itself (it could not reach the buffers, or
 * its backend could not start): the driver must see IOERR, in the status
 * byte when req->status_ptr found it.
 */
static void queue_req_fail(struct blk_queue *q, struct blk_req *req, int err)
{
	stats_add(&q->stats->device_faults, 1);
	req->is_device_fault = true;
	req->op = BLK_OP_NONE;
	req->status = VIRTIO_BLK_S_IOERR;
	req->in_len = 1;
	log_err_ratelimited("queue %u: head %u failed by the device (%s); %s", q->index,
			    req->elem.head, strerror(-err),
			    req->status_ptr ? "the driver gets IOERR" :
			    "its status byte is out of reach too: returned with used.len 0");
	queue_req_complete(q, req, 0);
}

/*
 * A chain the device could not translate was not parsed: its status byte is
 * the last writable byte, if the device can reach that one.
 */
static void queue_req_find_status(struct blk_queue *q, struct blk_req *req)
{
	struct iovec iov;
	unsigned int nr = 0;

	req->status_ptr = NULL;
	if (req->elem.last_in_iova != VQ_NO_STATUS &&
	    mem_to_iov(vq_mem(&q->vq), req->elem.last_in_iova, 1, MEM_WRITE, &iov, &nr, 1) == 0)
		req->status_ptr = iov.iov_base;
}

/* The one place a request becomes in flight; its memory hold is already taken. */
static void queue_req_start(struct blk_queue *q, struct blk_req *req, int pop_result)
{
	int r;

	q->nr_inflight++;
	stats_req_start(q->stats, req, q->nr_inflight, q->now_ns);
	req->is_device_fault = false;
	req->is_mutating = false;
	if (pop_result < 0)
		queue_req_find_status(q, req);
	queue_mem_seal(q, req->mem_token);
	if (pop_result < 0) {
		queue_req_fail(q, req, req->elem.fault);
		return;
	}
	r = blk_req_parse(q->dev, req);
	if (r < 0) {
		log_warn_ratelimited("queue %u: request without room for header or status",
				     q->index);
		queue_req_complete(q, req, r);
		return;
	}
	if (req->op == BLK_OP_NONE) {
		queue_req_complete(q, req, 0);
		return;
	}
	if (q->setup_err) {
		queue_req_fail(q, req, q->setup_err);
		return;
	}
	log_debug("queue %u: head %u start: op %d offset %llu bytes %llu", q->index,
		  req->elem.head, req->op, (unsigned long long)req->offset_bytes,
		  (unsigned long long)req->data_bytes);
	queue_write_begin(q, req);
	r = q->be->queue_req(q->bq, blk_req_io(req));
	if (r < 0)
		queue_req_complete(q, req, r);
}

/*
 * A chain is taken from the driver (popped, or to run again after a restart):
 * malformed, it goes straight back; otherwise it starts in its slot.
 */
static void queue_take(struct blk_queue *q, struct blk_req *req, int pop_result)
{
	if (pop_result == -EINVAL) {
		log_warn_ratelimited("queue %u: bad chain at head %u: %s", q->index,
				     req->elem.head, vq_err_str(vq_last_err(&q->vq)));
		stats_driver_fault(q->stats, vq_last_err(&q->vq));
		queue_mem_release(q, req->mem_token);
		queue_push(q, req->elem.head, 0);
		return;
	}
	q->nr_free--;
	queue_req_start(q, req, pop_result);
}

/* Pop chains into free slots until the ring is empty. Returns chains popped. */
static unsigned int queue_pop_all(struct blk_queue *q)
{
	unsigned int nr = 0;

	while (!vq_is_broken(&q->vq)) {
		struct blk_req *req;
		uint64_t nr_skipped;
		int r;

		if (q->nr_free == 0) {
			/* Every head is in flight: more available chains reuse one. */
			if (vq_has_avail(&q->vq))
				queue_broken(q, "more chains in flight than the queue size");
			break;
		}
		req = &q->slots[q->free_slots[q->nr_free - 1]];
		/* Hold before translating: an IOTLB update mid-chain must not unmap it. */
		req->mem_token = queue_mem_hold(q);
		nr_skipped = vq_nr_skipped_heads(&q->vq);
		r = vq_pop(&q->vq, &req->elem, q->iov_per_req);
		/* Heads out of range are skipped inside vq_pop(): count them here. */
		for (nr_skipped = vq_nr_skipped_heads(&q->vq) - nr_skipped; nr_skipped; nr_skipped--)
			stats_driver_fault(q->stats, VQ_ERR_HEAD_RANGE);
		if (r == 0 || r == -EIO) {
			queue_mem_release(q, req->mem_token);
			if (r == -EIO) {
				stats_driver_fault(q->stats, vq_last_err(&q->vq));
				queue_broken(q, vq_err_str(vq_last_err(&q->vq)));
			}
			break;
		}
		if (r != -EINVAL)
			nr++;
		queue_take(q, req, r);
	}
	return nr;
}

/*
 * Run again what was in flight when the last run ended (a crash, a re-exec):
 * each head's chain is still the device's, so it is translated afresh.
 */
static void queue_replay(struct blk_queue *q)
{
	unsigned int nr = q->nr_replay;

	q->nr_replay = 0;
	for (unsigned int i = 0; i < nr; i++) {
		struct blk_req *req = &q->slots[q->free_slots[q->nr_free - 1]];
		int r;

		req->mem_token = queue_mem_hold(q);
		r = vq_pop_again(&q->vq, q->replay_heads[i], &req->elem, q->iov_per_req);
		if (r == -EIO) {
			queue_mem_release(q, req->mem_token);
			break;
		}
		queue_take(q, req, r);
	}
	if (nr)
		log_info("queue %u: %u request(s) in flight before the restart run again",
			 q->index, nr);
}

/* Take what the driver made available: first what an earlier run left. */
static void queue_poll(struct blk_queue *q)
{
	unsigned int nr = 0;

	if (q->nr_replay)
		queue_replay(q);
	do {
		vq_disable_notify(&q->vq);
		nr += queue_pop_all(q);
	} while (!vq_is_broken(&q->vq) && q->nr_free && vq_enable_notify(&q->vq));
	if (nr) {
		stats_add(&q->stats->batches, 1);
		queue_busy_poll_open(q);   /* busy: open the window */
	}
}

/* Make pushed entries visible and interrupt once, if the driver wants it. */
static int queue_publish(struct blk_queue *q)
{
	queue_flush(q);
	if (q->must_notify) {
		/* Resumed: what the last run published may never have been signalled. */
		q->must_notify = false;
		q->has_unsignalled = false;
		vq_should_notify(&q->vq);    /* primes the event index */
	} else if (!q->has_unsignalled) {
		return 0;
	} else {
		q->has_unsignalled = false;
		if (!vq_should_notify(&q->vq))
			return 0;
	}
	stats_add(&q->stats->interrupts, 1);
	return q->notify(q, q->notify_opaque);
}

/* When the queue stops: what went wrong while it served, by whom. */
static void queue_report_faults(const struct blk_queue *q)
{
	char line[512];
	size_t n = 0;

	struct blk_stats st;

	stats_snapshot(q->stats, &st);
	for (int e = VQ_ERR_NONE; e < VQ_ERR_COUNT && n < sizeof(line); e++)
		if (st.driver_fault_reasons[e])
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s: %llu", n ? "; " : "",
					      e == VQ_ERR_NONE ? "no room for header or status" :
					      vq_err_str(e),
					      (unsigned long long)st.driver_fault_reasons[e]);
	if (n)
		log_info("queue %u: driver faults: %s", q->index, line);
	if (st.device_faults)
		log_info("queue %u: %llu request(s) failed by the device itself", q->index,
			 (unsigned long long)st.device_faults);
}

int blk_queue_run(struct blk_queue *q)
{
	struct backend_event evs[EVENTS_PER_WAIT];
	bool need_poll = true, is_stopping = false, was_full, is_polling;
	struct blk_req *req;
	int r;

	r = q->be->queue_init(q->img, q->kick_fd, vq_num(&q->vq), &q->bq);
	if (r < 0) {
		/* Serve the ring all the same, failing each request: a silent queue hangs the disk. */
		log_err("queue %u: backend %s could not start: %s; every request fails with IOERR",
			q->index, q->be->name, strerror(-r));
		q->setup_err = r;
		q->be = &backend_null;
		r = q->be->queue_init(q->img, q->kick_fd, vq_num(&q->vq), &q->bq);
		if (r < 0)
			return r;
	}
	for (;;) {
		if (__atomic_load_n(&q->is_stop_requested, __ATOMIC_ACQUIRE))
			is_stopping = true;
		queue_check_abandon(q);
		if (queue_follow_mem(q))
			need_poll = true;
		if (is_stopping && q->nr_inflight == q->nr_deferred)
			break;
		if (need_poll && !is_stopping && !vq_is_unmapped(&q->vq)) {
			q->now_ns = monotonic_ns();
			queue_poll(q);
		}
		need_poll = false;
		/* Nothing in the backend to wait for: maybe the driver is about to submit. */
		is_polling = !is_stopping && queue_may_busy_poll(q);
		if (is_polling)
			vq_disable_notify(&q->vq);
		r = vq_is_unmapped(&q->vq) ? 0 : queue_publish(q);
		if (r < 0)
			log_warn_ratelimited("queue %u: interrupting the driver: %s",
					     q->index, strerror(-r));
		if (is_polling && queue_busy_poll(q)) {
			need_poll = true;
			continue;
		}
		r = q->be->wait(q->bq, evs, EVENTS_PER_WAIT, true);
		if (r < 0) {
			log_err("queue %u: backend %s: %s", q->index, q->be->name, strerror(-r));
			break;
		}
		q->now_ns = monotonic_ns();
		/* Before touching either ring: were they taken from us, or remapped? */
		queue_check_abandon(q);
		if (queue_follow_mem(q))
			need_poll = true;
		/* A full queue left kicks disabled (queue_poll); slots coming back re-enable them. */
		was_full = q->nr_free == 0;
		for (int i = 0; i < r; i++) {
			if (evs[i].type == BACKEND_EV_KICK) {
				stats_add(&q->stats->kicks, 1);
				need_poll = true;
			} else {
				queue_req_complete(q, blk_req_of(evs[i].req), evs[i].res);
			}
		}
		/* Slots came back: chains a full queue left behind can go now. */
		if (q->nr_free && !vq_is_unmapped(&q->vq) && (was_full || vq_has_avail(&q->vq)))
			need_poll = true;
	}
	/* Stopped while the rings were unmapped: the reset forgets these. */
	while ((req = queue_undefer(q, NULL)))
		queue_req_release(q, req);
	stats_store(&q->stats->in_flight, q->nr_inflight);
	if (!vq_is_unmapped(&q->vq))
		queue_publish(q);
	q->be->queue_exit(q->bq);
	q->bq = NULL;
	queue_report_faults(q);
	return r < 0 ? r : 0;
}
