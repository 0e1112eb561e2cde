// SPDX-License-Identifier: GPL-2.0-or-later
/* The control socket's protocol (see ctl_proto.h), parsed with json-c. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/command.h"
#include "ctl/proto.h"
#include "util.h"

static const char *const level_names[] = {
	[LOG_ERR] = "err", [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	return ctl_command_of(cmd)->name;
}

const char *ctl_level_name(enum log_level level)
{
	return (size_t)level < ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

int ctl_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcmp(s, level_names[i])) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int ctl_size_parse(const char *s, uint64_t *ret_bytes)
{
	static const char units[] = "KMGTP";
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return -ERANGE;
	if (*p) {
		const char *u = strchr(units, *p >= 'a' ? *p - 'a' + 'A' : *p);

		if (!u || !*u)
			return -EINVAL;
		mul = 1ULL << (10 * (u - units + 1));
		p++;
		if (!strcmp(p, "iB") || !strcmp(p, "B"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
	}
	if (__builtin_mul_overflow(v, mul, &v))
		return -ERANGE;
	*ret_bytes = v;
	return 0;
}

/* Parse exactly one JSON value filling @buf; NULL when anything else is there. */
static struct json_object *parse_whole(const char *buf, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;

	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	/* Incomplete (truncated), an error, or bytes after the value. */
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* The command's own members: only those it takes, decoded by its row. */
static int parse_args(const struct ctl_command *c, struct json_object *obj,
		      struct ctl_request *ret, const char **ret_why)
{
	static const char *const none[] = { NULL };
	const char *const *keys = c->keys ? c->keys : none;

	*ret_why = c->why ? c->why : "the command takes no arguments";
	json_object_object_foreach(obj, key, val) {
		bool is_known = !strcmp(key, "v") || !strcmp(key, "cmd");

		(void)val;
		for (const char *const *k = keys; *k; k++)
			is_known = is_known || !strcmp(key, *k);
		if (!is_known)
			return -EINVAL;
	}
	return c->parse ? c->parse(obj, ret) : 0;
}

int ctl_request_parse(const char *buf, size_t len, struct ctl_request *ret,
		      const char **ret_why)
{
	const struct ctl_command *c;
	struct json_object *obj, *v;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (len >= CTL_MAX_REQUEST) {
		*ret_why = "request too long";
		return -EMSGSIZE;
	}
	if (memchr(buf, 0, len) || memchr(buf, '\n', len)) {
		*ret_why = "not one line of text";
		return -EBADMSG;
	}
	obj = parse_whole(buf, len);
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		*ret_why = "not a JSON object (malformed or truncated)";
		json_object_put(obj);
		return -EBADMSG;
	}
	r = -EPROTONOSUPPORT;
	*ret_why = "unsupported protocol version (this daemon speaks \"v\":1)";
	if (!json_object_object_get_ex(obj, "v", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != CTL_PROTO_VERSION)
		goto out;
	r = -EBADMSG;
	*ret_why = "\"cmd\" must be a string";
	if (!json_object_object_get_ex(obj, "cmd", &v) || !json_object_is_type(v, json_type_string))
		goto out;
	c = ctl_command_find(json_object_get_string(v));
	r = -EOPNOTSUPP;
	*ret_why = "unknown command";
	if (c && !c->is_local) {
		ret->cmd = c->cmd;
		r = parse_args(c, obj, ret, ret_why);
	}
out:
	json_object_put(obj);
	return r;
}

int ctl_request_format(const struct ctl_request *req, char *buf, size_t size)
{
	const struct ctl_command *c = ctl_command_of(req->cmd);
	int n = snprintf(buf, size, "{\"v\":%d,\"cmd\":\"%s\"", CTL_PROTO_VERSION, c->name);
	int m = 0;

	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	if (c->format) {
		m = c->format(req, buf + n, size - (size_t)n);
		if (m < 0)
			return m;
	}
	n += m;
	m = snprintf(buf + n, size - (size_t)n, "}\n");
	return m < 0 || (size_t)(n + m) >= size ? -ENOSPC : n + m;
}

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

struct json_object *ctl_stats_json(const struct blk_stats *st)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *lat = json_object_new_object();
	struct json_object *faults = json_object_new_object();

	if (!obj || !lat || !faults) {
		json_object_put(obj);
		json_object_put(lat);
		json_object_put(faults);
		return NULL;
	}
	add_u64(obj, "read_ops", st->ops[STATS_OP_READ]);
	add_u64(obj, "write_ops", st->ops[STATS_OP_WRITE]);
	add_u64(obj, "flush_ops", st->ops[STATS_OP_FLUSH]);
	add_u64(obj, "discard_ops", st->ops[STATS_OP_DISCARD]);
	add_u64(obj, "write_zeroes_ops", st->ops[STATS_OP_WRITE_ZEROES]);
	add_u64(obj, "other_ops", st->ops[STATS_OP_OTHER]);
	add_u64(obj, "read_bytes", st->read_bytes);
	add_u64(obj, "write_bytes", st->write_bytes);
	add_u64(obj, "in_flight", st->in_flight);
	add_u64(obj, "errors", st->errors);
	add_u64(obj, "device_faults", st->device_faults);
	add_u64(obj, "driver_faults", st->driver_faults);
	add_u64(obj, "kicks", st->kicks);
	add_u64(obj, "interrupts", st->interrupts);
	add_u64(lat, "p50", stats_percentile_us(st, 500));
	add_u64(lat, "p99", stats_percentile_us(st, 990));
	add_u64(lat, "p999", stats_percentile_us(st, 999));
	json_object_object_add(obj, "latency_us", lat);
	for (int e = VQ_ERR_NONE; e < VQ_ERR_COUNT; e++)
		if (st->driver_fault_reasons[e])
			add_u64(faults, e == VQ_ERR_NONE ? "no room for header or status" :
				vq_err_str(e), st->driver_fault_reasons[e]);
	json_object_object_add(obj, "driver_fault_reasons", faults);
	return obj;
}

