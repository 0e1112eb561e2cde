// SPDX-License-Identifier: GPL-2.0-or-later
/* vduse-blkctl list: every device of the state directory, asked through its socket. */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "recovery/state.h"
#include "util.h"
#include "vduse/vdpa.h"

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

#define NR_COLS 8

struct row {
	char cols[NR_COLS][PATH_MAX / 4];
};

static const char *const heads[NR_COLS] = { "NAME", "IMAGE", "CAPACITY", "QUEUES", "BACKEND",
					    "ATTACHED", "STATE", "PID" };

/* A device whose daemon did not answer (@r): what sysfs knows, and why. */
static struct json_object *row_unanswered(struct row *row, const char *name, int r,
					  const struct cli_failure *e)
{
	const char *state = r == -ETIMEDOUT ? "not responding" :
			    r == -EACCES ? "permission denied" : "no daemon";
	struct json_object *info = json_object_new_object();

	for (int k = 1; k < NR_COLS; k++)
		snprintf(row->cols[k], sizeof(row->cols[k]), "-");
	snprintf(row->cols[6], sizeof(row->cols[6]), "%s", state);
	find_attachment(name, row->cols[5], sizeof(row->cols[5]));
	json_object_object_add(info, "name", json_object_new_string(name));
	json_object_object_add(info, "state", json_object_new_string(state));
	json_object_object_add(info, "attached", json_object_new_string(row->cols[5]));
	json_object_object_add(info, "error", json_object_new_string(e->why));
	return info;
}

/* A device whose daemon answered @info. */
static void row_answered(struct row *row, const char *name, struct json_object *info)
{
	char attached[128];

	if (cli_get_str(info, "attached"))
		snprintf(attached, sizeof(attached), "%s", cli_get_str(info, "attached"));
	else
		find_attachment(name, attached, sizeof(attached));
	json_object_object_add(info, "attached", json_object_new_string(attached));
	json_object_object_del(info, "v");
	json_object_object_del(info, "ok");
	snprintf(row->cols[1], sizeof(row->cols[1]), "%s", cli_get_str(info, "image") ?: "-");
	cli_format_size(cli_get_u64(info, "capacity_bytes"), row->cols[2], sizeof(row->cols[2]));
	snprintf(row->cols[3], sizeof(row->cols[3]), "%llu",
		 (unsigned long long)cli_get_u64(info, "queues"));
	snprintf(row->cols[4], sizeof(row->cols[4]), "%s", cli_get_str(info, "backend") ?: "-");
	snprintf(row->cols[5], sizeof(row->cols[5]), "%s", attached);
	snprintf(row->cols[6], sizeof(row->cols[6]), "%s", cli_get_str(info, "state") ?: "-");
	snprintf(row->cols[7], sizeof(row->cols[7]), "%llu",
		 (unsigned long long)cli_get_u64(info, "pid"));
}

static void print_table(const struct row *rows, size_t nr_rows)
{
	size_t width[NR_COLS];

	for (int k = 0; k < NR_COLS; k++) {
		width[k] = strlen(heads[k]);
		for (size_t i = 0; i < nr_rows; i++)
			width[k] = MAX(width[k], strlen(rows[i].cols[k]));
	}
	for (int k = 0; k < NR_COLS; k++)
		printf("%-*s%s", k < NR_COLS - 1 ? (int)width[k] : 0, heads[k],
		       k < NR_COLS - 1 ? "  " : "\n");
	for (size_t i = 0; i < nr_rows; i++)
		for (int k = 0; k < NR_COLS; k++)
			printf("%-*s%s", k < NR_COLS - 1 ? (int)width[k] : 0, rows[i].cols[k],
			       k < NR_COLS - 1 ? "  " : "\n");
}

int cli_list(const struct cli_opts *o, char *const *args)
{
	struct json_object *arr = json_object_new_array();
	struct row *rows = NULL;
	size_t nr_names, nr_rows = 0;
	char **names;
	int r = scan_names(o->state_dir, &names, &nr_names), code = EXIT_OK;

	(void)args;
	if (r == -EACCES || r == -EPERM) {
		cli_error("listing %s: permission denied (run as root)", o->state_dir);
		return EXIT_FAIL;
	}
	if (r < 0) {
		cli_error("listing %s: %s", o->state_dir, strerror(-r));
		return EXIT_FAIL;
	}
	rows = calloc(nr_names ? nr_names : 1, sizeof(*rows));
	if (!rows || !arr) {
		cli_error("%s", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < nr_names; i++) {
		const struct ctl_request req = { .cmd = CTL_CMD_INFO };
		struct json_object *info;
		struct cli_failure e;

		r = cli_call(o, names[i], &req, &info, &e);
		/* A device that is gone: its daemon stopped and left the socket or an empty state. */
		if ((r == -ECONNREFUSED || r == -ENOENT) && !vdb_state_exists(o->state_dir, names[i]))
			continue;
		snprintf(rows[nr_rows].cols[0], sizeof(rows->cols[0]), "%s", names[i]);
		if (r < 0) {
			info = row_unanswered(&rows[nr_rows], names[i], r, &e);
			code = EXIT_FAIL;
		} else {
			row_answered(&rows[nr_rows], names[i], info);
		}
		json_object_array_add(arr, info);
		nr_rows++;
	}
	if (o->is_json)
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_table(rows, nr_rows);
	for (size_t i = 0; i < nr_rows; i++)
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "error", NULL))
			cli_error("%s", cli_get_str(json_object_array_get_idx(arr, i), "error"));
	json_object_put(arr);
	for (size_t i = 0; i < nr_names; i++)
		free(names[i]);
	free(names);
	free(rows);
	return code;
}
