/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_QUEUE_IMPL_H
#define VDB_QUEUE_IMPL_H

/*
 * Inside a block queue: what the files of its loop share.  queue.c
 * conducts (requests from pop to push, the loop); abandon.c lets go of the
 * rings at a reset, remap.c holds completions while the rings are
 * unmapped, poll.c watches the ring before sleeping (--poll-us).
 * Private to src/blk/: others go through queue.h.
 */

#include <stdbool.h>
#include <stdint.h>

#include "blk/queue.h"

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
	unsigned int nr_unflushed;   /* used entries pushed since the last flush */
	bool has_unsignalled;        /* flushed since the last interrupt decision */
	uint16_t *replay_heads;      /* in flight when an earlier run ended: run them again */
	unsigned int nr_replay;
	bool must_notify;            /* interrupt once whatever the driver asked (resumed) */
	int setup_err;               /* the backend could not start: every request fails */
	bool is_stop_requested;      /* written by other threads */
	bool has_reported_broken;
	uint64_t now_ns;             /* the clock at this wakeup (monotonic_ns()), for latencies */

	/* At a reset (abandon.c). */
	unsigned int nr_inflight_writes;  /* in the backend and may change the image */
	int quiet_fd;                /* eventfd: abandoned, and no write left in the backend (or -1) */
	bool has_signalled_quiet;
	bool is_abandon_requested;   /* written by other threads */
	bool has_let_go;             /* read by other threads: the rings are no longer touched */
	bool is_abandoned;

	/* While the rings are unmapped (remap.c). */
	struct queue_deferred *deferred;  /* completions waiting for the rings, one per slot */
	unsigned int nr_deferred;    /* stored atomically: tests watch it */

	/* Busy polling (poll.c). */
	uint64_t poll_ns;            /* busy-poll window now: dev->poll_us, halved by each miss */

	struct blk_stats *stats;     /* own_stats, or the device queue's across runs */
	struct blk_stats own_stats;
};

#endif
