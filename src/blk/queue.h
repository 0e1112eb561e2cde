/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_QUEUE_H
#define VDB_QUEUE_H

/*
 * One virtqueue of the block device and the loop that serves it:
 *
 *   kick -> vq_pop() -> blk_req_parse() -> backend queue_req()
 *        -> backend wait() -> blk_req_finish() -> vq_push() -> notify
 *
 * A request becomes in flight in exactly one place (queue_req_start) and
 * completes in exactly one place (queue_req_complete).  The loop runs in its
 * own thread; the calls below say which may be made from another.  What a
 * queue holds is private to src/blk/ (queue_impl.h).
 */

#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "blk/stats.h"
#include "virtio/vq.h"

struct blk_queue;

/* The counters of stats.h under their older names (the harness reads these). */
struct blk_queue_stats {
	uint64_t nr_reqs;
	uint64_t nr_read_bytes;
	uint64_t nr_write_bytes;
	uint64_t nr_io_errors;       /* completed with IOERR or UNSUPP */
	uint64_t nr_bad_chains;      /* malformed by the driver: returned with used.len 0 */
	uint64_t nr_device_faults;   /* failed by the device itself: IOERR where possible */
	uint64_t nr_kicks;
	uint64_t nr_notifies;
	uint64_t nr_batches;         /* wakeups that popped at least one chain */
	uint64_t nr_remaps;          /* ring addresses translated again */
	uint64_t nr_poll_hits;       /* busy-polls that found chains before sleeping */
	uint64_t nr_poll_misses;
};

struct blk_queue_ring {
	struct vq_config cfg;        /* layout, size and ring addresses */
	struct vq_state state;       /* where to start (VDUSE_VQ_GET_INFO) */
	/*
	 * The queue's crash journal (virtio/journal.h; or NULL: the virtqueue
	 * keeps a private one).  With is_resume the log is an earlier run's,
	 * maybe cut short by a crash: the queue resumes where it says and
	 * executes again what was in flight; state is then ignored.
	 */
	struct journal *log;
	bool is_resume;
};

/* How a queue interrupts the driver; returns 0 or -errno. */
typedef int (*blk_queue_notify_fn)(struct blk_queue *q, void *opaque);

/**
 * blk_queue_new() - a queue on its rings
 * @kick_fd: non-blocking eventfd the driver's kicks arrive on; also written
 *           by blk_queue_stop() to wake the loop
 * @ret_q: the queue, for blk_queue_run(); blk_queue_free() frees it
 * Returns 0, or -errno (-EFAULT: rings not mapped, -EINVAL, -ENOMEM).
 *
 * With ring->is_resume: -EBADMSG when the log cannot belong to these rings
 * (logged with the reason).  The requests in flight when the earlier run
 * ended run again first thing in blk_queue_run(), the queue polls its ring
 * and the driver is interrupted once.
 */
int blk_queue_new(uint16_t index, const struct blk_dev *dev, const struct image *img,
		  const struct backend_ops *be, struct mem *mem, const struct blk_queue_ring *ring,
		  int kick_fd, blk_queue_notify_fn notify, void *notify_opaque,
		  struct blk_queue **ret_q);

/* blk_queue_free() - free a queue whose loop is not running; NULL-safe. */
void blk_queue_free(struct blk_queue *q);

/*
 * blk_queue_set_counters() - count into @stats (stats.h: this queue's thread
 * writes, others snapshot) instead of the queue's own; before blk_queue_run().
 * The device keeps a queue's counters across its runs this way.
 */
void blk_queue_set_counters(struct blk_queue *q, struct blk_stats *stats);

/* blk_queue_counters() - what the queue counts into now. */
struct blk_stats *blk_queue_counters(const struct blk_queue *q);

/*
 * blk_queue_set_quiet_fd() - the eventfd an abandoned queue writes once none
 * of its requests in the backend can still change the image (default -1:
 * none); before blk_queue_run().  From then on new requests cannot be
 * overtaken by old writes.
 */
void blk_queue_set_quiet_fd(struct blk_queue *q, int quiet_fd);

/* blk_queue_vq() - the queue's virtqueue, for its state and errors (vq.h's accessors). */
const struct vq *blk_queue_vq(const struct blk_queue *q);


/**
 * blk_queue_run() - serve the queue until blk_queue_stop()
 * Call from the queue's own thread.  On stop, requests in flight are waited
 * for and completed before it returns.
 * Returns 0, or -errno when the backend fails.
 */
int blk_queue_run(struct blk_queue *q);

/* blk_queue_stop() - ask the loop to drain and return; any thread. */
void blk_queue_stop(struct blk_queue *q);

/* blk_queue_is_stopping() - was blk_queue_stop() called?  Any thread. */
bool blk_queue_is_stopping(const struct blk_queue *q);

/**
 * blk_queue_abandon() - let go of the rings without waiting for the backend
 * Any thread; after blk_queue_stop(), when draining takes too long (a stalled
 * image while the driver resets the device).  The loop stops touching the
 * rings and status bytes at its next wakeup and says so through
 * blk_queue_has_let_go(); requests still in the backend complete unseen, and
 * the loop returns once they all have.
 */
void blk_queue_abandon(struct blk_queue *q);

/* blk_queue_has_let_go() - true once an abandoned queue touches driver rings no more. */
bool blk_queue_has_let_go(struct blk_queue *q);

/* blk_queue_get_stats() - a snapshot of blk_queue_counters(); any thread. */
void blk_queue_get_stats(const struct blk_queue *q, struct blk_queue_stats *ret);

/* blk_queue_nr_deferred() - completions waiting for the rings to be mapped again; any thread. */
unsigned int blk_queue_nr_deferred(const struct blk_queue *q);

#endif
