/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_ABANDON_H
#define VDB_ABANDON_H

/*
 * A queue let go of at a reset (abandon.c): blk_queue_abandon() asks, the
 * queue's thread lets go of the rings at its next wakeup, and says on the
 * quiet eventfd once no write of its own can still reach the image.
 * Private to src/blk/.
 */

#include "blk/queue_impl.h"

/* queue_abandon_now() - queue_check_abandon()'s rare part: let go of the rings. */
void queue_abandon_now(struct blk_queue *q);

/*
 * queue_check_abandon() - the queue's thread, at each wakeup: let go of
 * the rings if asked to.  From then on the rings and the status bytes are
 * not the queue's; its requests still in the backend complete unseen.
 * Inline: twice per wakeup, and almost always nothing to do.
 */
static inline void queue_check_abandon(struct blk_queue *q)
{
	if (__builtin_expect(!q->is_abandoned &&
			     __atomic_load_n(&q->is_abandon_requested, __ATOMIC_ACQUIRE), 0))
		queue_abandon_now(q);
}

/* queue_check_quiet() - abandoned, and no write left in the backend? Say so, once. */
void queue_check_quiet(struct blk_queue *q);

/* A request goes to the backend: count it if it may change the image. */
static inline void queue_write_begin(struct blk_queue *q, struct blk_req *req)
{
	req->is_mutating = req->op == BLK_OP_WRITE || req->op == BLK_OP_WRITE_ZEROES ||
			   req->op == BLK_OP_DISCARD;
	if (req->is_mutating)
		q->nr_inflight_writes++;
}

/* The backend is done with a request, whatever becomes of its used entry. */
static inline void queue_write_end(struct blk_queue *q, struct blk_req *req)
{
	if (!req->is_mutating)
		return;
	req->is_mutating = false;
	q->nr_inflight_writes--;
	if (q->is_abandoned)
		queue_check_quiet(q);
}

#endif
