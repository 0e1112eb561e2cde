/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_CTL_COMMAND_H
#define VDB_CTL_COMMAND_H

/*
 * The control commands, one row each (commands.c): the name, the arguments
 * vduse-blkctl takes and its help, how the request's arguments travel on the
 * socket (proto.h), what the daemon does with it, and what vduse-blkctl does
 * with the reply.  A new command is a new row and its functions.
 */

#include <stdbool.h>
#include <stddef.h>

#include "ctl/proto.h"

struct ctl_target;
struct cli_opts;
struct json_object;

struct ctl_command {
	const char *name;             /* on the socket and on vduse-blkctl's command line */
	enum ctl_cmd cmd;
	/* vduse-blkctl: "NAME SIZE", a help text of "\n"-separated lines; NULL: not its command */
	const char *usage;
	const char *help;
	unsigned int nr_args;         /* positional arguments after the command */
	/* vduse-blkctl: carry it out with @args; returns the exit code */
	int (*run)(const struct cli_opts *o, char *const *args);
	/*
	 * On the socket: the JSON members besides "v" and "cmd" (NULL: none),
	 * what a malformed one is told, their decoding and encoding (NULL:
	 * none).  is_local: vduse-blkctl's own (list), never sent.
	 */
	bool is_local;
	const char *const *keys;
	const char *why;
	int (*parse)(struct json_object *obj, struct ctl_request *req);
	/* Appends ",\"key\":value" members to @buf; returns their length or -ENOSPC. */
	int (*format)(const struct ctl_request *req, char *buf, size_t size);
	/*
	 * The daemon: the reply line (free() it), NULL without memory.  NULL:
	 * answered elsewhere (resize, by its job: ctl_resize_start()).
	 */
	char *(*execute)(struct ctl_target *t, const struct ctl_request *req);
};

/* ctl_command_find() - the row named @name, or NULL. */
const struct ctl_command *ctl_command_find(const char *name);

/* ctl_command_of() - the row of @cmd (never NULL for an enum ctl_cmd). */
const struct ctl_command *ctl_command_of(enum ctl_cmd cmd);

/* ctl_command_at() - the @i-th row in help order, or NULL past the last. */
const struct ctl_command *ctl_command_at(size_t i);

#endif
