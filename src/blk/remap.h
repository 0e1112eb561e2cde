/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_REMAP_H
#define VDB_REMAP_H

/*
 * The rings while the driver remaps memory (remap.c): translated again
 * when the mappings move; until that works the queue touches neither ring,
 * and completions wait.  Private to src/blk/.
 */

#include <stdbool.h>

#include "blk/queue_impl.h"

/* A completion that waits for the rings. */
struct queue_deferred {
	struct blk_req *req;
	int res;                     /* what the backend said */
};

/* queue_mem_moved() - did the driver remap memory since the rings were translated? */
static inline bool queue_mem_moved(const struct blk_queue *q)
{
	return !q->is_abandoned && vq_mem_moved(&q->vq);
}

/* queue_remap() - translate the rings again; true when they are mapped now. */
bool queue_remap(struct blk_queue *q);

/* queue_defer() - @req completed with @res while the rings are unmapped: later. */
void queue_defer(struct blk_queue *q, struct blk_req *req, int res);

/* queue_undefer() - the completion deferred last, or NULL; its result in @ret_res if not NULL. */
struct blk_req *queue_undefer(struct blk_queue *q, int *ret_res);

#endif
