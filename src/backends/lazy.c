// SPDX-License-Identifier: GPL-2.0-or-later
/* Loading a backend's client library on first use (lazy.h). */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "backends/lazy.h"
#include "log.h"

int lazy_load(const char *soname, const char *package, const struct lazy_sym *syms,
	      size_t nr_syms, void *table)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		log_err("%s (Debian: apt-get install %s)", dlerror(), package);
		return -ENOPKG;
	}
	for (size_t i = 0; i < nr_syms; i++) {
		void *fn = dlsym(h, syms[i].name);

		if (!fn) {
			log_err("%s has no %s: a %s too old for this daemon (Debian: apt-get "
				"install %s)", soname, syms[i].name, package, package);
			return -ENOPKG;
		}
		/* A function pointer held as the table's own type: same size and form. */
		memcpy((char *)table + syms[i].offset, &fn, sizeof(fn));
	}
	return 0;
}
