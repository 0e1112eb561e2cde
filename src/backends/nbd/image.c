// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nbd backend's image (see nbd.h): open() connects to the URI, reads
 * what the server advertises and keeps that first connection for the first
 * queue (a server that takes one client at a time, qemu-nbd's default,
 * then sees one connection, not two).  Every other queue connects again
 * (queue.c), and so does a queue whose connection was lost: each new
 * connection must reach the same export (its size, and writable if it
 * was).
 *
 * Unlike the file backends it logs its start errors itself: only libnbd
 * can say whether nothing listened, the handshake failed or the server has
 * no such export, and it says so in nbd_get_error().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/nbd/nbd.h"
#include "log.h"
#include "util.h"

/* The largest READ/WRITE payload when the server does not say (the NBD spec's 32 MiB). */
#define NBD_DEFAULT_MAX_IO (32u << 20)

/* What may follow "nbd" in --image: the URI schemes libnbd knows. */
static bool is_nbd_uri(const char *rest)
{
	static const char *const tails[] = {
		"://", "s://", "+unix://", "s+unix://", "+vsock://", "s+vsock://",
	};

	for (size_t i = 0; i < ARRAY_SIZE(tails); i++)
		if (strncmp(rest, tails[i], strlen(tails[i])) == 0)
			return true;
	return false;
}

/* --backend-opt @name=@arg: milliseconds from 0 to an hour, @dflt when not given. */
static int parse_ms(const char *name, const char *arg, uint32_t dflt, uint32_t *ret_ms)
{
	char *end;
	unsigned long v;

	if (!arg) {
		*ret_ms = dflt;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v > 3600000ul) {
		log_err("--backend-opt %s=%s: not a number of milliseconds from 0 to 3600000",
			name, arg);
		return -EINVAL;
	}
	*ret_ms = (uint32_t)v;
	return 0;
}

/* Why this thread's last nbd_connect_start() failed: libnbd's message goes with the close. */
static __thread char connect_error[256];
static __thread int connect_errno;

const char *nbd_connect_error(int *ret_errno)
{
	if (ret_errno)
		*ret_errno = connect_errno > 0 ? connect_errno : EIO;
	return connect_error;
}

struct nbd_handle *nbd_connect_start(const struct nbd_image *ni, bool is_async)
{
	struct nbd_handle *h = nbd_create();
	int r;

	if (h) {
		/* READs go into the driver's buffers, which it does not read after an IOERR. */
		nbd_set_pread_initialize(h, false);
		r = is_async ? nbd_aio_connect_uri(h, ni->uri) : nbd_connect_uri(h, ni->uri);
		if (r == 0)
			return h;
	}
	snprintf(connect_error, sizeof(connect_error), "%s",
		 nbd_get_error() ? nbd_get_error() : "out of memory");
	connect_errno = nbd_get_errno();
	nbd_close(h);
	return NULL;
}

int nbd_check_same(const struct nbd_image *ni, struct nbd_handle *h)
{
	int64_t size = nbd_get_size(h);

	if (size < 0) {
		log_err("nbd: %s: reading the export's size: %s", ni->uri, nbd_get_error());
		return -EIO;
	}
	if ((uint64_t)size != ni->size_bytes) {
		log_err("nbd: %s: the export is now %lld bytes, not %llu: not serving it",
			ni->uri, (long long)size, (unsigned long long)ni->size_bytes);
		return -ESTALE;
	}
	if (!ni->is_readonly && nbd_is_read_only(h) != 0) {
		log_err("nbd: %s: the export is read-only now: not serving it", ni->uri);
		return -EROFS;
	}
	return 0;
}

/* The server's block sizes: min (alignment), preferred, max (payload). */
static void read_block_sizes(struct nbd_handle *h, struct nbd_image *ni, struct image *img)
{
	int64_t min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	int64_t max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	uint32_t lbs = 512;

	/* A minimum above 512 (4096: a 4Kn disk behind it) is the device's block size. */
	if (min > 512 && min <= 65536 && (min & (min - 1)) == 0)
		lbs = (uint32_t)min;
	img->logical_block_size = lbs;
	img->physical_block_size = lbs;
	if (pref > lbs && pref <= (1 << 20) && (pref & (pref - 1)) == 0)
		img->physical_block_size = (uint32_t)pref;
	img->min_io_bytes = img->physical_block_size;
	ni->max_io_bytes = NBD_DEFAULT_MAX_IO;
	if (max >= lbs && max < NBD_DEFAULT_MAX_IO)
		ni->max_io_bytes = (uint32_t)(max - max % lbs);
	img->opt_io_bytes = 0;
}

