// SPDX-License-Identifier: GPL-2.0-or-later
/* vduse-blkctl: one request to a daemon's control socket, in bounded time (see blkctl.h). */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "recovery/state.h"
#include "util.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vduse-blkctl: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}


__attribute__((format(printf, 3, 4)))
static int fail(struct cli_failure *e, int err, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	return err;
}

/* Read one reply line by @deadline; returns its length or -errno (-ETIMEDOUT). */
static ssize_t read_reply(int fd, char *buf, size_t size, uint64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = monotonic_ms();
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
		n = read(fd, buf + len, size - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return len ? (ssize_t)len : -ECONNRESET;
		len += (size_t)n;
		if (memchr(buf + len - n, '\n', (size_t)n))
			return (ssize_t)len;
		if (len == size)
			return -EMSGSIZE;
	}
}

int cli_call(const struct cli_opts *o, const char *name, const struct ctl_request *req,
		struct json_object **ret_obj, struct cli_failure *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int timeout_ms = req->cmd == CTL_CMD_RESIZE ? CTL_RESIZE_TIMEOUT_MS : REPLY_TIMEOUT_MS;
	uint64_t deadline = monotonic_ms() + (uint64_t)timeout_ms;
	char line[CTL_MAX_REQUEST], path[sizeof(sa.sun_path)];
	_cleanup_close_ int fd = -1;
	const char *why;
	char *reply;
	ssize_t n;
	int r, len;

	*ret_obj = NULL;
	e->why[0] = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", o->state_dir, name,
			     CTL_SOCKET_SUFFIX) >= sizeof(path))
		return fail(e, -ENAMETOOLONG, "'%s': the socket path %s is too long", name, path);
	memcpy(sa.sun_path, path, sizeof(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(e, -errno, "'%s': socket: %s", name, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		switch (errno) {
		case ENOENT:
			if (vdb_state_exists(o->state_dir, name))
				return fail(e, -ENOENT, "no daemon serves '%s' (%s is missing, but "
					    "its state is there: start vduse-blkd for it to take "
					    "the device over)", name, path);
			return fail(e, -ENOENT, "no such device '%s' (no daemon socket %s)", name,
				    path);
		case ECONNREFUSED:
			return fail(e, -ECONNREFUSED, "the daemon of '%s' is not running (%s is "
				    "left from one that stopped)", name, path);
		case EACCES:
		case EPERM:
			return fail(e, -EACCES, "'%s': permission denied on %s (run as root or as "
				    "the daemon's --user)", name, path);
		case EAGAIN:
			return fail(e, -ETIMEDOUT, "the daemon of '%s' is not responding (its "
				    "socket %s accepts no connection)", name, path);
		default:
			return fail(e, -errno, "'%s': connecting to %s: %s", name, path,
				    strerror(errno));
		}
	}
	len = ctl_request_format(req, line, sizeof(line));
	if (len < 0 || write(fd, line, (size_t)len) != len)
		return fail(e, -EIO, "the daemon of '%s' is not responding (sending to %s failed)",
			    name, path);
	reply = malloc(CTL_MAX_REPLY);
	if (!reply)
		return fail(e, -ENOMEM, "'%s': %s", name, strerror(ENOMEM));
	n = read_reply(fd, reply, CTL_MAX_REPLY, deadline);
	if (n == -ETIMEDOUT) {
		free(reply);
		e->err = -ETIMEDOUT;
		snprintf(e->why, sizeof(e->why), "the daemon of '%s' is not responding (no reply "
			 "on %s within %d ms; stopped or stuck?)", name, path, timeout_ms);
		return e->err;
	}
	if (n < 0) {
		free(reply);
		e->err = (int)n;
		snprintf(e->why, sizeof(e->why), "the daemon of '%s' closed the connection "
			 "without a reply (%s; busy or stopping?)", name, strerror((int)-n));
		return e->err;
	}
	r = ctl_reply_parse(reply, (size_t)n, ret_obj, &why);
	free(reply);
	if (r < 0) {
		e->err = r;
		snprintf(e->why, sizeof(e->why), "'%s': %s%s%s", name, why,
			 r != -EBADMSG && r != -EPROTONOSUPPORT ? ": " : "",
			 r != -EBADMSG && r != -EPROTONOSUPPORT ? strerror(-r) : "");
	}
	return r;
}

const char *cli_get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

uint64_t cli_get_u64(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_uint64(v) : 0;
}

void cli_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}
