/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_LAZY_H
#define VDB_BACKENDS_LAZY_H

/*
 * A backend's client library loaded when its first image is opened, not
 * when the daemon starts: librbd brought 24 shared libraries and Ceph's C++
 * constructors into every start of every backend, libnbd GnuTLS, libxml2
 * and ICU.  The backend keeps a table of pointers, one per function it
 * calls, and its lib.h names each function after its pointer.
 */

#include <stddef.h>

/* One function: its name in the library, where its pointer sits in the table. */
struct lazy_sym {
	const char *name;
	size_t offset;
};

#define LAZY_SYM(type, fn) { #fn, offsetof(type, fn) },

/*
 * lazy_load() - dlopen() @soname and fill @table's pointers from @syms.
 * Returns 0, or -ENOPKG when the library or a function is missing (logged,
 * saying to install @package).  Call it once (pthread_once); the library is
 * never unloaded.
 */
int lazy_load(const char *soname, const char *package, const struct lazy_sym *syms,
	      size_t nr_syms, void *table);

#endif
