// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control commands, a row each (command.h), and what they do in the
 * daemon: info, stats and log-level (resize: resize.c).
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "ctl/command.h"
#include "ctl/ctl.h"
#include "log.h"
#include "util.h"

static const char *device_state(const struct ctl_target *t, const struct ctl_device_status *st)
{
	if (st->is_broken)
		return "broken";
	if (st->is_stopping)
		return "stopping";
	if (t->dev->status & VIRTIO_CONFIG_S_DRIVER_OK)
		return "serving";
	if (t->dev->status & VIRTIO_CONFIG_S_FAILED)
		return "failed by the driver";
	return t->dev->status ? "driver starting" : "no driver";
}

static void add_str(struct json_object *obj, const char *key, const char *s)
{
	json_object_object_add(obj, key, s ? json_object_new_string(s) : NULL);
}

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static char *cmd_info(struct ctl_target *t, const struct ctl_request *req)
{
	struct json_object *obj = json_object_new_object();
	struct ctl_device_status st = { 0 };
	uint64_t sectors = blk_dev_capacity(t->blk);

	(void)req;
	if (t->get_status)
		t->get_status(t->status_opaque, &st);

	if (!obj)
		return NULL;
	add_str(obj, "name", t->name);
	add_str(obj, "image", t->image_path);
	add_str(obj, "backend", t->backend_name);
	add_u64(obj, "capacity_bytes", sectors << BLK_SECTOR_SHIFT);
	add_u64(obj, "capacity_sectors", sectors);
	add_u64(obj, "block_size", t->blk->logical_block_size);
	add_u64(obj, "queues", t->blk->num_queues);
	add_u64(obj, "queue_size", t->blk->queue_size);
	json_object_object_add(obj, "readonly", json_object_new_boolean(t->blk->is_readonly));
	add_str(obj, "state", device_state(t, &st));
	/* The virtqueue layout the driver negotiated, once it serves. */
	add_str(obj, "ring", !(t->dev->status & VIRTIO_CONFIG_S_DRIVER_OK) ? NULL :
			     t->dev->driver_features & (1ULL << VIRTIO_F_RING_PACKED) ? "packed" :
										       "split");
	add_u64(obj, "pid", (uint64_t)getpid());
	add_u64(obj, "uid", (uint64_t)getuid());
	/* Attached by this daemon: it knows the node.  Otherwise vduse-blkctl looks in sysfs. */
	add_str(obj, "attached", st.attached_node);
	add_str(obj, "log_level", ctl_level_name(__atomic_load_n(&log_max_level,
								 __ATOMIC_RELAXED)));
	return ctl_reply_ok(obj);
}

static char *cmd_stats(struct ctl_target *t, const struct ctl_request *req)
{
	struct json_object *obj, *queues = json_object_new_array();
	struct blk_stats total, st;

	(void)req;
	memset(&total, 0, sizeof(total));
	if (!queues)
		return NULL;
	for (uint16_t i = 0; i < t->dev->nr_queues; i++) {
		struct json_object *q;

		stats_snapshot(&t->dev->queues[i].stats, &st);
		stats_sum(&total, &st);
		q = ctl_stats_json(&st);
		if (!q) {
			json_object_put(queues);
			return NULL;
		}
		json_object_object_add(q, "index", json_object_new_int(i));
		json_object_array_add(queues, q);
	}
	/* The device's percentiles come from the summed histograms. */
	obj = ctl_stats_json(&total);
	if (!obj) {
		json_object_put(queues);
		return NULL;
	}
	add_str(obj, "name", t->name);
	json_object_object_add(obj, "queues", queues);
	return ctl_reply_ok(obj);
}

static char *cmd_log_level(struct ctl_target *t, const struct ctl_request *req)
{
	struct json_object *obj = json_object_new_object();
	enum log_level old = __atomic_load_n(&log_max_level, __ATOMIC_RELAXED);

	(void)t;
	/* Said at info level while it is printed: before a quieter level, after a louder one. */
	if (req->level < LOG_INFO)
		log_info("log level %s (was %s)", ctl_level_name(req->level), ctl_level_name(old));
	log_set_level(req->level);   /* debug: every category on */
	if (req->level >= LOG_INFO && old != req->level)
		log_info("log level %s (was %s)", ctl_level_name(req->level), ctl_level_name(old));
	if (!obj)
		return NULL;
	add_str(obj, "log_level", ctl_level_name(req->level));
	add_str(obj, "was", ctl_level_name(old));
	return ctl_reply_ok(obj);
}

