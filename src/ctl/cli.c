// SPDX-License-Identifier: GPL-2.0-or-later
/* vduse-blkctl: what stats, resize and log-level print (see cli.h, command.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "util.h"

static void print_stats_row(const char *label, struct json_object *s)
{
	struct json_object *lat = NULL;

	json_object_object_get_ex(s, "latency_us", &lat);
	printf("%-6s %10llu %10llu %12llu %12llu %6llu %7llu %7llu %7llu %9llu %9llu %7llu %7llu "
	       "%7llu\n", label,
	       (unsigned long long)cli_get_u64(s, "read_ops"), (unsigned long long)cli_get_u64(s, "write_ops"),
	       (unsigned long long)cli_get_u64(s, "read_bytes"),
	       (unsigned long long)cli_get_u64(s, "write_bytes"),
	       (unsigned long long)(cli_get_u64(s, "flush_ops") + cli_get_u64(s, "discard_ops") +
				    cli_get_u64(s, "write_zeroes_ops") + cli_get_u64(s, "other_ops")),
	       (unsigned long long)cli_get_u64(s, "in_flight"), (unsigned long long)cli_get_u64(s, "errors"),
	       (unsigned long long)(cli_get_u64(s, "driver_faults") + cli_get_u64(s, "device_faults")),
	       (unsigned long long)cli_get_u64(s, "kicks"), (unsigned long long)cli_get_u64(s, "interrupts"),
	       (unsigned long long)cli_get_u64(lat, "p50"), (unsigned long long)cli_get_u64(lat, "p99"),
	       (unsigned long long)cli_get_u64(lat, "p999"));
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
		rate[k] = (double)(cli_get_u64(b, keys[k]) - cli_get_u64(a, keys[k])) / secs;
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
				       json_object_new_uint64(cli_get_u64(b, "in_flight")));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		cli_format_size((uint64_t)rate[2], rb, sizeof(rb));
		cli_format_size((uint64_t)rate[3], wb, sizeof(wb));
		printf("%s: read %.0f/s %s/s  write %.0f/s %s/s  errors %.0f/s  in flight %llu\n",
		       name, rate[0], rb, rate[1], wb, rate[4],
		       (unsigned long long)cli_get_u64(b, "in_flight"));
	}
	fflush(stdout);
}

static int report(const struct cli_failure *e)
{
	cli_error("%s", e->why);
	return EXIT_FAIL;
}

int cli_stats(const struct cli_opts *o, char *const *args)
{
	const char *name = args[0];
	const struct ctl_request req = { .cmd = CTL_CMD_STATS };
	struct json_object *prev, *cur;
	struct cli_failure e;
	uint64_t t0, t1;

	t0 = monotonic_ms();
	if (cli_call(o, name, &req, &prev, &e) < 0)
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
		if (cli_call(o, name, &req, &cur, &e) < 0) {
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

int cli_resize(const struct cli_opts *o, char *const *args)
{
	const char *name = args[0], *size = args[1];
	struct ctl_request req = { .cmd = CTL_CMD_RESIZE, .is_shrink = o->is_shrink };
	struct json_object *reply;
	struct cli_failure e;
	char human[32];
	int r = ctl_size_parse(size, &req.size_bytes);

	if (r < 0 || req.size_bytes == 0) {
		cli_error("resize: '%s' is not a size (bytes, or a number with K, M, G, T)", size);
		return EXIT_USAGE;
	}
	if (cli_call(o, name, &req, &reply, &e) < 0)
		return report(&e);
	cli_format_size(cli_get_u64(reply, "capacity_bytes"), human, sizeof(human));
	printf("%s: %llu bytes (%s)\n", name,
	       (unsigned long long)cli_get_u64(reply, "capacity_bytes"), human);
	json_object_put(reply);
	return EXIT_OK;
}

int cli_log_level(const struct cli_opts *o, char *const *args)
{
	const char *name = args[0], *level = args[1];
	struct ctl_request req = { .cmd = CTL_CMD_LOG_LEVEL };
	struct json_object *reply;
	struct cli_failure e;

	if (ctl_level_parse(level, &req.level) < 0) {
		cli_error("log-level: '%s' is not err, warn, info or debug", level);
		return EXIT_USAGE;
	}
	if (cli_call(o, name, &req, &reply, &e) < 0)
		return report(&e);
	printf("%s: log level %s (was %s)\n", name, cli_get_str(reply, "log_level") ?: "?",
	       cli_get_str(reply, "was") ?: "?");
	json_object_put(reply);
	return EXIT_OK;
}

