// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Letting go of a queue at a reset.  The driver resets the device and the
 * kernel wants the answer in time, but a stalled backend may hold requests
 * for longer than that: the queue is abandoned.  It touches the driver's
 * rings and memory no more, its requests complete unseen, and the next run
 * of the queue waits (the quiet eventfd) until none of the old writes can
 * land after a new request.
 */
#include <sys/eventfd.h>

#include "log.h"
#include "blk/abandon.h"

void blk_queue_abandon(struct blk_queue *q)
{
	__atomic_store_n(&q->is_abandon_requested, true, __ATOMIC_RELEASE);
	eventfd_write(q->kick_fd, 1);
}

bool blk_queue_has_let_go(struct blk_queue *q)
{
	return __atomic_load_n(&q->has_let_go, __ATOMIC_ACQUIRE);
}

void blk_queue_set_quiet_fd(struct blk_queue *q, int quiet_fd)
{
	q->quiet_fd = quiet_fd;
}

void queue_check_quiet(struct blk_queue *q)
{
	if (!q->is_abandoned || q->nr_inflight_writes || q->has_signalled_quiet)
		return;
	q->has_signalled_quiet = true;
	if (q->quiet_fd >= 0)
		eventfd_write(q->quiet_fd, 1);
}

/*
 * Requests still in the backend complete into the deferred list (remap.c),
 * as while the rings are unmapped, and are forgotten when the queue ends.
 */
void queue_abandon_now(struct blk_queue *q)
{
	q->is_abandoned = true;
	vq_set_unmapped(&q->vq);
	q->nr_unflushed = 0;
	/* Its journal is the next run's now. */
	vq_journal_let_go(&q->vq);
	stats_store(&q->stats->in_flight, 0);
	q->stats = &q->own_stats;      /* the next run writes the queue's counters */
	/* What the backend still writes must not land in memory the driver reuses. */
	if (vq_mem(&q->vq)->ops->detach)
		vq_mem(&q->vq)->ops->detach(vq_mem(&q->vq));
	log_warn("queue %u: abandoned with %u request(s) still in the backend; the driver will "
		 "not hear of them", q->index, q->nr_inflight - q->nr_deferred);
	queue_check_quiet(q);
	__atomic_store_n(&q->has_let_go, true, __ATOMIC_RELEASE);
}
