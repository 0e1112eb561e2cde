/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VDPA_H
#define VDB_VDPA_H

/*
 * The vdpa bus: adding a VDUSE device to it over generic netlink (family
 * "vdpa", what `vdpa dev add/del` does) and choosing its bus driver in sysfs.
 *
 * Adding a device makes the kernel probe a driver, which sends control
 * messages to /dev/vduse/NAME and waits for the answers: call these from a
 * thread other than the one answering them.
 */

#include <stdbool.h>
#include <stddef.h>

enum vdpa_bus_driver {
	VDPA_DRIVER_VIRTIO,   /* virtio_vdpa: /dev/vdX on this host */
	VDPA_DRIVER_VHOST,    /* vhost_vdpa: /dev/vhost-vdpa-N for a VM */
};

/* vdpa_driver_name() - "virtio_vdpa" or "vhost_vdpa". */
const char *vdpa_driver_name(enum vdpa_bus_driver drv);

/**
 * vdpa_dev_add() - VDPA_CMD_DEV_NEW for the VDUSE device @name
 * Returns 0 or the kernel's -errno: -ENOENT when the vdpa family is not
 * registered (module vdpa not loaded), -EPERM without CAP_NET_ADMIN,
 * -EEXIST when a vdpa device of that name exists, -EINVAL when the VDUSE
 * device is not ready.
 */
int vdpa_dev_add(const char *name);

/* vdpa_dev_del() - VDPA_CMD_DEV_DEL; returns 0 or -errno (-ENODEV: not attached). */
int vdpa_dev_del(const char *name);

/**
 * vdpa_dev_bind() - make @name bound to @drv
 * When another bus driver took it, writes driver_override, unbinds and
 * probes again.  Returns 0, -ENOENT when @drv is not loaded (the message
 * should name the module), or -errno from sysfs.
 */
int vdpa_dev_bind(const char *name, enum vdpa_bus_driver drv);

/**
 * vdpa_dev_node() - the device node of an attached device
 * Waits up to @timeout_ms for /dev/vdX (virtio) or /dev/vhost-vdpa-N (vhost)
 * to appear and writes its path to @buf.  Returns 0, -ETIMEDOUT or -errno.
 */
int vdpa_dev_node(const char *name, enum vdpa_bus_driver drv, char *buf, size_t len,
		  int timeout_ms);

/* vdpa_dev_is_attached() - true while /sys/bus/vdpa/devices/NAME exists. */
int vdpa_dev_is_attached(const char *name);

/*
 * Attach or detach in a thread of its own, so the caller can go on
 * answering the control messages the kernel sends meanwhile.  done_fd (an
 * eventfd) becomes readable when the job is over; vdpa_job_finish() then
 * gives its result.
 */
enum vdpa_job_step { VDPA_STEP_ADD, VDPA_STEP_BIND, VDPA_STEP_NODE, VDPA_STEP_DEL };

struct vdpa_job {
	char name[256];
	enum vdpa_bus_driver drv;
	bool is_detach;
	bool was_attached;           /* the device was on the bus already: not added */
	int done_fd;
	int result;                  /* 0 or -errno */
	enum vdpa_job_step step;     /* where it failed */
	char node[64];               /* /dev/vdX or /dev/vhost-vdpa-N */
	unsigned long thread;        /* pthread_t */
	bool is_running;
};

/*
 * vdpa_job_attach() - add @name to the bus, bind @drv, wait for its node.
 * A device already on the bus (taken over from a daemon before us) is not
 * added again: job->was_attached.  On failure after its own add, the job
 * detaches the device again.
 */
int vdpa_job_attach(struct vdpa_job *job, const char *name, enum vdpa_bus_driver drv);

/* vdpa_job_detach() - remove @name from the bus and wait until it is gone. */
int vdpa_job_detach(struct vdpa_job *job, const char *name);

/* vdpa_job_finish() - join the job; returns its result. NULL-safe, idempotent. */
int vdpa_job_finish(struct vdpa_job *job);

#endif
