// SPDX-License-Identifier: GPL-2.0-or-later
/* What the control socket's commands do in the daemon (see ctl.h, ctl_proto.h). */
#include <errno.h>
#include <json-c/json.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "log.h"

static const char *device_state(const struct ctl_target *t)
{
	const struct control *c = t->control;

	if (c && c->is_broken)
		return "broken";
	if (c && c->is_stopping)
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

static char *cmd_info(struct ctl_target *t)
{
	struct json_object *obj = json_object_new_object();
	const struct control *c = t->control;
	uint64_t sectors = blk_dev_capacity(t->blk);

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
	add_str(obj, "state", device_state(t));
	/* The virtqueue layout the driver negotiated, once it serves. */
	add_str(obj, "ring", !(t->dev->status & VIRTIO_CONFIG_S_DRIVER_OK) ? NULL :
			     t->dev->driver_features & (1ULL << VIRTIO_F_RING_PACKED) ? "packed" :
										       "split");
	add_u64(obj, "pid", (uint64_t)getpid());
	add_u64(obj, "uid", (uint64_t)getuid());
	/* Attached by this daemon: it knows the node.  Otherwise vduse-blkctl looks in sysfs. */
	add_str(obj, "attached", c && c->is_attached && c->job.node[0] ? c->job.node : NULL);
	add_str(obj, "log_level", ctl_level_name(__atomic_load_n(&log_max_level,
								 __ATOMIC_RELAXED)));
	return ctl_reply_ok(obj);
}

static char *cmd_stats(struct ctl_target *t)
{
	struct json_object *obj, *queues = json_object_new_array();
	struct blk_stats total, st;

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

static char *cmd_log_level(const struct ctl_request *req)
{
	struct json_object *obj = json_object_new_object();
	enum log_level old = __atomic_load_n(&log_max_level, __ATOMIC_RELAXED);

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
	switch (req->cmd) {
	case CTL_CMD_INFO:
		return cmd_info(t);
	case CTL_CMD_STATS:
		return cmd_stats(t);
	case CTL_CMD_RESIZE:
		break;     /* ctl_resize_start(): it may answer later */
	case CTL_CMD_LOG_LEVEL:
		return cmd_log_level(req);
	}
	return ctl_reply_error(-EOPNOTSUPP, "unknown command");
}
