/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKEND_H
#define VDB_BACKEND_H

/*
 * The plug-in interface of backends: what performs requests on the image.
 * A backend is one folder, src/backends/NAME/, with one struct backend_ops
 * (nbdkit's plugin struct, ublksrv's target ops), and one row in
 * backend.c's table.  Each virtqueue gets its own backend queue, used by
 * that queue's thread only.
 *
 * A backend owns its image: it declares its options (struct backend_opt:
 * --backend-opt KEY=VALUE, or --KEY VALUE) and the --image prefix that
 * chooses it, open() reads them from a struct image_spec and reports the
 * size and abilities in a struct image; close(), flush(), resize() and the
 * size watch end and change it.  It declares what it needs: per-request
 * private data (req_priv_bytes), the system calls and files the sandbox
 * must allow it.  The fd-based backends (io_uring, aio, null) share fd/ (a
 * regular file or a block device, the op switch, O_DIRECT); a network
 * backend (rbd) keeps its handle in image->priv and leaves image->fd at -1.
 *
 * A backend also owns the queue's wait: it reports the kick eventfd becoming
 * readable as an event, so that io_uring can submit a batch and wait for
 * kicks and completions in a single system call.
 *
 * Adding a backend: its folder (its code, its meson.build, its man-page
 * section NAME.8), one row in backend.c's table, one subdir() line in
 * src/backends/meson.build.  A backend whose library may be missing at
 * build time keeps its ops in a file built always (rbd/backend.c), with
 * ->missing saying why instead of the calls where the library is not.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config.h"

/* What a backend is asked to do. */
enum backend_op {
	BACKEND_OP_NONE,           /* nothing: never queued (its caller answers it at once) */
	BACKEND_OP_READ,
	BACKEND_OP_WRITE,
	BACKEND_OP_FLUSH,
	BACKEND_OP_DISCARD,
	BACKEND_OP_WRITE_ZEROES,
};

/* backend_op_name() - "read", "write", ... for messages. */
const char *backend_op_name(enum backend_op op);

#define BACKEND_MAX_SEGS 16u       /* DISCARD/WRITE_ZEROES ranges in one request */

/* A range of a DISCARD or WRITE_ZEROES. */
struct backend_seg {
	uint64_t offset_bytes;
	uint64_t len_bytes;
	bool is_unmap;             /* WRITE_ZEROES may deallocate */
};

/*
 * The fd backends' bookkeeping of a request (fd/), in the request itself:
 * they clear it when the request starts.
 */
struct backend_fd_state {
	uint64_t done_bytes;
	uint32_t nr_pending;
	int error;
	uint8_t zero_mode;         /* how WRITE_ZEROES was attempted (enum zero_mode) */
	bool is_allocating;        /* io_uring: a fallocate of an image in memory, counted */
	void *bounce;              /* aligned copy of the data, for O_DIRECT */
	uint64_t bounce_bytes;     /* of the data it stands for */
	struct iovec bounce_iov;   /* what is left of it to transfer */
};

/*
 * A request as a backend receives it: the op and its arguments, the
 * backend's own state, and one result for the whole request (an event of
 * wait()).  The caller owns it, one per slot of a queue (no allocation per
 * request), and embeds it in its own request (struct blk_req).
 */
struct backend_req {
	enum backend_op op;
	uint64_t offset_bytes;             /* READ/WRITE: image offset */
	struct iovec *data_iov;            /* READ/WRITE: the data buffers */
	unsigned int nr_data_iov;
	uint64_t data_bytes;
	unsigned int nr_segs;              /* DISCARD/WRITE_ZEROES */
	struct backend_seg segs[BACKEND_MAX_SEGS];
	void *priv;                        /* req_priv_bytes of the backend's own, per slot */
	struct backend_fd_state fd;        /* the fd backends' bookkeeping */
};

#define BACKEND_MAX_OPTS 8

/*
 * An option a backend declares (its opts[]): --backend-opt KEY=VALUE on the
 * command line, and --KEY VALUE too where it is an option of its own.
 */
struct backend_opt {
	const char *key;               /* "ceph-conf" */
	const char *arg;               /* what the value is, for --help: "PATH" */
	const char *help;              /* for --help, one paragraph: "the Ceph configuration..." */
	bool is_cli;                   /* also --KEY VALUE */
};

/* What --image and the options name: the backend reads what it needs. */
struct image_spec {
	const char *path;              /* --image, less the backend's prefix ("rbd:") */
	bool is_readonly;
	bool is_direct;                /* fd backends: O_DIRECT (--direct) */
	bool is_buffered;              /* fd backends: never O_DIRECT (--buffered) */
	int adopt_fd;                  /* fd backends: a live upgrade's image fd, or -1 */
	unsigned int nr_queues;        /* the queues that will serve it (0: not known) */
	/* The values of the backend's options, by their index in its opts[]; NULL: not given. */
	const char *opts[BACKEND_MAX_OPTS];
};

/* The opened image, shared read-only by every queue. */
struct image {
	int fd;                        /* fd backends; -1 for the others */
	void *priv;                    /* the backend's own handle (rbd), or NULL */
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
	bool can_write_zeroes;         /* reads return zeroes after WRITE_ZEROES */
	bool is_write_through;         /* keeps no volatile cache: the driver need not flush */
	/*
	 * A file in memory (tmpfs, ramfs): reads and writes never wait for a
	 * device, yet cannot be done without blocking (no RWF_NOWAIT), so
	 * io_uring would hand every one to a worker thread.  Backends do them
	 * in place instead.
	 */
	bool is_in_memory;
};

enum backend_event_type {
	BACKEND_EV_KICK,   /* the kick eventfd fired (its counter was consumed) */
	BACKEND_EV_DONE,   /* a request finished with result @res */
};

