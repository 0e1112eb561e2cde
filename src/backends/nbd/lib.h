/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_NBD_LIB_H
#define VDB_BACKENDS_NBD_LIB_H

/*
 * libnbd, loaded when an NBD image is opened, not when the daemon starts
 * (backends/lazy.h): linked, it brought GnuTLS, libxml2 and ICU into every
 * start of every backend, about 5 ms of it on a host CPU.
 *
 * The backend calls libnbd's functions by their own names: below, each name
 * stands for the pointer nbd_lib_load() found for it (lib.c, which sees the
 * real declarations).  A function the backend starts to use goes in
 * NBD_LIB_FNS and gets its #define.
 */

#include <libnbd.h>

#define NBD_LIB_FNS(X) \
	X(nbd_create) X(nbd_close) X(nbd_connect_uri) X(nbd_aio_connect_uri) X(nbd_shutdown) \
	X(nbd_poll) X(nbd_get_error) X(nbd_get_errno) X(nbd_get_size) X(nbd_get_block_size) \
	X(nbd_is_read_only) X(nbd_can_flush) X(nbd_can_trim) X(nbd_can_zero) X(nbd_can_multi_conn) \
	X(nbd_set_pread_initialize) X(nbd_flush) X(nbd_aio_get_fd) X(nbd_aio_get_direction) \
	X(nbd_aio_notify_read) X(nbd_aio_notify_write) X(nbd_aio_is_ready) X(nbd_aio_is_dead) \
	X(nbd_aio_is_closed) X(nbd_aio_pread) X(nbd_aio_pwrite) X(nbd_aio_flush) X(nbd_aio_trim) \
	X(nbd_aio_zero)

struct nbd_lib {
#define NBD_LIB_PTR(fn) __typeof__(&fn) fn;
	NBD_LIB_FNS(NBD_LIB_PTR)
#undef NBD_LIB_PTR
};

extern struct nbd_lib nbd_lib;

/*
 * nbd_lib_load() - load libnbd once and find every function the backend
 * calls; any thread.  Returns 0, or -ENOPKG (logged, with how to install it).
 */
int nbd_lib_load(void);

#ifndef NBD_LIB_DEFINE
#define nbd_create nbd_lib.nbd_create
#define nbd_close nbd_lib.nbd_close
#define nbd_connect_uri nbd_lib.nbd_connect_uri
#define nbd_aio_connect_uri nbd_lib.nbd_aio_connect_uri
#define nbd_shutdown nbd_lib.nbd_shutdown
#define nbd_poll nbd_lib.nbd_poll
#define nbd_get_error nbd_lib.nbd_get_error
#define nbd_get_errno nbd_lib.nbd_get_errno
#define nbd_get_size nbd_lib.nbd_get_size
#define nbd_get_block_size nbd_lib.nbd_get_block_size
#define nbd_is_read_only nbd_lib.nbd_is_read_only
#define nbd_can_flush nbd_lib.nbd_can_flush
#define nbd_can_trim nbd_lib.nbd_can_trim
#define nbd_can_zero nbd_lib.nbd_can_zero
#define nbd_can_multi_conn nbd_lib.nbd_can_multi_conn
#define nbd_set_pread_initialize nbd_lib.nbd_set_pread_initialize
#define nbd_flush nbd_lib.nbd_flush
#define nbd_aio_get_fd nbd_lib.nbd_aio_get_fd
#define nbd_aio_get_direction nbd_lib.nbd_aio_get_direction
#define nbd_aio_notify_read nbd_lib.nbd_aio_notify_read
#define nbd_aio_notify_write nbd_lib.nbd_aio_notify_write
#define nbd_aio_is_ready nbd_lib.nbd_aio_is_ready
#define nbd_aio_is_dead nbd_lib.nbd_aio_is_dead
#define nbd_aio_is_closed nbd_lib.nbd_aio_is_closed
#define nbd_aio_pread nbd_lib.nbd_aio_pread
#define nbd_aio_pwrite nbd_lib.nbd_aio_pwrite
#define nbd_aio_flush nbd_lib.nbd_aio_flush
#define nbd_aio_trim nbd_lib.nbd_aio_trim
#define nbd_aio_zero nbd_lib.nbd_aio_zero
#endif

#endif
