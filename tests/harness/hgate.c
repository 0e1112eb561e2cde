// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gate backend: like null, but requests stay in flight until the test
 * opens the gate; see hcommon.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hcommon.h"

static int gate_fd = -1;              /* eventfd: written once to open the gate */
static unsigned int gate_nr_held;     /* requests queued so far (atomic) */

struct backend_queue {
	int kick_fd;
	bool is_open;
	unsigned int depth, nr_held;
	struct backend_req **held;
};

static int gate_queue_init(const struct image *img, int kick_fd, unsigned int depth,
			   struct backend_queue **ret_bq)
{
	struct backend_queue *bq = calloc(1, sizeof(*bq));

	(void)img;
	if (!bq)
		return -ENOMEM;
	bq->held = calloc(depth, sizeof(*bq->held));
	if (!bq->held) {
		free(bq);
		return -ENOMEM;
	}
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	*ret_bq = bq;
	return 0;
}

static void gate_queue_exit(struct backend_queue *bq)
{
	if (bq)
		free(bq->held);
	free(bq);
}

int gate_late_fill = -1;

static void fill_read(struct backend_req *req, int byte)
{
	for (unsigned int i = 0; i < req->nr_data_iov; i++)
		memset(req->data_iov[i].iov_base, byte, req->data_iov[i].iov_len);
}

static int gate_queue_req(struct backend_queue *bq, struct backend_req *req)
{
	if (bq->nr_held == bq->depth)
		return -EBUSY;
	if (req->op == BACKEND_OP_READ && __atomic_load_n(&gate_late_fill, __ATOMIC_ACQUIRE) < 0)
		for (unsigned int i = 0; i < req->nr_data_iov; i++)
			memset(req->data_iov[i].iov_base, 0, req->data_iov[i].iov_len);
	bq->held[bq->nr_held++] = req;
	__atomic_add_fetch(&gate_nr_held, 1, __ATOMIC_RELEASE);
	return 0;
}

static int gate_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
		     bool may_block)
{
	struct pollfd p[2] = { { .fd = bq->kick_fd, .events = POLLIN },
			       { .fd = gate_fd, .events = POLLIN } };
	unsigned int n = 0;
	eventfd_t v;

	if (bq->is_open && bq->nr_held)
		may_block = false;
	if (poll(p, 2, may_block ? -1 : 0) < 0 && errno != EINTR)
		return -errno;
	if ((p[0].revents & POLLIN) && eventfd_read(bq->kick_fd, &v) == 0)
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	if (p[1].revents & POLLIN)
		bq->is_open = true;   /* the eventfd stays readable: the gate stays open */
	while (bq->is_open && bq->nr_held && n < max) {
		struct backend_req *req = bq->held[--bq->nr_held];

		/* A backend that writes the data as it completes, like a late READ. */
		int fill = __atomic_load_n(&gate_late_fill, __ATOMIC_ACQUIRE);

		if (req->op == BACKEND_OP_READ && fill >= 0)
			fill_read(req, fill);
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_DONE, .req = req, .res = 0 };
	}
	return (int)n;
}

/* Its image is the file the harness opened, as the null backend's. */
static const struct sandbox_syscall gate_syscalls[] = {
	FD_IMAGE_SYSCALLS,
};

const struct backend_ops gate_ops = {
	.name = "gate",
	.syscalls = gate_syscalls,
	.nr_syscalls = sizeof(gate_syscalls) / sizeof(gate_syscalls[0]),
	.queue_init = gate_queue_init,
	.queue_exit = gate_queue_exit,
	.queue_req = gate_queue_req,
	.wait = gate_wait,
};

int gate_reset(void)
{
	gate_close();
	gate_nr_held = 0;
	__atomic_store_n(&gate_late_fill, -1, __ATOMIC_RELEASE);
	gate_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return gate_fd < 0 ? -errno : 0;
}

void gate_close(void)
{
	if (gate_fd >= 0)
		close(gate_fd);
	gate_fd = -1;
}

void gate_open(void)
{
	if (gate_fd >= 0)
		eventfd_write(gate_fd, 1);
}

unsigned int gate_held(void)
{
	return __atomic_load_n(&gate_nr_held, __ATOMIC_ACQUIRE);
}

void gate_wait_held(unsigned int n)
{
	struct timespec ms = { 0, 1000000L };

	for (int i = 0; i < WAIT_MS && gate_held() < n; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(gate_held(), n);
}
