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
 * own thread; only blk_queue_stop() may be called from another.
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

struct blk_queue {
	struct vq vq;
	uint16_t index;
	const struct blk_dev *dev;
	const struct image *img;
	const struct backend_ops *be;
	struct backend_queue *bq;
	int kick_fd;
	blk_queue_notify_fn notify;
	void *notify_opaque;

	unsigned int iov_per_req;
	struct blk_req *slots;
	void *be_privs;              /* the backend's per-request state, one per slot */
	struct iovec *iovs;
	uint16_t *free_slots;
	unsigned int nr_free;
	unsigned int nr_inflight;
	unsigned int nr_inflight_writes;  /* in the backend and may change the image */
	int quiet_fd;                /* eventfd: abandoned, and no write left in the backend (or -1) */
	bool has_signalled_quiet;
	unsigned int nr_unflushed;   /* used entries pushed since the last flush */
	bool has_unsignalled;        /* flushed since the last interrupt decision */
	uint16_t *replay_heads;      /* in flight when an earlier run ended: run them again */
	unsigned int nr_replay;
	bool must_notify;            /* interrupt once whatever the driver asked (resumed) */
	struct blk_req **deferred;   /* done while the rings were unmapped */
	unsigned int nr_deferred;    /* stored atomically: tests watch it */
	int setup_err;               /* the backend could not start: every request fails */
	bool is_stop_requested;      /* written by other threads */
	bool is_abandon_requested;   /* written by other threads */
	bool has_let_go;             /* read by other threads: the rings are no longer touched */
	bool is_abandoned;
	bool has_reported_broken;
	uint64_t poll_ns;            /* busy-poll window now: dev->poll_us, halved by each miss */
	uint64_t now_ns;             /* the clock at this wakeup (monotonic_ns()), for latencies */

	struct blk_stats *stats;     /* own_stats, or the device queue's across runs */
	struct blk_stats own_stats;
};

/**
 * blk_queue_init() - attach a queue to its rings
 * @kick_fd: non-blocking eventfd the driver's kicks arrive on; also written
 *           by blk_queue_stop() to wake the loop
 * Returns 0, or -errno (-EFAULT: rings not mapped, -EINVAL, -ENOMEM).
 */
int blk_queue_init(struct blk_queue *q, uint16_t index, const struct blk_dev *dev,
		   const struct image *img, const struct backend_ops *be,
		   struct mem *mem, const struct blk_queue_ring *ring, int kick_fd,
		   blk_queue_notify_fn notify, void *notify_opaque);

/*
 * blk_queue_init() with ring->is_resume: -EBADMSG when the log cannot
 * belong to these rings (logged with the reason).  q->nr_replay requests
 * then run again first thing in blk_queue_run(), the queue polls its ring
 * and the driver is interrupted once.
 */

/**
 * blk_queue_run() - serve the queue until blk_queue_stop()
 * Call from the queue's own thread.  On stop, requests in flight are waited
 * for and completed before it returns.
 * Returns 0, or -errno when the backend fails.
 */
int blk_queue_run(struct blk_queue *q);

/* blk_queue_stop() - ask the loop to drain and return; any thread. */
void blk_queue_stop(struct blk_queue *q);

/**
 * blk_queue_abandon() - let go of the rings without waiting for the backend
 * Any thread; after blk_queue_stop(), when draining takes too long (a stalled
 * image while the driver resets the device).  The loop stops touching the
 * rings and status bytes at its next wakeup and says so through
 * blk_queue_has_let_go(); requests still in the backend complete unseen, and
 * the loop returns once they all have.
 */
void blk_queue_abandon(struct blk_queue *q);

/*
 * An abandoned queue writes q->quiet_fd (an eventfd the caller sets, or -1)
 * once none of its requests in the backend can still change the image:
 * from then on new requests cannot be overtaken by old writes.
 */

/* blk_queue_has_let_go() - true once an abandoned queue touches driver rings no more. */
bool blk_queue_has_let_go(struct blk_queue *q);

/* blk_queue_get_stats() - a snapshot of q->stats; any thread. */
void blk_queue_get_stats(const struct blk_queue *q, struct blk_queue_stats *ret);

/* blk_queue_exit() - free what blk_queue_init() allocated; NULL-safe. */
void blk_queue_exit(struct blk_queue *q);

#endif