/* The object as one line with a newline; takes @obj over. */
static char *to_line(struct json_object *obj)
{
	const char *s = obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	char *line = NULL;

	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	json_object_put(obj);
	return line;
}

char *ctl_reply_error(int err, const char *why)
{
	struct json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	json_object_object_add(obj, "v", json_object_new_int(CTL_PROTO_VERSION));
	json_object_object_add(obj, "ok", json_object_new_boolean(false));
	json_object_object_add(obj, "errno", json_object_new_int(err < 0 ? -err : err));
	json_object_object_add(obj, "error", json_object_new_string(why));
	return to_line(obj);
}

char *ctl_reply_ok(struct json_object *obj)
{
	if (!obj)
		return NULL;
	json_object_object_add(obj, "v", json_object_new_int(CTL_PROTO_VERSION));
	json_object_object_add(obj, "ok", json_object_new_boolean(true));
	return to_line(obj);
}

int ctl_reply_parse(const char *buf, size_t len, struct json_object **ret_obj,
		    const char **ret_why)
{
	struct json_object *obj, *v;
	int err;

	*ret_obj = NULL;
	*ret_why = "not a reply of vduse-blkd";
	if (len && buf[len - 1] == '\n')
		len--;
	obj = parse_whole(buf, len);
	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "ok", &v) || !json_object_is_type(v, json_type_boolean)) {
		json_object_put(obj);
		return -EBADMSG;
	}
	if (!json_object_object_get_ex(obj, "v", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != CTL_PROTO_VERSION) {
		*ret_why = "the daemon speaks another protocol version";
		json_object_put(obj);
		return -EPROTONOSUPPORT;
	}
	*ret_obj = obj;
	json_object_object_get_ex(obj, "ok", &v);
	if (json_object_get_boolean(v))
		return 0;
	err = json_object_object_get_ex(obj, "errno", &v) ? json_object_get_int(v) : EIO;
	*ret_why = json_object_object_get_ex(obj, "error", &v) ? json_object_get_string(v) :
		   "(no reason given)";
	return err > 0 ? -err : -EIO;
}
