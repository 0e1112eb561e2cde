/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKEND_H
#define VDB_BACKEND_H

/*
 * Backends perform requests on the image.  One ops table per backend; each
 * virtqueue gets its own backend queue, used by that queue's thread only.
 *
 * A backend also owns the queue's wait: it reports the kick eventfd becoming
 * readable as an event, so that io_uring can submit a batch and wait for
 * kicks and completions in a single system call.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config.h"

struct blk_req;

/* The opened image, shared read-only by every queue. */
struct image {
	int fd;
	int fd_buffered;               /* with O_DIRECT: the same image without it, else -1 */
	const char *path;
	uint64_t size_bytes;
	uint32_t logical_block_size;   /* of the backing device; 512 for files */
	uint32_t physical_block_size;
	uint32_t min_io_bytes;
	uint32_t opt_io_bytes;
	uint32_t dio_mem_align;        /* O_DIRECT: buffer address alignment */
	uint32_t dio_offset_align;     /* O_DIRECT: offset and length alignment */
	bool is_blockdev;
	bool is_readonly;
	bool is_direct;
	bool can_discard;              /* files: punch holes; devices: discard_max_bytes > 0 */
};

/**
 * image_needs_buffered() - must this transfer avoid O_DIRECT?
 * True when the image is open with O_DIRECT and @offset, the length or a
 * buffer is not aligned as the backing device requires.  Such transfers go
 * through img->fd_buffered: the page cache does the read-modify-write of
 * partial blocks, serialised by its page locks even across queues, and the
 * kernel keeps it coherent with the direct I/O on img->fd.
 */
bool image_needs_buffered(const struct image *img, uint64_t offset,
			  const struct iovec *iov, unsigned int nr_iov);

/**
 * image_open() - open a regular file or block device
 * @path: the image
 * @is_readonly: open O_RDONLY
 * @is_direct: open O_DIRECT
 * @img: filled in; img->fd is -1 on failure
 * Returns 0 or -errno (-ENOENT, -EACCES, -EINVAL for other file types).
 */
int image_open(const char *path, bool is_readonly, bool is_direct, struct image *img);

/* image_close() - NULL-safe. */
void image_close(struct image *img);

enum backend_event_type {
	BACKEND_EV_KICK,   /* the kick eventfd fired (its counter was consumed) */
	BACKEND_EV_DONE,   /* a request finished with result @res */
};

struct backend_event {
	enum backend_event_type type;
	struct blk_req *req;
	int res;           /* 0 or -errno */
};

struct backend_queue;

struct backend_ops {
	const char *name;
	/**
	 * queue_init() - per-virtqueue state
	 * @img: the image
	 * @kick_fd: non-blocking eventfd to watch
	 * @depth: most requests in flight at once
	 */
	int (*queue_init)(const struct image *img, int kick_fd, unsigned int depth,
			  struct backend_queue **ret_bq);
	void (*queue_exit)(struct backend_queue *bq);
	/**
	 * queue_req() - prepare @req; nothing reaches the kernel before wait().
	 * Returns 0, or -errno when the request cannot be started (it is then
	 * completed by the caller with that error).
	 */
	int (*queue_req)(struct backend_queue *bq, struct blk_req *req);
	/**
	 * wait() - submit what was prepared, then collect events
	 * @may_block: wait for at least one event
	 * Returns the number of events in @evs (at most @max), or -errno.
	 */
	int (*wait)(struct backend_queue *bq, struct backend_event *evs,
		    unsigned int max, bool may_block);
};

extern const struct backend_ops backend_io_uring;
extern const struct backend_ops backend_null;
#if HAVE_LIBAIO
extern const struct backend_ops backend_aio;
#endif

/* backend_find() - ops by name ("io_uring", "aio", "null"), or NULL. */
const struct backend_ops *backend_find(const char *name);

/* backend_names() - the available names, for messages: "io_uring, aio, null". */
const char *backend_names(void);

/**
 * backend_io_uring_probe() - can this process use io_uring?
 * Returns 0, or -errno from io_uring_setup (-ENOSYS: not built in or blocked
 * by seccomp, -EPERM: disabled by the kernel.io_uring_disabled sysctl).
 */
int backend_io_uring_probe(void);

#endif
