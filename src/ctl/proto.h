/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_CTL_PROTO_H
#define VDB_CTL_PROTO_H

/*
 * The control socket's protocol, shared by the daemon and vduse-blkctl.
 *
 * One request per connection: a JSON object on one line, at most
 * CTL_MAX_REQUEST bytes with its newline,
 *
 *   {"v":1,"cmd":"info"}
 *   {"v":1,"cmd":"stats"}
 *   {"v":1,"cmd":"resize","size_bytes":N,"shrink":false}
 *   {"v":1,"cmd":"log-level","level":"err|warn|info|debug"}
 *
 * and one reply line, {"v":1,"ok":true,...} or
 * {"v":1,"ok":false,"errno":N,"error":"why"}, after which the daemon closes.
 * The socket's peer is trusted no more than its file mode says (0600): the
 * parser refuses anything not exactly of this shape.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "blk/stats.h"

#define CTL_PROTO_VERSION 1
#define CTL_MAX_REQUEST 4096            /* bytes, newline included */
#define CTL_MAX_REPLY (1u << 20)        /* bytes, newline included */
#define CTL_SOCKET_SUFFIX ".sock"
/*
 * A resize replies once the image is resized, which may wait for a slow
 * disk or a cluster: the daemon keeps the client that long, and
 * vduse-blkctl waits that long for it (other commands reply at once).
 */
#define CTL_RESIZE_TIMEOUT_MS 120000

/* The commands (command.h has a row for each): the first four travel on the socket. */
enum ctl_cmd {
	CTL_CMD_INFO,
	CTL_CMD_STATS,
	CTL_CMD_RESIZE,
	CTL_CMD_LOG_LEVEL,
	CTL_CMD_LIST,              /* vduse-blkctl's own: every daemon's info */
};

struct ctl_request {
	enum ctl_cmd cmd;
	uint64_t size_bytes;       /* resize */
	bool is_shrink;            /* resize: a smaller size is wanted */
	enum log_level level;      /* log-level */
};

/**
 * ctl_request_parse() - check and decode one request line
 * @buf, @len: the line, without its newline (need not be NUL-terminated)
 * @ret_why: a static description of what is wrong, on failure
 * Returns 0, -EMSGSIZE (longer than CTL_MAX_REQUEST), -EBADMSG (not one
 * complete JSON object, or a field of the wrong type), -EPROTONOSUPPORT
 * (missing or other "v"), -EOPNOTSUPP (unknown "cmd"), -EINVAL (a bad or
 * missing argument, or a field the command does not take).
 */
int ctl_request_parse(const char *buf, size_t len, struct ctl_request *ret,
		      const char **ret_why);

/**
 * ctl_request_format() - the line (with newline) for @req into @buf
 * Returns its length, or -ENOSPC.
 */
int ctl_request_format(const struct ctl_request *req, char *buf, size_t size);

/* ctl_cmd_name() - "info", "stats", ... */
const char *ctl_cmd_name(enum ctl_cmd cmd);

/* ctl_level_parse() - "err", "warn", "info" or "debug"; -EINVAL otherwise. */
int ctl_level_parse(const char *s, enum log_level *ret);

/* ctl_level_name() - the protocol's name of a level. */
const char *ctl_level_name(enum log_level level);

/**
 * ctl_size_parse() - a size in bytes: an integer with an optional binary
 * suffix K, M, G, T or P (powers of 1024; "k", "KiB" and "KB" mean the same),
 * e.g. "1073741824", "512M", "10G".
 * Returns 0, -EINVAL (not a size) or -ERANGE (over 2^64 - 1).
 */
int ctl_size_parse(const char *s, uint64_t *ret_bytes);

struct json_object;

/*
 * ctl_stats_json() - the counters of @st as a JSON object with the stable
 * names of the protocol (read_ops, write_ops, read_bytes, write_bytes,
 * in_flight, errors, latency_us {p50, p99, p999}, ...).  NULL without memory.
 */
struct json_object *ctl_stats_json(const struct blk_stats *st);

/* ctl_reply_error() - a whole error reply line (with newline); free() it.  NULL: ENOMEM. */
char *ctl_reply_error(int err, const char *why);

/*
 * ctl_reply_ok() - complete @obj (v, ok) and format it as a line with its
 * newline; takes @obj over.  free() the result.  NULL: ENOMEM.
 */
char *ctl_reply_ok(struct json_object *obj);

/**
 * ctl_reply_parse() - check a reply line from the daemon
 * @ret_obj: the reply object (json_object_put() it); set when the result
 *           is 0 or the daemon's errno, NULL otherwise
 * @ret_why: the daemon's message when it refused (valid while *ret_obj is)
 * Returns 0; -EBADMSG (not a reply), -EPROTONOSUPPORT (another version),
 * or the daemon's negative errno when it answered "ok":false.
 */
int ctl_reply_parse(const char *buf, size_t len, struct json_object **ret_obj,
		    const char **ret_why);

#endif
