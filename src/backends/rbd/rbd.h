/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_RBD_H
#define VDB_BACKENDS_RBD_H

/*
 * Private to the rbd backend: a Ceph RBD image through librbd's
 * asynchronous API, --image rbd:POOL/IMAGE[@SNAP].
 *
 * backend.c is the backend as the daemon sees it (built always: a build
 * without librbd still knows its name, prefix and options, and says why it
 * has none); image.c connects, opens, resizes and watches the image (one
 * connection and one image handle for the daemon, shared by every queue);
 * queue.c serves requests on that handle.  Both are built with librbd only.
 */

#include "backends/backend.h"

#define RBD_PREFIX "rbd:"

/* Its options, by their index in image_spec.opts[] (backend.c's rbd_opts[]). */
enum rbd_opt {
	RBD_OPT_CONF,               /* ceph-conf: the Ceph configuration, or librados' search */
	RBD_OPT_ID,                 /* ceph-id: the cephx client name, or "admin" */
};

#if HAVE_LIBRBD
#include <stdbool.h>
#include <stdint.h>

#include "backends/rbd/lib.h"

/* The daemon's connection to the cluster: image->priv. */
struct rbd_conn {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;          /* for teardown's flush */
	char *pool;
	char *name;
	char *snap;                 /* or NULL */
	bool is_readonly;
	bool is_failing;            /* atomic: the last request failed, and we said so */
	uint64_t watch_handle;      /* rbd_update_watch(): someone else resized the image */
	bool is_watching;
	int watch_fd;               /* written when the header changes */
};

struct backend_queue;

/* Per request (req->priv): ranges still in librbd and the first error. */
struct rbd_req {
	struct backend_queue *bq;   /* stored last (release): complete() acquires it */
	struct backend_req *req;
	struct backend_req *next;   /* on bq->completed */
	uint32_t nr_pending;        /* atomic: librbd's finisher thread decrements it */
	int error;                  /* atomic: the first error */
	uint64_t done_bytes;        /* atomic: what librbd says it read or wrote */
};

/* image.c: the image's calls (see backend.h). */
int rbd_open_image(const struct image_spec *spec, struct image *img);
void rbd_close_image(struct image *img);
int rbd_flush_image(const struct image *img);
int rbd_resize_image(struct image *img, uint64_t size_bytes, bool is_shrink,
		     const char **ret_why);
int rbd_get_image_size(const struct image *img, uint64_t *ret_bytes);
int rbd_watch_size(struct image *img, int efd);
void rbd_unwatch_size(struct image *img);

/* queue.c: the queue's calls. */
int rbd_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq);
void rbd_queue_exit(struct backend_queue *bq);
int rbd_queue_req(struct backend_queue *bq, struct backend_req *req);
int rbd_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block);
#endif

#endif