int nbd_open_image(const struct image_spec *spec, struct image *img)
{
	struct nbd_image *ni = calloc(1, sizeof(*ni));
	int64_t size;
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->path = spec->path;
	if (!ni)
		return -ENOMEM;
	img->priv = ni;
	r = nbd_lib_load();
	if (r < 0)
		goto fail;
	if (!is_nbd_uri(spec->path)) {
		log_err("--image '" NBD_PREFIX "%s': not an NBD URI (nbd://HOST[:PORT]/EXPORT, "
			"nbd+unix:///EXPORT?socket=PATH, nbds://...)", spec->path);
		r = -EINVAL;
		goto fail;
	}
	r = parse_ms("nbd-retry-ms", spec->opts[NBD_OPT_RETRY_MS], NBD_DEFAULT_RETRY_MS,
		     &ni->retry_ms);
	if (r == 0)
		r = parse_ms("nbd-timeout-ms", spec->opts[NBD_OPT_TIMEOUT_MS],
			     NBD_DEFAULT_TIMEOUT_MS, &ni->timeout_ms);
	if (r < 0)
		goto fail;
	if (asprintf(&ni->uri, NBD_PREFIX "%s", spec->path) < 0) {
		ni->uri = NULL;
		r = -ENOMEM;
		goto fail;
	}
	ni->first = nbd_connect_start(ni, false);
	if (!ni->first) {
		const char *why = nbd_connect_error(&r);

		r = -r;
		log_err("nbd: connecting to '%s': %s", ni->uri, why);
		/* Not -EACCES and the like: the daemon would try again read-only. */
		if (r == -EACCES || r == -EPERM || r == -EROFS)
			r = -ECONNREFUSED;
		goto fail;
	}
	size = nbd_get_size(ni->first);
	if (size < 0) {
		log_err("nbd: %s: reading the export's size: %s", ni->uri, nbd_get_error());
		r = -EIO;
		goto fail;
	}
	ni->size_bytes = (uint64_t)size;
	ni->is_readonly = spec->is_readonly || nbd_is_read_only(ni->first) == 1;
	ni->can_flush = nbd_can_flush(ni->first) == 1;
	ni->can_trim = nbd_can_trim(ni->first) == 1;
	ni->can_zero = nbd_can_zero(ni->first) == 1;
	ni->can_multi_conn = nbd_can_multi_conn(ni->first) == 1;
	/* One connection per queue is consistent only with multi-conn: say so before serving. */
	if (!ni->can_multi_conn && !ni->is_readonly && spec->nr_queues > 1) {
		log_err("nbd: %s: the server does not advertise multi-conn, so %u connections "
			"(one per queue) could lose flushed writes: serve it with --queues 1, or "
			"--readonly (qemu-nbd: --shared=N with N above 1 advertises it)", ni->uri,
			spec->nr_queues);
		r = -EOPNOTSUPP;
		goto fail;
	}
	read_block_sizes(ni->first, ni, img);
	img->size_bytes = ni->size_bytes;
	img->is_readonly = ni->is_readonly;
	img->can_discard = ni->can_trim;
	img->can_write_zeroes = ni->can_zero;
	/* No flush advertised: writes are stable when answered, and FLUSH is not offered. */
	img->is_write_through = !ni->can_flush;
	return 0;
fail:
	nbd_close_image(img);
	return r;
}

void nbd_close_image(struct image *img)
{
	struct nbd_image *ni = img ? img->priv : NULL;

	if (!ni)
		return;
	if (ni->first)
		nbd_close(ni->first);
	free(ni->uri);
	free(ni);
	img->priv = NULL;
}

/*
 * Teardown: the first connection, if no queue took it (with multi-conn a
 * flush on one connection covers them all).  Each queue flushed its own
 * connection when it stopped (queue.c), so there is nothing left otherwise.
 */
int nbd_flush_image(const struct image *img)
{
	struct nbd_image *ni = img->priv;
	struct nbd_handle *h = ni ? __atomic_load_n(&ni->first, __ATOMIC_ACQUIRE) : NULL;

	if (!h || ni->is_readonly || !ni->can_flush)
		return 0;
	if (nbd_flush(h, 0) < 0)
		return nbd_get_errno() > 0 ? -nbd_get_errno() : -EIO;
	return 0;
}

/* NBD exports do not change size under a connection: what open() read. */
int nbd_get_image_size(const struct image *img, uint64_t *ret_bytes)
{
	const struct nbd_image *ni = img->priv;

	*ret_bytes = ni->size_bytes;
	return 0;
}
