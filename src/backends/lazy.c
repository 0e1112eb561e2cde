// SPDX-License-Identifier: GPL-2.0-or-later
/* Loading a backend's client library on first use (lazy.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "backends/lazy.h"
#include "log.h"

static int load(const struct lazy_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_err("%s (Debian: apt-get install %s)", dlerror(), lib->package);
		return -ENOPKG;
	}
	for (size_t i = 0; i < lib->nr_syms; i++) {
		void *fn = dlsym(h, lib->syms[i].name);

		if (!fn) {
			log_err("%s has no %s: a %s too old for this daemon (Debian: apt-get "
				"install %s)", lib->soname, lib->syms[i].name, lib->package,
				lib->package);
			return -ENOPKG;
		}
		/* A function pointer held as the table's own type: same size and form. */
		memcpy((char *)lib->table + lib->syms[i].offset, &fn, sizeof(fn));
	}
	return 0;
}

int lazy_load(struct lazy_lib *lib)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int r;

	pthread_mutex_lock(&lock);
	if (!lib->is_tried) {
		lib->result = load(lib);
		lib->is_tried = true;
	}
	r = lib->result;
	pthread_mutex_unlock(&lock);
	return r;
}
