// SPDX-License-Identifier: GPL-2.0-or-later
/* librbd, loaded when an rbd: image is opened (lib.h, backends/lazy.h). */
#define RBD_LIB_DEFINE
#include "backends/lazy.h"
#include "backends/rbd/lib.h"
#include "util.h"

struct rbd_lib rbd_lib;

#define RBD_LIB_SYM(fn) LAZY_SYM(struct rbd_lib, fn)
static const struct lazy_sym syms[] = { RBD_LIB_FNS(RBD_LIB_SYM) };
#undef RBD_LIB_SYM

/* librados.so.2 comes with it, as its dependency. */
static struct lazy_lib lib = {
	.soname = "librbd.so.1", .package = "librbd1", .syms = syms, .nr_syms = ARRAY_SIZE(syms),
	.table = &rbd_lib,
};

int rbd_lib_load(void)
{
	return lazy_load(&lib);
}
