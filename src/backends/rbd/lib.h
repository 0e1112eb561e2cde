/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_RBD_LIB_H
#define VDB_BACKENDS_RBD_LIB_H

/*
 * librbd and librados, loaded when an rbd: image is opened, not when the
 * daemon starts (backends/lazy.h).  Linked, they brought 24 more shared
 * libraries (Ceph's common library, Boost, ICU, OpenSSL...) and their C++
 * constructors into every start of every backend: 300 ms of a 374 ms
 * `vduse-blkd --version` under TCG, 12 of 17 ms on a host CPU.
 *
 * The backend calls librbd's functions by their own names: below, each name
 * stands for the pointer rbd_lib_load() found for it (lib.c, which sees the
 * real declarations).  A function the backend starts to use goes in
 * RBD_LIB_FNS and gets its #define.
 */

#include <rados/librados.h>
#include <rbd/librbd.h>

#define RBD_LIB_FNS(X) \
	X(rados_create) X(rados_conf_read_file) X(rados_conf_parse_env) X(rados_conf_set) \
	X(rados_conf_get) X(rados_connect) X(rados_shutdown) X(rados_ioctx_create) \
	X(rados_ioctx_destroy) \
	X(rbd_open) X(rbd_open_read_only) X(rbd_close) X(rbd_stat) X(rbd_get_size) \
	X(rbd_resize2) X(rbd_flush) X(rbd_update_watch) X(rbd_update_unwatch) \
	X(rbd_set_image_notification) X(rbd_aio_create_completion) X(rbd_aio_release) \
	X(rbd_aio_get_return_value) X(rbd_aio_readv) X(rbd_aio_writev) X(rbd_aio_flush) \
	X(rbd_aio_discard) X(rbd_aio_write_zeroes)

struct rbd_lib {
#define RBD_LIB_PTR(fn) __typeof__(&fn) fn;
	RBD_LIB_FNS(RBD_LIB_PTR)
#undef RBD_LIB_PTR
};

extern struct rbd_lib rbd_lib;

/*
 * rbd_lib_load() - load librbd (and librados with it) once, and find every
 * function the backend calls; any thread.  Returns 0, or -ENOPKG (logged,
 * with how to install it).
 */
int rbd_lib_load(void);

#ifndef RBD_LIB_DEFINE
#define rados_create rbd_lib.rados_create
#define rados_conf_read_file rbd_lib.rados_conf_read_file
#define rados_conf_parse_env rbd_lib.rados_conf_parse_env
#define rados_conf_set rbd_lib.rados_conf_set
#define rados_conf_get rbd_lib.rados_conf_get
#define rados_connect rbd_lib.rados_connect
#define rados_shutdown rbd_lib.rados_shutdown
#define rados_ioctx_create rbd_lib.rados_ioctx_create
#define rados_ioctx_destroy rbd_lib.rados_ioctx_destroy
#define rbd_open rbd_lib.rbd_open
#define rbd_open_read_only rbd_lib.rbd_open_read_only
#define rbd_close rbd_lib.rbd_close
#define rbd_stat rbd_lib.rbd_stat
#define rbd_get_size rbd_lib.rbd_get_size
#define rbd_resize2 rbd_lib.rbd_resize2
#define rbd_flush rbd_lib.rbd_flush
#define rbd_update_watch rbd_lib.rbd_update_watch
#define rbd_update_unwatch rbd_lib.rbd_update_unwatch
#define rbd_set_image_notification rbd_lib.rbd_set_image_notification
#define rbd_aio_create_completion rbd_lib.rbd_aio_create_completion
#define rbd_aio_release rbd_lib.rbd_aio_release
#define rbd_aio_get_return_value rbd_lib.rbd_aio_get_return_value
#define rbd_aio_readv rbd_lib.rbd_aio_readv
#define rbd_aio_writev rbd_lib.rbd_aio_writev
#define rbd_aio_flush rbd_lib.rbd_aio_flush
#define rbd_aio_discard rbd_lib.rbd_aio_discard
#define rbd_aio_write_zeroes rbd_lib.rbd_aio_write_zeroes
#endif

#endif
