// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * null backend: every request succeeds at once, reads return zeroes and
 * writes go nowhere.  For measuring the daemon without the image's cost.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "util.h"
#include "virtio/iov.h"

struct backend_queue {
	int kick_fd;
	unsigned int depth;
	unsigned int nr_done;
	struct backend_req **done;    /* finished, not yet reported */
};

static int null_queue_init(const struct image *img, int kick_fd, unsigned int depth,
			   struct backend_queue **ret_bq)
{
	struct backend_queue *bq;

	(void)img;
	bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->done = calloc(depth, sizeof(*bq->done));
	if (!bq->done) {
		free(bq);
		return -ENOMEM;
	}
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	*ret_bq = bq;
	return 0;
}

static void null_queue_exit(struct backend_queue *bq)
{
	if (!bq)
		return;
	free(bq->done);
	free(bq);
}

static int null_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	if (bq->nr_done == bq->depth)
		return -EBUSY;
	if (req->op == BACKEND_OP_READ)
		iov_memset(req->data_iov, req->nr_data_iov, 0);
	bq->done[bq->nr_done++] = req;
	return 0;
}

static int null_wait(struct backend_queue *bq, struct backend_event *evs,
		     unsigned int max, bool may_block)
{
	struct pollfd pfd = { .fd = bq->kick_fd, .events = POLLIN };
	unsigned int n = 0;
	uint64_t v;

	if (bq->nr_done)
		may_block = false;
	if (poll(&pfd, 1, may_block ? -1 : 0) < 0 && errno != EINTR)
		return -errno;
	if ((pfd.revents & POLLIN) && read(bq->kick_fd, &v, sizeof(v)) == sizeof(v))
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	while (bq->nr_done && n < max) {
		evs[n++] = (struct backend_event){
			.type = BACKEND_EV_DONE, .req = bq->done[--bq->nr_done], .res = 0,
		};
	}
	return (int)n;
}

/* Its image is a file or device all the same: opened, flushed, resized. */
static const struct sandbox_syscall null_syscalls[] = {
	FD_IMAGE_SYSCALLS,
};

const struct backend_ops backend_null = {
	.name = "null",
	.summary = "discards writes, reads zeroes",
	.syscalls = null_syscalls,
	.nr_syscalls = ARRAY_SIZE(null_syscalls),
	FD_IMAGE_OPS,
	.queue_init = null_queue_init,
	.queue_exit = null_queue_exit,
	.queue_req = null_queue_req,
	.wait = null_wait,
};
