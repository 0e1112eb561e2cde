// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blkctl: list the devices vduse-blkd daemons serve, show their
 * counters, resize them and set their log level, through each daemon's
 * control socket (ctl.h, ctl_proto.h).
 *
 * Like main.c for the daemon, this file decides the words and exit codes.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl_proto.h"
#include "state.h"
#include "util.h"
#include "vdpa.h"

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

static void usage(FILE *out)
{
	fprintf(out,
"Usage: vduse-blkctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Talk to the vduse-blkd daemons of this host through their control sockets.\n"
"\n"
"Commands:\n"
"  list                    every device a daemon serves: name, image, capacity,\n"
"                          queues, backend, where it is attached, state, pid\n"
"  stats NAME              requests, bytes, errors, faults, kicks, interrupts and\n"
"                          latency percentiles, per queue and in total\n"
"  resize NAME SIZE        grow the image and the device to SIZE bytes (suffixes K, M,\n"
"                          G, T: powers of 1024); the driver sees the new size at once\n"
"  log-level NAME LEVEL    set the daemon's log level: err, warn, info or debug\n"
"\n"
"Options:\n"
"      --state-dir DIR     where the daemons keep NAME.sock (default %s)\n"
"  -j, --json              print JSON (list, stats)\n"
"  -w, --watch SECONDS     stats: print rates every SECONDS until interrupted\n"
"  -c, --count N           stats -w: stop after N intervals\n"
"      --shrink            resize: allow a size smaller than the device (its end is lost)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status: 0 on success, 1 on failure (no such device, the daemon is not\n"
"running or not responding, permission denied, refused), 2 on a command-line error.\n",
		VDB_STATE_DIR);
}

__attribute__((format(printf, 1, 2)))
static void error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vduse-blkctl: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Why a call failed, in words for the operator; NULL when @err says it all. */
struct call_error {
	int err;
	char why[512];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct call_error *e, int err, const char *fmt, ...)
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
		uint64_t now = now_ms();
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

/**
 * call() - one request to the daemon of @name, its reply in *ret_obj
 * Returns 0, or -errno with the operator's message in @e.
 */
static int call(const struct opts *o, const char *name, const struct ctl_request *req,
		struct json_object **ret_obj, struct call_error *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + REPLY_TIMEOUT_MS;
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
			 "on %s within %d ms; stopped or stuck?)", name, path, REPLY_TIMEOUT_MS);
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

static const char *get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static uint64_t get_u64(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_uint64(v) : 0;
}

static void format_size(uint64_t bytes, char *buf, size_t size)
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

