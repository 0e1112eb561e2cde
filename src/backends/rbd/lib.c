// SPDX-License-Identifier: GPL-2.0-or-later
/* librbd, loaded when an rbd: image is opened (lib.h, backends/lazy.h). */
#define RBD_LIB_DEFINE
#include <pthread.h>

#include "backends/lazy.h"
#include "backends/rbd/lib.h"

struct rbd_lib rbd_lib;
static int load_result;

static void load(void)
{
#define RBD_LIB_SYM(fn) LAZY_SYM(struct rbd_lib, fn)
	static const struct lazy_sym syms[] = { RBD_LIB_FNS(RBD_LIB_SYM) };
#undef RBD_LIB_SYM

	/* librados.so.2 comes with it, as its dependency. */
	load_result = lazy_load("librbd.so.1", "librbd1", syms, sizeof(syms) / sizeof(syms[0]),
				&rbd_lib);
}

int rbd_lib_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	return load_result;
}