char *ctl_execute(struct ctl_target *t, const struct ctl_request *req)
{
	const struct ctl_command *c = ctl_command_of(req->cmd);

	/* resize answers through its job (ctl_resize_start()); list is never sent. */
	if (!c->execute)
		return ctl_reply_error(-EOPNOTSUPP, "unknown command");
	return c->execute(t, req);
}

/* --- the arguments on the socket -------------------------------------------- */

static int parse_resize(struct json_object *obj, struct ctl_request *req)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, "size_bytes", &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	/* Negative integers read as 0 here. */
	req->size_bytes = json_object_get_uint64(v);
	if (req->size_bytes == 0)
		return -EINVAL;
	if (json_object_object_get_ex(obj, "shrink", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		req->is_shrink = json_object_get_boolean(v);
	}
	return 0;
}

static int format_resize(const struct ctl_request *req, char *buf, size_t size)
{
	int n = snprintf(buf, size, ",\"size_bytes\":%llu,\"shrink\":%s",
			 (unsigned long long)req->size_bytes, req->is_shrink ? "true" : "false");

	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

static int parse_log_level(struct json_object *obj, struct ctl_request *req)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, "level", &v) || !json_object_is_type(v, json_type_string))
		return -EINVAL;
	return ctl_level_parse(json_object_get_string(v), &req->level);
}

static int format_log_level(const struct ctl_request *req, char *buf, size_t size)
{
	int n = snprintf(buf, size, ",\"level\":\"%s\"", ctl_level_name(req->level));

	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* --- the commands ------------------------------------------------------------ */

static const char *const resize_keys[] = { "size_bytes", "shrink", NULL };
static const char *const log_level_keys[] = { "level", NULL };

/* Indexed by enum ctl_cmd; in this order in vduse-blkctl's --help. */
static const struct ctl_command commands[] = {
	[CTL_CMD_LIST] = {
		.name = "list", .cmd = CTL_CMD_LIST, .usage = "", .is_local = true,
		.help = "every device a daemon serves: name, image, capacity,\n"
			"queues, backend, where it is attached, state, pid",
		.run = cli_list,
	},
	[CTL_CMD_INFO] = {
		/* Not a command of vduse-blkctl's own: list asks each daemon. */
		.name = "info", .cmd = CTL_CMD_INFO, .execute = cmd_info,
	},
	[CTL_CMD_STATS] = {
		.name = "stats", .cmd = CTL_CMD_STATS, .usage = "NAME", .nr_args = 1,
		.help = "requests, bytes, errors, faults, kicks, interrupts and\n"
			"latency percentiles, per queue and in total",
		.run = cli_stats, .execute = cmd_stats,
	},
	[CTL_CMD_RESIZE] = {
		.name = "resize", .cmd = CTL_CMD_RESIZE, .usage = "NAME SIZE", .nr_args = 2,
		.help = "grow the image and the device to SIZE bytes (suffixes K, M,\n"
			"G, T: powers of 1024); the driver sees the new size at once",
		.run = cli_resize, .keys = resize_keys, .parse = parse_resize,
		.format = format_resize,
		.why = "resize needs size_bytes, a positive integer, and optionally shrink, a boolean",
	},
	[CTL_CMD_LOG_LEVEL] = {
		.name = "log-level", .cmd = CTL_CMD_LOG_LEVEL, .usage = "NAME LEVEL", .nr_args = 2,
		.help = "set the daemon's log level: err, warn, info or debug",
		.run = cli_log_level, .execute = cmd_log_level, .keys = log_level_keys,
		.parse = parse_log_level, .format = format_log_level,
		.why = "log-level needs level: err, warn, info or debug",
	},
};

/* vduse-blkctl's --help order. */
static const enum ctl_cmd help_order[] = {
	CTL_CMD_LIST, CTL_CMD_STATS, CTL_CMD_RESIZE, CTL_CMD_LOG_LEVEL, CTL_CMD_INFO,
};

const struct ctl_command *ctl_command_of(enum ctl_cmd cmd)
{
	return &commands[(size_t)cmd < ARRAY_SIZE(commands) ? cmd : CTL_CMD_INFO];
}

const struct ctl_command *ctl_command_at(size_t i)
{
	return i < ARRAY_SIZE(help_order) ? &commands[help_order[i]] : NULL;
}

const struct ctl_command *ctl_command_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}
