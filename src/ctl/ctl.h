/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_CTL_H
#define VDB_CTL_H

/*
 * The daemon's control socket, DIR/NAME.sock (the state directory): what
 * vduse-blkctl talks to (protocol: ctl_proto.h).
 *
 * Served from the control thread's poll loop, never from a queue thread:
 * every fd is non-blocking, a request is at most CTL_MAX_REQUEST bytes, a
 * client has CTL_CLIENT_TIMEOUT_MS to send its request and take its reply
 * and at most CTL_MAX_CLIENTS are served at once; a client that stalls is
 * dropped, it cannot hold the loop.  The socket is mode 0600, owned by
 * root or the daemon's --user (bound with the user's file system ids where
 * the user may write the directory, else chowned); created after the device
 * exists, before privileges are dropped, and kept across a live upgrade.
 */

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "ctl/proto.h"
#include "sandbox/privileges.h"
#include "recovery/state.h"
#include "vduse/dev.h"

#define CTL_MAX_CLIENTS 8
#define CTL_CLIENT_TIMEOUT_MS 5000
/* The listening socket, the clients, the resize job's end and the image's size watch. */
#define CTL_NR_POLLFDS (1 + CTL_MAX_CLIENTS + 2)
/* A re-executed daemon finds its listening socket here (a live upgrade). */
#define CTL_FD_ENV "VDUSE_BLKD_CTL_FD"

/* What the daemon's control loop knows of the device, for info. */
struct ctl_device_status {
	bool is_broken;               /* the kernel gave up on the device */
	bool is_stopping;             /* a signal came, or attaching failed */
	const char *attached_node;    /* attached by this daemon: /dev/vdX..., else NULL */
};

/* What the socket reports on and acts on: the daemon's own objects. */
struct ctl_target {
	const char *name;
	const char *image_path;
	const char *backend_name;
	struct vduse_dev *dev;
	struct blk_dev *blk;          /* its capacity changes at a resize */
	struct image *img;
	struct vdb_state *state;      /* its identity follows a resize */
	/* The control loop's view (daemon/control.c), or NULL: nothing known. */
	void (*get_status)(void *opaque, struct ctl_device_status *ret);
	void *status_opaque;
	const struct backend_ops *be; /* resizes the image; may tell of resizes by others */
	/* Tells the driver the config space changed: vduse_dev_config_changed() if NULL. */
	int (*config_changed)(struct vduse_dev *dev);
};

/*
 * A resize in progress (resize.c): the backend's slow part runs in a job
 * thread, never on the control loop, which polls done_fd and finishes it.
 * Also how the device follows an image someone else resized (watch_fd,
 * written by the backend: an rbd header watch).
 */
struct ctl_resize {
	int done_fd;                  /* eventfd: the job is over */
	int watch_fd;                 /* eventfd the backend writes, or -1 */
	bool is_running;
	bool is_follow;               /* the job reads the image's size (a watch event) */
	bool is_follow_pending;       /* another watch event came during a job */
	bool has_waiting_req;         /* a resize came during a follow job: after it */
	struct ctl_request waiting_req;
	unsigned long thread;         /* pthread_t */
	const struct backend_ops *be;
	struct image *img;
	uint64_t old_sectors, new_sectors;
	uint64_t image_bytes;         /* follow: what get_size() found */
	int result;
	const char *why;
};

/* ctl_resize_init() - the job's eventfd, and the backend's size watch if it has one. */
int ctl_resize_init(struct ctl_resize *rz, struct ctl_target *t);

/* ctl_resize_exit() - wait for a job, end the watch, close. */
void ctl_resize_exit(struct ctl_resize *rz, struct ctl_target *t);

/*
 * ctl_resize_start() - the resize command: the reply line, or NULL with
 * *ret_is_later when a job started (ctl_resize_done() gives the reply).
 * A shrink changes the device now, a grow once the image has grown.
 */
char *ctl_resize_start(struct ctl_resize *rz, struct ctl_target *t,
		       const struct ctl_request *req, bool *ret_is_later);

/*
 * ctl_resize_done() - done_fd fired: finish the job on the control loop.
 * Returns the command's reply when *ret_has_reply (NULL: no memory).
 */
char *ctl_resize_done(struct ctl_resize *rz, struct ctl_target *t, bool *ret_has_reply);

/* ctl_resize_watch_event() - watch_fd fired: read the image's size, and follow it. */
void ctl_resize_watch_event(struct ctl_resize *rz, struct ctl_target *t);

struct ctl_client {
	int fd;                       /* -1: a free slot */
	uint64_t deadline_ms;
	size_t in_len;
	char in[CTL_MAX_REQUEST];
	char *out;                    /* the reply, once the request is read */
	size_t out_len;
	size_t out_done;
	bool is_waiting;              /* for the resize job's reply */
};

struct ctl_server {
	int listen_fd;
	char path[108];
	struct ctl_target t;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	struct ctl_resize rz;
};

/**
 * ctl_server_open() - create (or, in a re-exec, adopt) DIR/NAME.sock
 * @owner: the --user the daemon will run as (the socket's owner), or NULL
 * @is_reexec: a live upgrade's new image: take the socket CTL_FD_ENV names
 *
 * A socket file left by a daemon that is gone (connect refused) is
 * replaced.  Returns 0; -EADDRINUSE when a live process answers on it;
 * -EPERM in a re-exec under a seccomp filter with no socket handed over (a
 * binary from before the control socket); -ENAMETOOLONG; other -errno of
 * socket/bind/listen/chown.  s->listen_fd is
 * -1 on failure and the other calls then do nothing.
 */
int ctl_server_open(struct ctl_server *s, const char *dir, const struct ctl_target *t,
		    const struct run_as *owner, bool is_reexec);

/* ctl_server_pollfds() - fill at most CTL_NR_POLLFDS entries; returns how many. NULL-safe. */
unsigned int ctl_server_pollfds(struct ctl_server *s, struct pollfd *pfd);

/*
 * ctl_server_handle() - after poll(): accept, read, answer, write, and drop
 * clients past their deadline.  @pfd, @nr: what ctl_server_pollfds() filled.
 * NULL-safe.
 */
void ctl_server_handle(struct ctl_server *s, const struct pollfd *pfd, unsigned int nr);

/* ctl_server_close() - close every fd and remove the socket file. NULL-safe. */
void ctl_server_close(struct ctl_server *s);

/*
 * ctl_execute() - the reply line (free() it) to @req for the target; NULL
 * without memory.  Called by the server; a call of its own for the tests.
 * Not for resize, which may answer later: ctl_resize_start().
 */
char *ctl_execute(struct ctl_target *t, const struct ctl_request *req);

#endif
