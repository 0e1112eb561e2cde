/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FAKE_VDUSE_H
#define FAKE_VDUSE_H

/*
 * A fake VDUSE kernel for fuzz_ctrl, in the same process as the daemon's
 * code.  The fuzzer binary is linked with --wrap=open64,ioctl,mmap64,munmap,
 * log_msg: the daemon's /dev/vduse/control and /dev/vduse/NAME, its ioctls
 * and its IOTLB mmaps come here.  The driver's memory is one memfd; IOVA
 * GUEST_IOVA + x is memfd offset x wherever a mapping (struct kmap) covers it.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_check.h"

#define DEV_NAME "fuzz0"
#define MAX_QUEUES 2
#define QUEUE_SIZE 16                 /* offered */
#define MEMFD_BYTES (256u << 10)
#define GUEST_IOVA 0x100000ULL        /* IOVA of memfd offset 0 */
#define MAX_MAPS 4

struct kmap {
	uint64_t start, last;         /* IOVA; memfd offset start - GUEST_IOVA */
	unsigned int perm;
};

struct kvq {
	uint32_t num;
	uint64_t desc, driver, device;
	bool is_ready;
	uint16_t avail_index;         /* what VQ_GET_INFO reports */
	int kick_fd;                  /* -1: none */
};

struct fake_vduse {
	int memfd;
	uint8_t *mem;                 /* the driver's view of the memfd */
	int sock[2];                  /* [0] is the daemon's /dev/vduse/NAME */
	bool is_created;
	uint64_t driver_features;
	uint16_t nr_queues;
	struct kvq vq[MAX_QUEUES];
	pthread_mutex_t lock;         /* below: touched by queue threads too */
	struct kmap maps[MAX_MAPS];
	unsigned int nr_maps;
	int handed_fds[16];           /* from IOTLB_GET_FD, not yet mmap()ed */
	unsigned int nr_handed;
	struct { void *addr; size_t len; } mmaps[64];
	unsigned int nr_mmaps;
	unsigned int nr_irqs[MAX_QUEUES];
	int nr_log;
};

extern struct fake_vduse fake;
extern bool fake_verbose;           /* print the daemon's log */

/* fake_vduse_init() - create the driver's memory (once). */
void fake_vduse_init(void);

/* fake_kmap_find() - the mapping overlapping [start, last], or NULL. */
const struct kmap *fake_kmap_find(uint64_t start, uint64_t last);

#endif
