// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of backends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends/backend.h"
#include "config.h"
#include "util.h"

static const struct backend_ops *const backends[] = {
	&backend_io_uring,
#if HAVE_LIBAIO
	&backend_aio,
#endif
	&backend_null,
#if HAVE_LIBRBD
	&backend_rbd,
#endif
};

const char *backend_op_name(enum backend_op op)
{
	static const char *const names[] = {
		[BACKEND_OP_NONE] = "none", [BACKEND_OP_READ] = "read", [BACKEND_OP_WRITE] = "write",
		[BACKEND_OP_FLUSH] = "flush", [BACKEND_OP_DISCARD] = "discard",
		[BACKEND_OP_WRITE_ZEROES] = "write-zeroes",
	};

	return (unsigned int)op < ARRAY_SIZE(names) ? names[op] : "unknown";
}

/* Prefixes of --image that name a backend, whether or not this build has it. */
static const char *const known_prefixes[] = { "rbd:" };

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int backend_for_image(const char *image, const struct backend_ops **ret_be,
		      const char **ret_path)
{
	*ret_be = NULL;
	*ret_path = image;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		const char *p = backends[i]->image_prefix;

		if (p && strncmp(image, p, strlen(p)) == 0) {
			*ret_be = backends[i];
			*ret_path = image + strlen(p);
			return 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(known_prefixes); i++)
		if (strncmp(image, known_prefixes[i], strlen(known_prefixes[i])) == 0)
			return -ENOTSUP;
	return 0;
}

const char *backend_names(void)
{
	static char names[64];

	if (!names[0]) {
		size_t n = 0;

		for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
			n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
					      i == 0 ? "" : i + 1 == ARRAY_SIZE(backends) ?
					      " or " : ", ", backends[i]->name);
	}
	return names;
}
