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

#include "ctl/blkctl.h"
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

struct row {
	char cols[8][PATH_MAX / 4];
};

int cmd_list(const struct opts *o)
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
