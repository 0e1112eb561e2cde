// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of backends. */
#include <liburing.h>
#include <string.h>

#include "backend.h"
#include "blk.h"
#include "iov.h"
#include "config.h"
#include "util.h"

static const struct backend_ops *const backends[] = {
	&backend_io_uring,
#if HAVE_LIBAIO
	&backend_aio,
#endif
	&backend_null,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *backend_names(void)
{
#if HAVE_LIBAIO
	return "io_uring, aio or null";
#else
	return "io_uring or null";
#endif
}

int backend_io_uring_probe(void)
{
	struct io_uring ring;
	int r = io_uring_queue_init(2, &ring, 0);

	if (r == 0)
		io_uring_queue_exit(&ring);
	return r;
}

const struct iovec *backend_req_iov(const struct blk_req *req, unsigned int *ret_nr)
{
	*ret_nr = req->be.bounce ? 1 : req->nr_data_iov;
	return req->be.bounce ? &req->be.bounce_iov : req->data_iov;
}

void backend_req_advance(struct blk_req *req, size_t bytes)
{
	if (req->be.bounce) {
		req->be.bounce_iov.iov_base = (char *)req->be.bounce_iov.iov_base + bytes;
		req->be.bounce_iov.iov_len -= bytes;
	} else {
		iov_advance(&req->data_iov, &req->nr_data_iov, bytes);
	}
}
