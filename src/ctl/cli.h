/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_CTL_CLI_H
#define VDB_CTL_CLI_H

/*
 * vduse-blkctl's side of the control commands: the socket client
 * (client.c), the commands' output (cli.c, list.c); blkctl.c parses the
 * command line and runs the command's row (command.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/proto.h"

struct json_object;

enum exit_code { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* A daemon that has not answered by then is not responding. */
#define REPLY_TIMEOUT_MS 1000

struct cli_opts {
	const char *state_dir;
	bool is_json;
	bool is_shrink;
	unsigned int watch_s;       /* stats -w: 0 = once */
	unsigned int count;         /* stats -w: intervals to print, 0 = until interrupted */
};

/* Why a call failed, in words for the operator. */
struct cli_failure {
	int err;
	char why[512];
};

/* cli_error() - "vduse-blkctl: error: ..." on stderr. */
__attribute__((format(printf, 1, 2)))
void cli_error(const char *fmt, ...);

/**
 * cli_call() - one request to the daemon of @name, its reply in *ret_obj
 * Connects to DIR/NAME.sock and waits at most REPLY_TIMEOUT_MS for the
 * reply (a resize: CTL_RESIZE_TIMEOUT_MS).  Returns 0, or -errno with the operator's message in @e: -ENOENT
 * (no such device, or no daemon), -ECONNREFUSED (the daemon is gone),
 * -EACCES, -ETIMEDOUT (not responding), or the daemon's refusal.
 */
int cli_call(const struct cli_opts *o, const char *name, const struct ctl_request *req,
	     struct json_object **ret_obj, struct cli_failure *e);

/* cli_get_str(), cli_get_u64() - a member of a reply object (NULL, 0 when missing). */
const char *cli_get_str(struct json_object *obj, const char *key);
uint64_t cli_get_u64(struct json_object *obj, const char *key);

/* cli_format_size() - "64.0 MiB", or "512 B". */
void cli_format_size(uint64_t bytes, char *buf, size_t size);

/*
 * The commands' runs (command.h): @args are the command's positional
 * arguments; each returns the exit code.
 */
int cli_list(const struct cli_opts *o, char *const *args);
int cli_stats(const struct cli_opts *o, char *const *args);
int cli_resize(const struct cli_opts *o, char *const *args);
int cli_log_level(const struct cli_opts *o, char *const *args);

#endif
