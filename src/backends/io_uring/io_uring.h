/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_IO_URING_H
#define VDB_BACKENDS_IO_URING_H

/*
 * Private to the io_uring backend (io_uring.c, ring.c) and its tests:
 * nothing in the daemon calls this.  A test needs the queue's own ring to
 * show what its restrictions forbid (tests/unit/test_uring.c).
 */

#include <liburing.h>

#define FILE_IMAGE 0                /* the image, registered as fixed file 0 */
#define FILE_KICK 1                 /* the kick eventfd, fixed file 1 */

struct backend_queue;

/**
 * uring_ring_setup() - a queue's ring, its fixed files, restricted and enabled
 * @image_fd: fixed file FILE_IMAGE
 * @kick_fd: fixed file FILE_KICK
 *
 * A kernel that refuses a disabled ring or restrictions as unknown (EINVAL,
 * EOPNOTSUPP) gets an unrestricted ring and one warning.  Returns 0, or
 * -errno of io_uring_setup/register (the ring is then not set up).
 */
int uring_ring_setup(struct io_uring *ring, int image_fd, int kick_fd, unsigned int entries);

/* uring_probe() - the backend's probe(): can this process make a ring at all? */
int uring_probe(void);

/* uring_queue_ring() - the ring of an io_uring backend queue (from backend_io_uring only). */
struct io_uring *uring_queue_ring(struct backend_queue *bq);

#endif