/* Where @name is attached, from sysfs: /dev/vdX, /dev/vhost-vdpa-N, or "none". */
static void find_attachment(const char *name, char *buf, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(buf, size, "none");
	if (vdpa_dev_is_attached(name) <= 0)
		return;
	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(buf, size, "vdpa (no driver)");
		return;
	}
	link[n] = 0;
	if (strstr(link, "vhost_vdpa"))
		vdpa_dev_node(name, VDPA_DRIVER_VHOST, buf, size, 0) < 0 ?
			snprintf(buf, size, "vhost_vdpa") : 0;
	else if (strstr(link, "virtio_vdpa"))
		vdpa_dev_node(name, VDPA_DRIVER_VIRTIO, buf, size, 0) < 0 ?
			snprintf(buf, size, "virtio_vdpa") : 0;
	else
		snprintf(buf, size, "vdpa (%.64s)", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of DIR/NAME.sock and non-empty DIR/NAME.state, sorted, unique. */
static int scan_names(const char *dir, char ***ret, size_t *ret_nr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0;

	*ret = NULL;
	*ret_nr = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		const char *suffix = NULL;
		char **grown;

		if (len > 5 && !strcmp(de->d_name + len - 5, CTL_SOCKET_SUFFIX))
			suffix = CTL_SOCKET_SUFFIX;
		else if (len > 6 && !strcmp(de->d_name + len - 6, ".state"))
			suffix = ".state";
		if (!suffix)
			continue;
		grown = realloc(names, (nr + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[nr] = strndup(de->d_name, len - strlen(suffix));
		if (names[nr])
			nr++;
	}
	closedir(d);
	qsort(names, nr, sizeof(*names), cmp_str);
	*ret = names;
	for (size_t i = 0; i < nr; i++) {
		if (*ret_nr && !strcmp(names[*ret_nr - 1], names[i])) {
			free(names[i]);
			continue;
		}
		names[(*ret_nr)++] = names[i];
	}
	return 0;
}

struct row {
	char cols[8][PATH_MAX / 4];
};

static int cmd_list(const struct opts *o)
{
	static const char *const heads[8] = { "NAME", "IMAGE", "CAPACITY", "QUEUES", "BACKEND",
					       "ATTACHED", "STATE", "PID" };
	struct json_object *arr = json_object_new_array();
	struct row *rows = NULL;
	size_t nr_names, nr_rows = 0, width[8];
	char **names;
	int r = scan_names(o->state_dir, &names, &nr_names), code = EXIT_OK;

	if (r == -EACCES || r == -EPERM) {
		error("listing %s: permission denied (run as root)", o->state_dir);
		return EXIT_FAIL;
	}
	if (r < 0) {
		error("listing %s: %s", o->state_dir, strerror(-r));
		return EXIT_FAIL;
	}
	rows = calloc(nr_names ? nr_names : 1, sizeof(*rows));
	if (!rows || !arr) {
		error("%s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < nr_names; i++) {
		const struct ctl_request req = { .cmd = CTL_CMD_INFO };
		struct json_object *info;
		struct call_error e;
		char attached[128], *c[8];

		r = call(o, names[i], &req, &info, &e);
		/* A device that is gone: its daemon stopped and left the socket or an empty state. */
		if ((r == -ECONNREFUSED || r == -ENOENT) && !vdb_state_exists(o->state_dir, names[i]))
			continue;
		for (int k = 0; k < 8; k++)
			c[k] = rows[nr_rows].cols[k];
		snprintf(c[0], sizeof(rows->cols[0]), "%s", names[i]);
		if (r < 0) {
			const char *state = r == -ETIMEDOUT ? "not responding" :
					    r == -EACCES ? "permission denied" : "no daemon";

			for (int k = 1; k < 8; k++)
				snprintf(c[k], sizeof(rows->cols[k]), "-");
			snprintf(c[6], sizeof(rows->cols[6]), "%s", state);
			find_attachment(names[i], c[5], sizeof(rows->cols[5]));
			info = json_object_new_object();
			json_object_object_add(info, "name", json_object_new_string(names[i]));
			json_object_object_add(info, "state", json_object_new_string(state));
			json_object_object_add(info, "attached", json_object_new_string(c[5]));
			json_object_object_add(info, "error", json_object_new_string(e.why));
			json_object_array_add(arr, info);
			nr_rows++;
			code = EXIT_FAIL;
			continue;
		}
		if (get_str(info, "attached"))
			snprintf(attached, sizeof(attached), "%s", get_str(info, "attached"));
		else
			find_attachment(names[i], attached, sizeof(attached));
		json_object_object_add(info, "attached", json_object_new_string(attached));
		json_object_object_del(info, "v");
		json_object_object_del(info, "ok");
		snprintf(c[1], sizeof(rows->cols[1]), "%s", get_str(info, "image") ?: "-");
		format_size(get_u64(info, "capacity_bytes"), c[2], sizeof(rows->cols[2]));
		snprintf(c[3], sizeof(rows->cols[3]), "%llu",
			 (unsigned long long)get_u64(info, "queues"));
		snprintf(c[4], sizeof(rows->cols[4]), "%s", get_str(info, "backend") ?: "-");
		snprintf(c[5], sizeof(rows->cols[5]), "%s", attached);
		snprintf(c[6], sizeof(rows->cols[6]), "%s", get_str(info, "state") ?: "-");
		snprintf(c[7], sizeof(rows->cols[7]), "%llu",
			 (unsigned long long)get_u64(info, "pid"));
		json_object_array_add(arr, info);
		nr_rows++;
	}
	if (o->is_json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		for (int k = 0; k < 8; k++) {
			width[k] = strlen(heads[k]);
			for (size_t i = 0; i < nr_rows; i++)
				width[k] = MAX(width[k], strlen(rows[i].cols[k]));
		}
		for (int k = 0; k < 8; k++)
			printf("%-*s%s", k < 7 ? (int)width[k] : 0, heads[k], k < 7 ? "  " : "\n");
		for (size_t i = 0; i < nr_rows; i++)
			for (int k = 0; k < 8; k++)
				printf("%-*s%s", k < 7 ? (int)width[k] : 0, rows[i].cols[k],
				       k < 7 ? "  " : "\n");
	}
	for (size_t i = 0; i < nr_rows; i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "error", NULL))
			error("%s", get_str(json_object_array_get_idx(arr, i), "error"));
	json_object_put(arr);
	for (size_t i = 0; i < nr_names; i++)
		free(names[i]);
	free(names);
	free(rows);
	return code;
}

static void print_stats_row(const char *label, struct json_object *s)
{
	struct json_object *lat = NULL;

	json_object_object_get_ex(s, "latency_us", &lat);
	printf("%-6s %10llu %10llu %12llu %12llu %6llu %7llu %7llu %7llu %9llu %9llu %7llu %7llu "
	       "%7llu\n", label,
	       (unsigned long long)get_u64(s, "read_ops"), (unsigned long long)get_u64(s, "write_ops"),
	       (unsigned long long)get_u64(s, "read_bytes"),
	       (unsigned long long)get_u64(s, "write_bytes"),
	       (unsigned long long)(get_u64(s, "flush_ops") + get_u64(s, "discard_ops") +
				    get_u64(s, "write_zeroes_ops") + get_u64(s, "other_ops")),
	       (unsigned long long)get_u64(s, "in_flight"), (unsigned long long)get_u64(s, "errors"),
	       (unsigned long long)(get_u64(s, "driver_faults") + get_u64(s, "device_faults")),
	       (unsigned long long)get_u64(s, "kicks"), (unsigned long long)get_u64(s, "interrupts"),
	       (unsigned long long)get_u64(lat, "p50"), (unsigned long long)get_u64(lat, "p99"),
	       (unsigned long long)get_u64(lat, "p999"));
}

static void print_stats(struct json_object *st)
{
	struct json_object *queues;

	printf("%-6s %10s %10s %12s %12s %6s %7s %7s %7s %9s %9s %7s %7s %7s\n", "queue",
	       "read_ops", "write_ops", "read_bytes", "write_bytes", "other", "in_fl", "errors",
	       "faults", "kicks", "irqs", "p50_us", "p99_us", "p999_us");
	if (json_object_object_get_ex(st, "queues", &queues)) {
		for (size_t i = 0; i < json_object_array_length(queues); i++) {
			char label[24];

			snprintf(label, sizeof(label), "%zu", i);
			print_stats_row(label, json_object_array_get_idx(queues, i));
		}
	}
	print_stats_row("total", st);
}

/* -w: what changed between two snapshots, per second. */
static void print_rates(const char *name, struct json_object *a, struct json_object *b,
			double secs, bool is_json)
{
	static const char *const keys[] = { "read_ops", "write_ops", "read_bytes", "write_bytes",
					     "errors" };
	double rate[ARRAY_SIZE(keys)];
	char rb[32], wb[32];

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		rate[k] = (double)(get_u64(b, keys[k]) - get_u64(a, keys[k])) / secs;
	if (is_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "interval_s", json_object_new_double(secs));
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			char key[64];

			snprintf(key, sizeof(key), "%s_per_s", keys[k]);
			json_object_object_add(o, key, json_object_new_double(rate[k]));
		}
		json_object_object_add(o, "in_flight",
				       json_object_new_uint64(get_u64(b, "in_flight")));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		format_size((uint64_t)rate[2], rb, sizeof(rb));
		format_size((uint64_t)rate[3], wb, sizeof(wb));
		printf("%s: read %.0f/s %s/s  write %.0f/s %s/s  errors %.0f/s  in flight %llu\n",
		       name, rate[0], rb, rate[1], wb, rate[4],
		       (unsigned long long)get_u64(b, "in_flight"));
	}
	fflush(stdout);
}

