/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BLKCTL_H
#define VDB_BLKCTL_H

/* vduse-blkctl's own modules: the socket client (client.c), list (list.c), the rest (blkctl.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/proto.h"

struct json_object;

enum exit_code { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* A daemon that has not answered by then is not responding. */
#define REPLY_TIMEOUT_MS 1000

struct opts {
	const char *state_dir;
	bool is_json;
	bool is_shrink;
	unsigned int watch_s;       /* stats -w: 0 = once */
	unsigned int count;         /* stats -w: intervals to print, 0 = until interrupted */
};

/* Why a call failed, in words for the operator. */
struct call_error {
	int err;
	char why[512];
};

/* error() - "vduse-blkctl: error: ..." on stderr. */
__attribute__((format(printf, 1, 2)))
void error(const char *fmt, ...);

/**
 * call() - one request to the daemon of @name, its reply in *ret_obj
 * Connects to DIR/NAME.sock and waits at most REPLY_TIMEOUT_MS for the
 * reply (a resize: CTL_RESIZE_TIMEOUT_MS).  Returns 0, or -errno with the operator's message in @e: -ENOENT
 * (no such device, or no daemon), -ECONNREFUSED (the daemon is gone),
 * -EACCES, -ETIMEDOUT (not responding), or the daemon's refusal.
 */
int call(const struct opts *o, const char *name, const struct ctl_request *req,
	 struct json_object **ret_obj, struct call_error *e);

/* get_str(), get_u64() - a member of a reply object (NULL, 0 when missing). */
const char *get_str(struct json_object *obj, const char *key);
uint64_t get_u64(struct json_object *obj, const char *key);


/* format_size() - "64.0 MiB", or "512 B". */
void format_size(uint64_t bytes, char *buf, size_t size);

/* cmd_list() - `vduse-blkctl list`; returns the exit code. */
int cmd_list(const struct opts *o);

#endif
