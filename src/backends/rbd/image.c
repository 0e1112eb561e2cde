// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rbd backend's image (see rbd.h): open() connects to the cluster,
 * checks the pool and the image and reads the size: one connection and one
 * image handle for the daemon, shared by every queue.  (A handle per queue,
 * each with rbd_set_image_notification() on its own eventfd, was measured
 * first: with the exclusive-lock feature, on by default, two handles that
 * write pass the lock back and forth; 4 KiB random writes at depth 32 on 2
 * queues ran at 0.35x one queue's rate, and at 0.65-0.67x the shared
 * handle's on 2 queues.  With one queue both ways were even.)
 *
 * librbd's client cache is off: a write the driver saw complete must
 * survive the daemon's crash or live upgrade (the device lives on, the
 * driver sees no power loss), so it must be on the OSDs, not in our
 * memory.
 *
 * Unlike the other backends it logs its start errors itself: only it can
 * tell a missing pool from a missing image (both -ENOENT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backends/rbd/rbd.h"
#include "log.h"
#include "sandbox/sandbox.h"

#define RBD_DEFAULT_OSD_OP_TIMEOUT "30"

/* rbd:POOL/IMAGE[@SNAP] less the prefix: split into @c's pool, name and snap. */
static int parse_spec(const char *spec, struct rbd_conn *c)
{
	const char *slash = strchr(spec, '/');
	const char *at;

	if (!slash || slash == spec || !slash[1])
		return -EINVAL;
	at = strchr(slash + 1, '@');
	if (at && (at == slash + 1 || !at[1]))
		return -EINVAL;
	if (strchr(slash + 1, '/'))
		return -EINVAL;
	c->pool = strndup(spec, (size_t)(slash - spec));
	c->name = at ? strndup(slash + 1, (size_t)(at - slash - 1)) : strdup(slash + 1);
	c->snap = at ? strdup(at + 1) : NULL;
	if (!c->pool || !c->name || (at && !c->snap))
		return -ENOMEM;
	return 0;
}

static int open_handle(struct rbd_conn *c, rbd_image_t *ret)
{
	if (c->is_readonly)
		return rbd_open_read_only(c->ioctx, c->name, ret, c->snap);
	return rbd_open(c->ioctx, c->name, ret, NULL);
}

void rbd_close_image(struct image *img)
{
	struct rbd_conn *c = img ? img->priv : NULL;

	if (!c)
		return;
	if (c->is_watching)
		rbd_update_unwatch(c->image, c->watch_handle);
	if (c->image)
		rbd_close(c->image);
	if (c->ioctx)
		rados_ioctx_destroy(c->ioctx);
	if (c->cluster)
		rados_shutdown(c->cluster);
	free(c->pool);
	free(c->name);
	free(c->snap);
	free(c);
	img->priv = NULL;
}

static int connect_cluster(const struct image_spec *spec, struct rbd_conn *c)
{
	char timeout[32] = "";
	int r;

	r = rados_create(&c->cluster, spec->opts[RBD_OPT_ID]);
	if (r < 0) {
		log_err("rbd: creating a cluster handle for client '%s': %s",
			spec->opts[RBD_OPT_ID] ? spec->opts[RBD_OPT_ID] : "admin", strerror(-r));
		return r;
	}
	r = rados_conf_read_file(c->cluster, spec->opts[RBD_OPT_CONF]);
	if (r < 0 && spec->opts[RBD_OPT_CONF]) {
		log_err("rbd: reading --ceph-conf '%s': %s", spec->opts[RBD_OPT_CONF], strerror(-r));
		return r;
	}
	if (r < 0)
		log_warn("rbd: no ceph.conf found (/etc/ceph/ceph.conf, $CEPH_CONF): "
			 "using the environment and defaults");
	r = rados_conf_parse_env(c->cluster, NULL);
	if (r < 0) {
		log_err("rbd: parsing $CEPH_ARGS: %s", strerror(-r));
		return r;
	}
	/*
	 * No admin socket, ever: its thread would bind and listen, and accept
	 * under the seccomp sandbox whenever anyone connects (a monitoring
	 * agent running `ceph --admin-daemon ... version`), which the filter
	 * refuses; the daemon died of SIGSYS.  The control socket is the
	 * daemon's interface.  Under the sandbox (a live upgrade's new image
	 * connects under the old one's filter) no file may be created either:
	 * librados' log thread would die opening a client "log file" with
	 * O_CREAT.
	 */
	rados_conf_set(c->cluster, "admin_socket", "");
	if (sandbox_seccomp_is_active())
		rados_conf_set(c->cluster, "log_file", "");
	/* A completed write is on the OSDs: it survives the daemon (see the top). */
	rados_conf_set(c->cluster, "rbd_cache", "false");
	/* A cluster that is gone fails requests (IOERR) instead of hanging the driver. */
	if (rados_conf_get(c->cluster, "rados_osd_op_timeout", timeout, sizeof(timeout)) == 0 &&
	    strcmp(timeout, "0") == 0)
		rados_conf_set(c->cluster, "rados_osd_op_timeout", RBD_DEFAULT_OSD_OP_TIMEOUT);
	r = rados_connect(c->cluster);
	if (r < 0) {
		char mount_timeout[32] = "?";

		rados_conf_get(c->cluster, "client_mount_timeout", mount_timeout,
			       sizeof(mount_timeout));
		if (r == -ETIMEDOUT)
			log_err("rbd: the cluster did not answer within client mount timeout (%s s): "
				"are the monitors in %s reachable?", mount_timeout,
				spec->opts[RBD_OPT_CONF] ? spec->opts[RBD_OPT_CONF] : "ceph.conf");
		else if (r == -EACCES || r == -EPERM || r == -ENOENT || r == -EINVAL)
			log_err("rbd: connecting as client.%s: %s (wrong credentials, or no "
				"keyring: --ceph-id, the keyring in ceph.conf)",
				spec->opts[RBD_OPT_ID] ? spec->opts[RBD_OPT_ID] : "admin", strerror(-r));
		else
			log_err("rbd: connecting to the cluster: %s", strerror(-r));
		return r;
	}
	return 0;
}

int rbd_open_image(const struct image_spec *spec, struct image *img)
{
	struct rbd_conn *c = calloc(1, sizeof(*c));
	rbd_image_info_t info;
	uint64_t size;
	int r;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->path = spec->path;
	if (!c)
		return -ENOMEM;
	img->priv = c;
	r = rbd_lib_load();
	if (r == 0)
		r = parse_spec(spec->path, c);
	if (r == -EINVAL)
		log_err("--image '" RBD_PREFIX "%s': not POOL/IMAGE or POOL/IMAGE@SNAP", spec->path);
	if (r < 0)
		goto fail;
	c->is_readonly = spec->is_readonly || c->snap;
	r = connect_cluster(spec, c);
	if (r < 0)
		goto fail;
	r = rados_ioctx_create(c->cluster, c->pool, &c->ioctx);
	if (r < 0) {
		log_err("rbd: pool '%s': %s", c->pool, r == -ENOENT ? "no such pool" : strerror(-r));
		goto fail;
	}
	r = open_handle(c, &c->image);
	if (r < 0) {
		if (r == -ENOENT && c->snap)
			log_err("rbd: no image '%s' with snapshot '%s' in pool '%s'", c->name,
				c->snap, c->pool);
		else if (r == -ENOENT)
			log_err("rbd: no image '%s' in pool '%s'", c->name, c->pool);
		else
			log_err("rbd: opening image %s/%s: %s", c->pool, c->name, strerror(-r));
		goto fail;
	}
	r = rbd_get_size(c->image, &size);
	if (r == 0)
		r = rbd_stat(c->image, &info, sizeof(info));
	if (r < 0) {
		log_err("rbd: image %s/%s: reading its size: %s", c->pool, c->name, strerror(-r));
		goto fail;
	}
	img->size_bytes = size;
	img->logical_block_size = 512;
	img->physical_block_size = 4096;
	img->min_io_bytes = 4096;
	img->opt_io_bytes = info.obj_size <= (1u << 30) ? (uint32_t)info.obj_size : 0;
	img->is_readonly = c->is_readonly;
	img->can_discard = true;
	img->can_write_zeroes = true;
	return 0;
fail:
	rbd_close_image(img);
	return r;
}

int rbd_get_image_size(const struct image *img, uint64_t *ret_bytes)
{
	struct rbd_conn *c = img->priv;

	return rbd_get_size(c->image, ret_bytes);
}

/* rbd_resize2() reports progress: nobody listens. */
static int resize_progress(uint64_t offset, uint64_t total, void *arg)
{
	(void)offset;
	(void)total;
	(void)arg;
	return 0;
}

/* The image in the cluster, for real: librbd resizes it (a shrink drops the tail). */
int rbd_resize_image(struct image *img, uint64_t size_bytes, bool is_shrink,
		     const char **ret_why)
{
	struct rbd_conn *c = img->priv;
	uint64_t now;
	int r;

	*ret_why = "reading the rbd image's size";
	r = rbd_get_size(c->image, &now);
	if (r < 0)
		return r;
	if (now == size_bytes || (!is_shrink && now > size_bytes))
		return 0;
	*ret_why = c->snap ? "a snapshot cannot be resized" : "resizing the rbd image";
	if (c->snap)
		return -EROFS;
	r = rbd_resize2(c->image, size_bytes, is_shrink, resize_progress, NULL);
	if (r < 0)
		return r;
	/*
	 * The handle's I/O path takes the new size only once it refreshed (it
	 * answered EINVAL at the new end meanwhile); rbd_get_size() refreshes.
	 * Done before the device grows into it.
	 */
	*ret_why = "the rbd image did not take its new size";
	for (int i = 0; i < 200; i++) {
		r = rbd_get_size(c->image, &now);
		if (r < 0 || now == size_bytes)
			return r;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* librbd's thread: the header changed (a resize by another client, a snapshot...). */
static void on_header_update(void *arg)
{
	struct rbd_conn *c = arg;

	eventfd_write(c->watch_fd, 1);
}

int rbd_watch_size(struct image *img, int efd)
{
	struct rbd_conn *c = img->priv;
	int r;

	if (c->is_watching)
		return 0;
	c->watch_fd = efd;
	r = rbd_update_watch(c->image, &c->watch_handle, on_header_update, c);
	c->is_watching = r == 0;
	return r;
}

void rbd_unwatch_size(struct image *img)
{
	struct rbd_conn *c = img ? img->priv : NULL;

	if (!c || !c->is_watching)
		return;
	rbd_update_unwatch(c->image, c->watch_handle);
	c->is_watching = false;
}

int rbd_flush_image(const struct image *img)
{
	struct rbd_conn *c = img->priv;

	return c && !c->is_readonly ? rbd_flush(c->image) : 0;
}
