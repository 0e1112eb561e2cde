/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_POLL_H
#define VDB_POLL_H

/*
 * Busy polling, --poll-us (poll.c): before sleeping, watch the avail ring
 * for a while with kicks off.  Private to src/blk/.
 */

#include <stdbool.h>

#include "blk/queue_impl.h"

/* queue_busy_poll_open() - chains came: open the window wide again (dev->poll_us). */
static inline void queue_busy_poll_open(struct blk_queue *q)
{
	q->poll_ns = (uint64_t)q->dev->poll_us * 1000u;
}

/* queue_may_busy_poll() - nothing in the backend to wait for, and a window open? */
static inline bool queue_may_busy_poll(const struct blk_queue *q)
{
	return q->poll_ns >= 1000 && q->nr_inflight == 0 && q->nr_free && !vq_is_broken(&q->vq) &&
	       !vq_is_unmapped(&q->vq);
}

/*
 * queue_busy_poll() - watch the ring for the window; true when there are
 * chains to pop (or a stop to heed), false when kicks are on again and
 * nothing came.
 */
bool queue_busy_poll(struct blk_queue *q);

#endif
