// SPDX-License-Identifier: GPL-2.0-or-later
/* libnbd, loaded when an NBD image is opened (lib.h, backends/lazy.h). */
#define NBD_LIB_DEFINE
#include <pthread.h>

#include "backends/lazy.h"
#include "backends/nbd/lib.h"

struct nbd_lib nbd_lib;
static int load_result;

static void load(void)
{
#define NBD_LIB_SYM(fn) LAZY_SYM(struct nbd_lib, fn)
	static const struct lazy_sym syms[] = { NBD_LIB_FNS(NBD_LIB_SYM) };
#undef NBD_LIB_SYM

	load_result = lazy_load("libnbd.so.0", "libnbd0", syms, sizeof(syms) / sizeof(syms[0]),
				&nbd_lib);
}

int nbd_lib_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	return load_result;
}
