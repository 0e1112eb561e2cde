// SPDX-License-Identifier: GPL-2.0-or-later
/* The table of backends. */
#include <string.h>

#include "backend.h"
#include "util.h"

static const struct backend_ops *const backends[] = {
	&backend_io_uring,
	&backend_null,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
