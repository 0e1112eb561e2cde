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

#include <stdbool.h>
#include <stddef.h>

/* One function: its name in the library, where its pointer sits in the table. */
struct lazy_sym {
	const char *name;
	size_t offset;
};

#define LAZY_SYM(type, fn) { #fn, offsetof(type, fn) },

/* A library and the table its functions go to; result and is_tried are lazy_load()'s. */
struct lazy_lib {
	const char *soname;         /* "librbd.so.1" */
	const char *package;        /* what installs it (Debian), for the error */
	const struct lazy_sym *syms;
	size_t nr_syms;
	void *table;
	int result;
	bool is_tried;
};

/*
 * lazy_load() - the first call dlopen()s @lib->soname and fills the table's
 * pointers; every call returns what the first did: 0, or -ENOPKG when the
 * library or a function is missing (logged once, saying to install the
 * package).  Any thread.  The library is never unloaded.
 */
int lazy_load(struct lazy_lib *lib);

#endif
