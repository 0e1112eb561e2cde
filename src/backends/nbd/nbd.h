/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_NBD_H
#define VDB_BACKENDS_NBD_H

/*
 * Private to the nbd backend: an NBD export through libnbd, --image
 * nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, nbds://...
 * (the URIs nbd_connect_uri(3) takes).
 *
 * backend.c is the backend as the daemon sees it (built always: a build
 * without libnbd still knows its name, prefix and options, and says why it
 * has none); image.c connects once at start, reads what the server
 * advertises (size, read-only, block sizes, flush, trim, zero, multi-conn)
 * and keeps that connection for the first queue; queue.c serves each
 * virtqueue on a connection of its own, driven from the queue's wait, and
 * conn.c makes, loses and makes again that connection (queue.h).
 */

#include "backends/backend.h"

/* What --image starts with: the "://", "+unix://", "s://"... after it is checked in open(). */
#define NBD_PREFIX "nbd"

/* Its options, by their index in image_spec.opts[] (backend.c's nbd_opts[]). */
enum nbd_opt {
	NBD_OPT_RETRY_MS,           /* nbd-retry-ms: how long a request waits for a reconnect */
	NBD_OPT_TIMEOUT_MS,         /* nbd-timeout-ms: how long the server may leave us unanswered */
};

#define NBD_DEFAULT_RETRY_MS 5000u
#define NBD_DEFAULT_TIMEOUT_MS 30000u

#if HAVE_LIBNBD
#include <stdbool.h>
#include <stdint.h>

#include "backends/nbd/lib.h"

/* What the server advertised at start, the URI, and the first connection: image->priv. */
struct nbd_image {
	char *uri;                  /* "nbd" + spec->path */
	struct nbd_handle *first;   /* handed to the first queue (atomic exchange), or NULL */
	uint64_t size_bytes;
	uint32_t max_io_bytes;      /* the largest READ/WRITE payload the server takes */
	uint32_t retry_ms;          /* nbd-retry-ms */
	uint32_t timeout_ms;        /* nbd-timeout-ms; 0: wait for ever */
	bool is_readonly;
	bool can_flush;
	bool can_trim;
	bool can_zero;
	bool can_multi_conn;
	unsigned int nr_queues;     /* atomic: queues started on it, for the multi-conn rule */
};

struct backend_queue;

/* The most bounce buffers (queue.h's NBD_BOUNCE_BYTES each) one request may take. */
#define NBD_MAX_BOUNCES 16

/* Per request (req->priv): commands still in libnbd, the first error, its bounce buffers. */
struct nbd_req {
	struct backend_queue *bq;
	struct backend_req *req;
	uint32_t nr_pending;        /* commands in libnbd, plus one while they are issued */
	int error;                  /* the first error, -errno */
	uint8_t *bounce[NBD_MAX_BOUNCES]; /* a multi-segment READ/WRITE's copy, in pieces */
	unsigned int nr_bounce;
	uint64_t queued_ns;         /* when it arrived: it waits for a reconnect so long */
};

/* image.c: the image's calls (see backend.h), and the connection they share with queue.c. */
int nbd_open_image(const struct image_spec *spec, struct image *img);
void nbd_close_image(struct image *img);
int nbd_flush_image(const struct image *img);
int nbd_get_image_size(const struct image *img, uint64_t *ret_bytes);
/*
 * nbd_connect_start() - a new handle for @ni's URI, connecting
 * asynchronously (@is_async) or at once.  Returns it, or NULL with
 * nbd_connect_error() saying why.
 */
struct nbd_handle *nbd_connect_start(const struct nbd_image *ni, bool is_async);
/* nbd_connect_error() - why this thread's last nbd_connect_start() failed, and its errno. */
const char *nbd_connect_error(int *ret_errno);
/* nbd_check_same() - is the export @h reached the one open() saw?  0 or -errno (logged). */
int nbd_check_same(const struct nbd_image *ni, struct nbd_handle *h);

/* queue.c: the queue's calls. */
int nbd_queue_init(const struct image *img, int kick_fd, unsigned int depth,
		   struct backend_queue **ret_bq);
void nbd_queue_exit(struct backend_queue *bq);
int nbd_queue_req(struct backend_queue *bq, struct backend_req *req);
int nbd_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
	     bool may_block);
#endif

#endif
