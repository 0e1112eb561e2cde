// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rbd backend as the daemon sees it (see rbd.h): its name, prefix and
 * options, the system calls and files it needs, its calls where this build
 * has librbd.
 */
#include <fcntl.h>
#include <sys/socket.h>

#include "backends/rbd/rbd.h"
#include "sandbox/sandbox.h"
#include "sandbox/syscalls.h"
#include "util.h"

/*
 * librbd's messenger threads talk TCP to the monitors and OSDs (and
 * connect again after a reset or a re-exec), its event loops wait in epoll,
 * its timers and finisher threads sleep on futexes.  Sockets are
 * AF_INET/AF_INET6 streams only: no raw sockets, no netlink.
 */
static const struct sandbox_syscall rbd_syscalls[] = {
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW_IF(socket, 2, SANDBOX_EQ32(0, AF_INET6),
			 SANDBOX_HAS_EXACTLY(1, 0xf, SOCK_STREAM)),
	SANDBOX_ALLOW(connect),
	SANDBOX_ALLOW(getsockname),
	SANDBOX_ALLOW(getpeername),
	SANDBOX_ALLOW(setsockopt),
	SANDBOX_ALLOW(getsockopt),
	SANDBOX_ALLOW(shutdown),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendto),
	SANDBOX_ALLOW(recvfrom),
	SANDBOX_ALLOW(epoll_create),
	SANDBOX_ALLOW(epoll_create1),
	SANDBOX_ALLOW(epoll_ctl),
	SANDBOX_ALLOW(epoll_wait),
	SANDBOX_ALLOW(epoll_pwait),
	SANDBOX_ALLOW(pipe2),
	SANDBOX_ALLOW_IF(fcntl, 1, SANDBOX_EQ32(1, F_SETFL)),
	SANDBOX_ALLOW(getrandom),
	SANDBOX_ALLOW(uname),
};

/* What librados reads when it connects again (a live upgrade). */
static unsigned int rbd_landlock_paths(const struct image_spec *spec, const struct image *img,
				       struct sandbox_path *paths, unsigned int max)
{
	const struct sandbox_path mine[] = {
		{ "/etc/ceph", SANDBOX_FS_READ },
		{ spec->opts[RBD_OPT_CONF], SANDBOX_FS_READ },
		{ spec->opts[RBD_OPT_CONF], SANDBOX_FS_READ, .is_its_dir = true },
	};
	unsigned int n = 0;

	(void)img;
	for (size_t i = 0; i < ARRAY_SIZE(mine) && n < max; i++)
		paths[n++] = mine[i];
	return n;
}

/* As --ceph-conf and --ceph-id too (or --backend-opt ceph-conf=PATH, ...). */
static const struct backend_opt rbd_opts[] = {
	[RBD_OPT_CONF] = { "ceph-conf", "PATH", "the Ceph configuration (default: librados' "
			   "search, /etc/ceph/ceph.conf)", true },
	[RBD_OPT_ID] = { "ceph-id", "NAME", "the cephx client name without \"client.\" (default "
			 "admin); the keyring is found where ceph.conf says", true },
	{ NULL },
};

const struct backend_ops backend_rbd = {
	.name = "rbd",
	.summary = "a Ceph RBD image (a snapshot read-only)",
	.image_prefix = RBD_PREFIX,
	.image_form = RBD_PREFIX "POOL/IMAGE[@SNAP]",
	.opts = rbd_opts,
	.syscalls = rbd_syscalls,
	.nr_syscalls = ARRAY_SIZE(rbd_syscalls),
	.landlock_paths = rbd_landlock_paths,
#if HAVE_LIBRBD
	.req_priv_bytes = sizeof(struct rbd_req),
	.open = rbd_open_image,
	.close = rbd_close_image,
	.flush = rbd_flush_image,
	.resize = rbd_resize_image,
	.get_size = rbd_get_image_size,
	.watch_size = rbd_watch_size,
	.unwatch_size = rbd_unwatch_size,
	.queue_init = rbd_queue_init,
	.queue_exit = rbd_queue_exit,
	.queue_req = rbd_queue_req,
	.wait = rbd_wait,
#else
	.missing = "librbd was not found at build time: install librbd-dev, -Drbd=enabled",
#endif
};