static int report(const struct call_error *e)
{
	error("%s", e->why);
	return EXIT_FAIL;
}

static int cmd_stats(const struct opts *o, const char *name)
{
	const struct ctl_request req = { .cmd = CTL_CMD_STATS };
	struct json_object *prev, *cur;
	struct call_error e;
	uint64_t t0, t1;

	t0 = now_ms();
	if (call(o, name, &req, &prev, &e) < 0)
		return report(&e);
	if (!o->watch_s) {
		json_object_object_del(prev, "v");
		json_object_object_del(prev, "ok");
		if (o->is_json)
			printf("%s\n", json_object_to_json_string_ext(prev, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			print_stats(prev);
		json_object_put(prev);
		return EXIT_OK;
	}
	for (unsigned int i = 0; !o->count || i < o->count; i++) {
		sleep(o->watch_s);
		t1 = now_ms();
		if (call(o, name, &req, &cur, &e) < 0) {
			json_object_put(prev);
			return report(&e);
		}
		print_rates(name, prev, cur, (double)(t1 - t0) / 1000.0, o->is_json);
		json_object_put(prev);
		prev = cur;
		t0 = t1;
	}
	json_object_put(prev);
	return EXIT_OK;
}

static int cmd_resize(const struct opts *o, const char *name, const char *size)
{
	struct ctl_request req = { .cmd = CTL_CMD_RESIZE, .is_shrink = o->is_shrink };
	struct json_object *reply;
	struct call_error e;
	char human[32];
	int r = ctl_size_parse(size, &req.size_bytes);

	if (r < 0 || req.size_bytes == 0) {
		error("resize: '%s' is not a size (bytes, or a number with K, M, G, T)", size);
		return EXIT_USAGE;
	}
	if (call(o, name, &req, &reply, &e) < 0)
		return report(&e);
	format_size(get_u64(reply, "capacity_bytes"), human, sizeof(human));
	printf("%s: %llu bytes (%s)\n", name,
	       (unsigned long long)get_u64(reply, "capacity_bytes"), human);
	json_object_put(reply);
	return EXIT_OK;
}

static int cmd_log_level(const struct opts *o, const char *name, const char *level)
{
	struct ctl_request req = { .cmd = CTL_CMD_LOG_LEVEL };
	struct json_object *reply;
	struct call_error e;

	if (ctl_level_parse(level, &req.level) < 0) {
		error("log-level: '%s' is not err, warn, info or debug", level);
		return EXIT_USAGE;
	}
	if (call(o, name, &req, &reply, &e) < 0)
		return report(&e);
	printf("%s: log level %s (was %s)\n", name, get_str(reply, "log_level") ?: "?",
	       get_str(reply, "was") ?: "?");
	json_object_put(reply);
	return EXIT_OK;
}

static int parse_uint(const char *opt, const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 86400) {
		error("%s: '%s' is not a number from 1 to 86400", opt, s);
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "shrink", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct opts o = { .state_dir = VDB_STATE_DIR };
	const char *cmd;
	int c, nr_args;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jw:c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			o.state_dir = optarg;
			break;
		case 'j':
			o.is_json = true;
			break;
		case 'w':
			if (parse_uint("--watch", optarg, &o.watch_s) < 0)
				goto usage;
			break;
		case 'c':
			if (parse_uint("--count", optarg, &o.count) < 0)
				goto usage;
			break;
		case 'S':
			o.is_shrink = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("vduse-blkctl %s\n", VDB_VERSION);
			return EXIT_OK;
		case ':':
			error("option '%s' needs a value", argv[optind - 1]);
			goto usage;
		default:
			error("unknown option '%s'", argv[optind - 1]);
			goto usage;
		}
	}
	if (optind >= argc) {
		error("a command is required: list, stats, resize or log-level");
		goto usage;
	}
	cmd = argv[optind++];
	nr_args = argc - optind;
	if (!strcmp(cmd, "list") && nr_args == 0)
		return cmd_list(&o);
	if (!strcmp(cmd, "stats") && nr_args == 1)
		return cmd_stats(&o, argv[optind]);
	if (!strcmp(cmd, "resize") && nr_args == 2)
		return cmd_resize(&o, argv[optind], argv[optind + 1]);
	if (!strcmp(cmd, "log-level") && nr_args == 2)
		return cmd_log_level(&o, argv[optind], argv[optind + 1]);
	if (!strcmp(cmd, "list") || !strcmp(cmd, "stats") || !strcmp(cmd, "resize") ||
	    !strcmp(cmd, "log-level"))
		error("%s: wrong number of arguments", cmd);
	else
		error("unknown command '%s'", cmd);
usage:
	fprintf(stderr, "Try 'vduse-blkctl --help' for more information.\n");
	return EXIT_USAGE;
}
