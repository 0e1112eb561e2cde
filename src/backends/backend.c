// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of backends: what the daemon finds them, their prefixes and options by. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "util.h"

/*
 * The backends, in the order --help lists them, io_uring (the default)
 * first: one line each.  Each is defined in its folder, src/backends/NAME/,
 * which src/backends/meson.build builds with one subdir() line.
 */
#define BACKENDS(X) \
	X(io_uring) \
	X(aio)      \
	X(null)     \
	X(rbd)      \
	X(nbd)      \
	/* a new backend: X(NAME) on a line of its own above this one */

#define DECLARE(name) extern const struct backend_ops backend_##name;
BACKENDS(DECLARE)
#define ROW(name) &backend_##name,
static const struct backend_ops *const backends[] = { BACKENDS(ROW) };

const char *backend_op_name(enum backend_op op)
{
	static const char *const names[] = {
		[BACKEND_OP_NONE] = "none", [BACKEND_OP_READ] = "read", [BACKEND_OP_WRITE] = "write",
		[BACKEND_OP_FLUSH] = "flush", [BACKEND_OP_DISCARD] = "discard",
		[BACKEND_OP_WRITE_ZEROES] = "write-zeroes",
	};

	return (unsigned int)op < ARRAY_SIZE(names) ? names[op] : "unknown";
}

const struct backend_ops *backend_at(unsigned int i)
{
	return i < ARRAY_SIZE(backends) ? backends[i] : NULL;
}

const struct backend_ops *backend_find_any(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const struct backend_ops *backend_find(const char *name)
{
	const struct backend_ops *be = backend_find_any(name);

	return be && !be->missing ? be : NULL;
}

/* "rbd:" literally; "nbd" as the start of a URI scheme: "nbd+unix://". */
static bool has_image_prefix(const char *image, const char *p)
{
	size_t n = strlen(p);

	if (!n || strncmp(image, p, n) != 0)
		return false;
	if (p[n - 1] == ':')
		return true;
	n += strspn(image + n, "abcdefghijklmnopqrstuvwxyz0123456789+.-");
	return strncmp(image + n, "://", 3) == 0;
}

const struct backend_ops *backend_for_image(const char *image, const char **ret_path)
{
	*ret_path = image;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		const char *p = backends[i]->image_prefix;

		if (p && has_image_prefix(image, p)) {
			*ret_path = image + strlen(p);
			return backends[i];
		}
	}
	return NULL;
}

const char *backend_names(void)
{
	static char names[128];

	if (!names[0]) {
		size_t n = 0, nr = 0, left = 0;

		for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
			left += !backends[i]->missing;
		for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
			if (backends[i]->missing)
				continue;
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
					      nr == 0 ? "" : nr + 1 == left ? " or " : ", ",
					      backends[i]->name);
			nr++;
		}
	}
	return names;
}

int backend_opt_index(const struct backend_ops *be, const char *key)
{
	for (int i = 0; be->opts && be->opts[i].key && i < BACKEND_MAX_OPTS; i++)
		if (strcmp(be->opts[i].key, key) == 0)
			return i;
	return -ENOENT;
}

const struct backend_ops *backend_opt_owner(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backend_opt_index(backends[i], key) >= 0)
			return backends[i];
	return NULL;
}
