// SPDX-License-Identifier: GPL-2.0-or-later
/* libnbd, loaded when an NBD image is opened (lib.h, backends/lazy.h). */
#define NBD_LIB_DEFINE
#include "backends/lazy.h"
#include "backends/nbd/lib.h"
#include "util.h"

struct nbd_lib nbd_lib;

#define NBD_LIB_SYM(fn) LAZY_SYM(struct nbd_lib, fn)
static const struct lazy_sym syms[] = { NBD_LIB_FNS(NBD_LIB_SYM) };
#undef NBD_LIB_SYM

static struct lazy_lib lib = {
	.soname = "libnbd.so.0", .package = "libnbd0", .syms = syms, .nr_syms = ARRAY_SIZE(syms),
	.table = &nbd_lib,
};

int nbd_lib_load(void)
{
	return lazy_load(&lib);
}
