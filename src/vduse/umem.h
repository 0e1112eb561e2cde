/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_UMEM_H
#define VDB_UMEM_H

/*
 * VDUSE's bounce buffer in the daemon's own memory (VDUSE_IOTLB_REG_UMEM,
 * Linux 6.0 and later).
 *
 * Bound to virtio_vdpa (/dev/vdX on the host), the driver's buffers reach
 * the daemon in VDUSE's bounce buffer, IOVA [0, bounce_size): pages of the
 * kernel's that VDUSE_IOTLB_GET_FD lets the daemon map.  Linux 6.12.118 maps
 * them VM_IO, and the kernel does not pin VM_IO pages for O_DIRECT (EFAULT).
 * Memory the daemon registers instead becomes the bounce buffer itself:
 * ordinary anonymous pages, which O_DIRECT pins, so nothing is copied in the
 * daemon.  The kernel copies the buffers in flight into it when it is
 * registered, and back when it is deregistered or the device fd closes (a
 * crash): requests in flight survive both.
 *
 * It serves the IOTLB as its iotlb_adopt_fn: the range VDUSE_IOTLB_GET_INFO
 * says may take user memory (VDUSE_IOVA_CAP_UMEM: the bounce buffer, once
 * the driver has mapped a buffer) is served from the registered memory.
 * Wanted for O_DIRECT images only: it locks bounce_size bytes (64 MiB by
 * default) per device.  Once the kernel refuses (no REG_UMEM, the locked-
 * memory limit), ranges are mapped from the kernel for good, never a mix of
 * both, and O_DIRECT copies through the daemon's buffers instead
 * (fd_req_dio_refused()).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vduse/iotlb.h"

struct vduse_umem_buf;

struct vduse_umem {
	pthread_mutex_t lock;
	int dev_fd;                   /* the device's, as last seen */
	bool is_wanted;
	bool is_refused;              /* the kernel said no: mapped from the kernel for good */
	struct vduse_umem_buf *buf;   /* registered now, or NULL */
	uint64_t nr_registered;       /* registrations so far */
	int last_err;                 /* why it was refused */
};

/* vduse_umem_init() - @is_wanted: serve the bounce buffer from our memory when the kernel lets us. */
void vduse_umem_init(struct vduse_umem *u, bool is_wanted);

/**
 * vduse_umem_adopt() - the IOTLB offers a range the driver mapped
 * @dev_fd: /dev/vduse/NAME
 * The other arguments and the result are iotlb_adopt_fn's: 1 when the range
 * is the bounce buffer and is served from registered memory (registered now
 * if it was not yet), 0 to map it from the kernel.  Called with the IOTLB's
 * lock held.
 */
int vduse_umem_adopt(struct vduse_umem *u, int dev_fd, uint64_t start, uint64_t last,
		     unsigned int perm, uint8_t **ret_host, struct iotlb_backing **ret_backing);

/**
 * vduse_umem_release() - give the kernel its own bounce pages back
 * Before a re-exec (a live upgrade: the next binary maps the kernel's pages,
 * or registers its own) and at teardown; no queue may be running.  @tlb
 * forgets the range; the next adopt registers new memory.
 */
void vduse_umem_release(struct vduse_umem *u, struct iotlb *tlb);

/*
 * vduse_umem_forget() - a handed-over device fd may still have memory of the
 * previous binary registered, which this process cannot reach: deregister it.
 */
void vduse_umem_forget(int dev_fd);

/*
 * vduse_umem_reserve() - raise RLIMIT_MEMLOCK (while privileged) so that the
 * bounce buffer of device @name (its sysfs bounce_size, else VDUSE's 64 MiB
 * default) can be registered.  Returns 0, or -EPERM when the limit is too
 * low and cannot be raised (no CAP_SYS_RESOURCE).
 */
int vduse_umem_reserve(const char *name);

/* vduse_umem_exit() - deregister and free; NULL-safe. */
void vduse_umem_exit(struct vduse_umem *u);

#endif
