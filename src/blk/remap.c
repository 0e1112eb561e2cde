// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Following the driver's memory.  An IOTLB update may move or remove the
 * rings' mappings (vq_mem_moved()): the queue translates them again, and
 * until that works (the driver maps them back) it writes neither ring nor
 * status byte.  Requests that complete meanwhile wait here, in slots of
 * their own (one per request slot), and complete once the rings are back;
 * an abandoned queue's wait for ever and are forgotten at its end.
 */
#include <stddef.h>

#include "log.h"
#include "blk/remap.h"

bool queue_remap(struct blk_queue *q)
{
	bool was_unmapped = vq_is_unmapped(&q->vq);

	stats_add(&q->stats->remaps, 1);
	if (vq_remap(&q->vq) == 0)
		return true;
	if (!was_unmapped)
		log_warn_ratelimited("queue %u: rings not mapped after an IOTLB update; "
				     "waiting for the driver to map them", q->index);
	return false;
}

/* nr_deferred is stored atomically: other threads (tests) watch it. */
void queue_defer(struct blk_queue *q, struct blk_req *req, int res)
{
	q->deferred[q->nr_deferred] = (struct queue_deferred){ .req = req, .res = res };
	__atomic_store_n(&q->nr_deferred, q->nr_deferred + 1, __ATOMIC_RELAXED);
}

struct blk_req *queue_undefer(struct blk_queue *q, int *ret_res)
{
	struct queue_deferred *d;

	if (!q->nr_deferred)
		return NULL;
	d = &q->deferred[q->nr_deferred - 1];
	__atomic_store_n(&q->nr_deferred, q->nr_deferred - 1, __ATOMIC_RELAXED);
	if (ret_res)
		*ret_res = d->res;
	return d->req;
}

unsigned int blk_queue_nr_deferred(const struct blk_queue *q)
{
	return __atomic_load_n(&q->nr_deferred, __ATOMIC_RELAXED);
}
