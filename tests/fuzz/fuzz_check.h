/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

/* check() - an invariant of a fuzz target: a broken one is a finding (abort). */

#include <stdio.h>
#include <stdlib.h>

#define check(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif
