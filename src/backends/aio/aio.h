/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_AIO_H
#define VDB_BACKENDS_AIO_H

/*
 * Private to the aio backend: the queue calls of aio.c (built with libaio)
 * for its ops in backend.c (built always).  See backend.h for each.
 */

#include <stdbool.h>

#include "backends/backend.h"

int aio_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq);
void aio_queue_exit(struct backend_queue *bq);
int aio_queue_req(struct backend_queue *bq, struct backend_req *req);
int aio_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block);

#endif
