// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nbd backend as the daemon sees it (see nbd.h): its name, prefix and
 * options, the system calls and files it needs, its calls where this build
 * has libnbd.
 */
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "backends/nbd/nbd.h"
#include "sandbox/sandbox.h"
#include "sandbox/syscalls.h"
#include "util.h"

/*
 * libnbd connects again from the queue's thread once the device serves: a
 * stream socket (AF_UNIX for nbd+unix://, AF_INET/AF_INET6 for nbd://),
 * non-blocking connect and its SO_ERROR, TCP_NODELAY, send() and recv()
 * (sendto/recvfrom), getrandom; and for a host name getaddrinfo(): nscd's
 * Unix socket, a NETLINK_ROUTE socket for AI_ADDRCONFIG, DNS over UDP.
 */
static const struct sandbox_syscall nbd_syscalls[] = {
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_UNIX),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET6),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_DGRAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET6),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_DGRAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_NETLINK), SANDBOX_EQ32(2, NETLINK_ROUTE)),
	SANDBOX_ALLOW(connect),
	SANDBOX_ALLOW(bind),
	SANDBOX_ALLOW(getsockname),
	SANDBOX_ALLOW(getpeername),
	SANDBOX_ALLOW(setsockopt),
	SANDBOX_ALLOW(getsockopt),
	SANDBOX_ALLOW(shutdown),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendto),
	SANDBOX_ALLOW(recvfrom),
	SANDBOX_ALLOW(sendmmsg),
	SANDBOX_ALLOW_IF(fcntl, 1, SANDBOX_EQ32(1, F_GETFL)),
	SANDBOX_ALLOW_IF(fcntl, 1, SANDBOX_EQ32(1, F_SETFL)),
	SANDBOX_ALLOW(getrandom),
};

/*
 * What a reconnection opens: the Unix socket (Landlock does not control
 * connect() on it, but a live upgrade's new image checks it) and, for a
 * host name, the resolver's files.
 */
static unsigned int nbd_landlock_paths(const struct image_spec *spec, const struct image *img,
				       struct sandbox_path *paths, unsigned int max)
{
	const struct sandbox_path mine[] = {
		{ "/etc/hosts", SANDBOX_FS_READ },
		{ "/etc/resolv.conf", SANDBOX_FS_READ },
		{ "/etc/nsswitch.conf", SANDBOX_FS_READ },
		{ "/etc/gai.conf", SANDBOX_FS_READ },
	};
	unsigned int n = 0;

	(void)spec;
	(void)img;
	for (size_t i = 0; i < ARRAY_SIZE(mine) && n < max; i++)
		paths[n++] = mine[i];
	return n;
}

static const struct backend_opt nbd_opts[] = {
	[NBD_OPT_RETRY_MS] = { "nbd-retry-ms", "MS", "how long a request waits for a lost "
			       "connection to come back before it fails with IOERR (default 5000; "
			       "0: at once)", false },
	[NBD_OPT_TIMEOUT_MS] = { "nbd-timeout-ms", "MS", "how long the server may leave "
				 "requests unanswered before the connection is dropped (they "
				 "fail with IOERR) and made again (default 30000; 0: never)",
				 false },
	{ NULL },
};

const struct backend_ops backend_nbd = {
	.name = "nbd",
	.summary = "an NBD export through libnbd (qemu-nbd, nbdkit): the URI as "
		   "nbd_connect_uri(3) takes it",
	.image_prefix = NBD_PREFIX,
	.image_form = "nbd[s][+unix]://...",
	.opts = nbd_opts,
	.syscalls = nbd_syscalls,
	.nr_syscalls = ARRAY_SIZE(nbd_syscalls),
	.landlock_paths = nbd_landlock_paths,
#if HAVE_LIBNBD
	.req_priv_bytes = sizeof(struct nbd_req),
	.open = nbd_open_image,
	.close = nbd_close_image,
	.flush = nbd_flush_image,
	.get_size = nbd_get_image_size,
	.queue_init = nbd_queue_init,
	.queue_exit = nbd_queue_exit,
	.queue_req = nbd_queue_req,
	.wait = nbd_wait,
#else
	.missing = "libnbd was not found at build time: install libnbd-dev, -Dnbd=enabled",
#endif
};
