// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blkctl: list the devices vduse-blkd daemons serve, show their
 * counters, resize them and set their log level, through each daemon's
 * control socket (ctl.h, ctl_proto.h).
 *
 * Like main.c for the daemon, this file decides the words and exit codes;
 * client.c talks to a socket, list.c lists.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/blkctl.h"
#include "config.h"
#include "ctl/proto.h"
#include "recovery/state.h"
#include "util.h"

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

	t0 = monotonic_ms();
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
		t1 = monotonic_ms();
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
