// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The aio backend as the daemon sees it (see aio.c): one Linux AIO context
 * per queue, the fallback where io_uring is unavailable.  Built always:
 * a build without libaio still knows the name and says why it has none.
 */
#include "backends/backend.h"
#include "backends/fd/image.h"
#include "util.h"
#if HAVE_LIBAIO
#include <libaio.h>

#include "backends/aio/aio.h"
#endif

/* One context per queue. */
static const struct sandbox_syscall aio_syscalls[] = {
	FD_IMAGE_SYSCALLS,
	SANDBOX_ALLOW(io_setup),
	SANDBOX_ALLOW(io_submit),
	SANDBOX_ALLOW(io_getevents),
	SANDBOX_ALLOW(io_pgetevents),
	SANDBOX_ALLOW(io_destroy),
	SANDBOX_ALLOW(io_cancel),
};

const struct backend_ops backend_aio = {
	.name = "aio",
	.summary = "one Linux AIO context per queue (libaio)",
	.syscalls = aio_syscalls,
	.nr_syscalls = ARRAY_SIZE(aio_syscalls),
#if HAVE_LIBAIO
	.req_priv_bytes = sizeof(struct iocb),   /* each request's own control block */
	FD_IMAGE_OPS,
	.queue_init = aio_queue_init,
	.queue_exit = aio_queue_exit,
	.queue_req = aio_queue_req,
	.wait = aio_wait,
#else
	.missing = "libaio was not found at build time: install libaio-dev, -Dlibaio=enabled",
#endif
};
