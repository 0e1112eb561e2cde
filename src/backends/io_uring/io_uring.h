/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_IO_URING_H
#define VDB_BACKENDS_IO_URING_H

/*
 * Private to the io_uring backend and its tests: nothing in the daemon calls
 * this.  A test needs the queue's own ring to show what its restrictions
 * forbid (tests/unit/test_uring.c).
 */

#include <liburing.h>

struct backend_queue;

/* uring_queue_ring() - the ring of an io_uring backend queue (from backend_io_uring only). */
struct io_uring *uring_queue_ring(struct backend_queue *bq);

#endif