struct backend_event {
	enum backend_event_type type;
	struct backend_req *req;
	int res;           /* 0 or -errno */
};

struct backend_queue;
struct sandbox_path;
struct sandbox_syscall;

struct backend_ops {
	/* --- what it is: set even where the build lacks its library --- */
	const char *name;
	const char *summary;           /* what it is, for --help: "a Ceph RBD image" */
	/*
	 * "rbd:" when --image PREFIX... selects this backend; NULL for file
	 * paths.  A prefix that does not end in ':' names a family of URI
	 * schemes ("nbd": nbd://, nbds+unix://...): it selects the backend
	 * only followed by more scheme characters and "://", so that a file
	 * called nbd0.raw stays a file.
	 */
	const char *image_prefix;
	const char *image_form;        /* that --image, for --help: "rbd:POOL/IMAGE[@SNAP]" */
	const struct backend_opt *opts; /* its options, up to a { NULL } row (or NULL: none) */
	/*
	 * Not in this build, and why ("librbd was not found at build time:
	 * ..."); NULL when it is.  A missing backend has none of the calls
	 * below: the registry names it, its options and its prefix, and says why.
	 */
	const char *missing;

	/* --- what it needs and does --- */
	/*
	 * probe() - can this process use the backend? (optional: NULL, it can)
	 * Returns 0 or -errno (io_uring: -ENOSYS not built in or refused by
	 * seccomp, -EPERM disabled by the kernel.io_uring_disabled sysctl).
	 */
	int (*probe)(void);
	/* Bytes of per-request state the queue reserves in each slot (req->priv). */
	size_t req_priv_bytes;
	/*
	 * The system calls it makes once the device serves, beyond the
	 * daemon's own: rows of sandbox/syscalls.h, which the seccomp filter
	 * allows (and no other backend's).  Required under --sandbox on: a
	 * backend that declares none cannot start with the sandbox.
	 */
	const struct sandbox_syscall *syscalls;
	unsigned int nr_syscalls;
	/**
	 * landlock_paths() - what it may still open once the device serves
	 * (optional: nothing), it or a live upgrade's new image: at most @max
	 * in @paths (sandbox.h).  Returns how many it filled in.
	 */
	unsigned int (*landlock_paths)(const struct image_spec *spec, const struct image *img,
				       struct sandbox_path *paths, unsigned int max);
	/**
	 * open() - open the image @spec names (required)
	 * Fills @img (size, block sizes, abilities, is_readonly) and sets
	 * img->fd to -1 unless the backend has an fd.  Returns 0 or -errno;
	 * @img needs no close() after a failure.
	 */
	int (*open)(const struct image_spec *spec, struct image *img);
	/* close() - NULL-safe, and safe on an image whose open() failed (required). */
	void (*close)(struct image *img);
	/* flush() - make every completed write durable, at teardown (required). */
	int (*flush)(const struct image *img);
	/**
	 * resize() - make the image hold @size_bytes (optional: NULL, it cannot)
	 * @is_shrink: the device shrinks to @size_bytes (it was told already)
	 * @ret_why: what failed, a static string, on failure
	 * A grow never cuts an image that is larger already; a shrink may leave
	 * it larger (a block device).  May wait for a disk or a cluster: never
	 * called from the control loop.  Returns 0 or -errno.
	 */
	int (*resize)(struct image *img, uint64_t size_bytes, bool is_shrink,
		      const char **ret_why);
	/* get_size() - the image's size now, in bytes (optional); off the control loop too. */
	int (*get_size)(const struct image *img, uint64_t *ret_bytes);
	/*
	 * watch_size() - write the eventfd @efd whenever someone else may have
	 * resized the image (optional: images only the daemon resizes).
	 * Returns 0 or -errno.  unwatch_size() ends it; NULL-safe.
	 */
	int (*watch_size)(struct image *img, int efd);
	void (*unwatch_size)(struct image *img);
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
	int (*queue_req)(struct backend_queue *bq, struct backend_req *req);
	/**
	 * wait() - submit what was prepared, then collect events
	 * @may_block: wait for at least one event
	 * Returns the number of events in @evs (at most @max), or -errno.
	 */
	int (*wait)(struct backend_queue *bq, struct backend_event *evs,
		    unsigned int max, bool may_block);
};

/* The daemon's defaults (daemon.c: io_uring, aio where it is unavailable) and the queue's stand-in. */
extern const struct backend_ops backend_io_uring;
extern const struct backend_ops backend_aio;
extern const struct backend_ops backend_null;

/* backend_at() - the @i-th backend of the table, built in or not (->missing), or NULL. */
const struct backend_ops *backend_at(unsigned int i);

/* backend_find() - the backend called @name, if this build has it; NULL otherwise. */
const struct backend_ops *backend_find(const char *name);

/* backend_find_any() - the backend called @name, built in or not (->missing says), or NULL. */
const struct backend_ops *backend_find_any(const char *name);

/**
 * backend_for_image() - which backend a prefixed --image names
 * @ret_path: @image without the prefix
 * Returns the backend whose image_prefix @image starts with (a scheme
 * family's followed by "SCHEME-CHARS://"), built in or not (->missing
 * says), or NULL for a plain path (a file backend serves it).
 */
const struct backend_ops *backend_for_image(const char *image, const char **ret_path);

/* backend_names() - the names of the backends this build has: "io_uring, aio or null". */
const char *backend_names(void);

/* backend_opt_index() - @key's index in @be's options, or -ENOENT. */
int backend_opt_index(const struct backend_ops *be, const char *key);

/* backend_opt_owner() - the backend that declares option @key, built in or not, or NULL. */
const struct backend_ops *backend_opt_owner(const char *key);

#endif
