/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDRV_H
#define VDRV_H

/*
 * A userspace virtio driver on /dev/vhost-vdpa-N: what a VMM such as QEMU
 * does for a vhost-vdpa device, without a VM.
 *
 * Guest memory is a memfd mapped MAP_SHARED here and into the device IOTLB
 * (vhost-vdpa on a VDUSE device maps by virtual address and only takes
 * shared file mappings: anonymous private memory is silently left out).
 * The rings live at the start of that memory, split (descriptor table, avail
 * and used rings) or packed (VIRTIO_F_RING_PACKED negotiated: descriptor ring,
 * driver and device event suppression structures at the same offsets); the
 * rest is a bump arena for headers, data and indirect tables.  Everything the device writes back is
 * read once and checked by the caller.
 *
 * Calls return 0 or a negative errno; vdrv_err() says which step failed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost_types.h>
#include <linux/virtio_ring.h>

/* Guest memory: a memfd, mapped here and at @iova in the device IOTLB. */
struct vdrv_mem {
	int fd;
	uint8_t *host;
	uint64_t iova;
	size_t bytes;
};

/* Ring layout inside the memory (offsets); the arena follows. */
#define VDRV_DESC_OFF   0x0000u           /* 16 * num, num <= 1024 (packed: the ring) */
#define VDRV_AVAIL_OFF  0x4000u           /* 6 + 2 * num (packed: driver event, 4) */
#define VDRV_USED_OFF   0x5000u           /* 6 + 8 * num (packed: device event, 4) */
#define VDRV_ARENA_OFF  0x8000u
#define VDRV_MAX_NUM    1024u

struct vdrv_vq {
	uint16_t index;
	uint16_t num;
	struct vring_desc *desc;          /* host pointers into the current memory */
	struct vring_avail *avail;
	struct vring_used *used;
	int kick_fd, call_fd;
	bool has_event_idx;
	bool is_always_kick;              /* ignore the device's kick suppression */
	uint16_t avail_idx;               /* driver's shadow of avail->idx */
	uint16_t last_used;               /* next used entry to consume */
	uint16_t published_idx;           /* avail->idx as the device may see it */
	uint16_t *free_stack;             /* free descriptor indices (packed: free buffer ids) */
	uint16_t nr_free;                 /* free descriptors */
	uint16_t *next;                   /* per descriptor: the driver's own copy of next */
	uint16_t *chain_len;              /* per head (packed: id): ring descriptors the chain holds */
	void **owner;                     /* per head (packed: id): the caller's request, NULL if free */
	/* Packed rings: positions are ring slots 0..num-1 plus a wrap counter. */
	bool is_packed;
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event, *device_event;
	uint16_t nr_ids;                  /* free buffer ids on free_stack */
	uint16_t next_avail, pub_avail, next_used;
	bool avail_wrap, pub_wrap, used_wrap;
	uint16_t *pend_pos, *pend_flags, *pend_id;  /* heads added, flags not yet written */
	uint16_t nr_pend;
	uint64_t nr_kicks, nr_kicks_suppressed, nr_calls;
};

struct vdrv {
	int fd;
	const char *path;
	uint64_t dev_features;            /* offered by the device */
	uint64_t features;                /* negotiated */
	uint64_t backend_features;        /* negotiated with vhost-vdpa */
	uint32_t device_id;
	uint32_t config_size;
	uint16_t max_vring_num;
	uint32_t nr_vqs;                  /* VHOST_VDPA_GET_VQS_COUNT, 0 if unknown */
	struct vhost_vdpa_iova_range iova_range;
	struct vdrv_mem mem;
	uint64_t arena_next;              /* bump allocator (offset into mem) */
	struct vdrv_vq vq;
	char err[256];                    /* what the last failed call was doing */
};

/* vdrv_open() - open the node and take ownership (VHOST_SET_OWNER). */
int vdrv_open(struct vdrv *d, const char *path);

/* vdrv_close() - reset the device (status 0) if it was opened, close, free. NULL-safe. */
void vdrv_close(struct vdrv *d);

/* vdrv_err() - text for the last failure. */
const char *vdrv_err(const struct vdrv *d);

/*
 * vdrv_probe() - backend features (IOTLB_MSG_V2, IOTLB_BATCH when offered),
 * device id, device features, config size, max ring size, queue count and
 * IOVA range.  Reads only; the device stays in its reset state.
 */
int vdrv_probe(struct vdrv *d);

/* vdrv_get_config() - read @len bytes of config space at @off. */
int vdrv_get_config(struct vdrv *d, uint32_t off, void *buf, uint32_t len);

/* vdrv_get_status() / vdrv_set_status() - VHOST_VDPA_{GET,SET}_STATUS. */
int vdrv_get_status(struct vdrv *d, uint8_t *ret_status);
int vdrv_set_status(struct vdrv *d, uint8_t status);

/*
 * vdrv_add_status() - set status |= @bits and read it back: a VDUSE daemon
 * that refuses a status leaves it unchanged while the ioctl still returns 0.
 * Returns -EIO when the bits did not stick.
 */
int vdrv_add_status(struct vdrv *d, uint8_t bits);

/* vdrv_set_features() - VHOST_SET_FEATURES, then FEATURES_OK, checked. */
int vdrv_set_features(struct vdrv *d, uint64_t features);

/* Memory and the device IOTLB. */
int vdrv_mem_create(struct vdrv_mem *m, uint64_t iova, size_t bytes);
void vdrv_mem_destroy(struct vdrv_mem *m);
int vdrv_iotlb_update(struct vdrv *d, uint64_t iova, uint64_t size, void *uaddr, uint8_t perm);
int vdrv_iotlb_invalidate(struct vdrv *d, uint64_t iova, uint64_t size);
int vdrv_iotlb_batch(struct vdrv *d, bool is_begin);

/* vdrv_map_mem() - create @bytes of memory at @iova and map it (in a batch if offered). */
int vdrv_map_mem(struct vdrv *d, uint64_t iova, size_t bytes);

/* vdrv_iova_of() / vdrv_ptr() - an offset in the memory as IOVA / host pointer. */
uint64_t vdrv_iova_of(const struct vdrv *d, uint64_t off);
void *vdrv_ptr(const struct vdrv *d, uint64_t off);

/*
 * Arena: vdrv_alloc() returns an offset aligned to @align (power of two), or
 * 0 when full; vdrv_arena_reset() frees everything (no request in flight).
 */
uint64_t vdrv_alloc(struct vdrv *d, uint64_t bytes, uint64_t align);
void vdrv_arena_reset(struct vdrv *d);

/*
 * vdrv_vq_setup() - queue @index with @num entries: rings in the memory,
 * SET_VRING_NUM/BASE/ADDR/KICK/CALL and SET_VRING_ENABLE.  Packed when the
 * negotiated features hold VIRTIO_F_RING_PACKED (any @num up to the maximum;
 * base: both positions 0, wrap counters 1).
 */
int vdrv_vq_setup(struct vdrv *d, uint16_t index, uint16_t num);

/*
 * vdrv_vq_forget() - drop the driver's queue state (eventfds, free lists) after
 * a device reset, before vdrv_vq_setup() again.
 */
void vdrv_vq_forget(struct vdrv *d);

/* vdrv_vq_rebind() - point the driver's ring pointers at the current memory. */
void vdrv_vq_rebind(struct vdrv *d);

/* One buffer of a chain: an offset in the memory. */
struct vdrv_buf {
	uint64_t off;
	uint32_t len;
	bool is_dev_write;
};

/*
 * vdrv_add_chain() - write a chain for @bufs (as one indirect descriptor when
 * @is_indirect) and put its head on the avail ring, not yet visible.
 * Returns the head, or -ENOSPC when descriptors or arena ran out.
 */
int vdrv_add_chain(struct vdrv *d, const struct vdrv_buf *bufs, unsigned int nr,
		   bool is_indirect, void *owner);

/*
 * vdrv_drop_unpublished() - take back the chains added since the last
 * publish (when a batch could not be completed): their descriptors are free
 * again and the device never sees them.
 */
void vdrv_drop_unpublished(struct vdrv *d);

/*
 * vdrv_publish() - make added chains visible (avail->idx) and kick unless the
 * device suppressed it.  Returns true if it kicked.
 */
bool vdrv_publish(struct vdrv *d);

/* vdrv_kick() - kick unconditionally. */
int vdrv_kick(struct vdrv *d);

/* A used entry as the device wrote it. */
struct vdrv_used {
	uint32_t id;
	uint32_t len;
	void *owner;                      /* from vdrv_add_chain(), NULL if the id was not ours */
};

/*
 * vdrv_wait_call() - wait up to @timeout_ms for the call eventfd.
 * Returns 0, -ETIMEDOUT or -errno.
 */
int vdrv_wait_call(struct vdrv *d, int timeout_ms);

/*
 * vdrv_get_used() - take the next used entry if there is one: returns 1 and
 * fills @ret (freeing the chain's descriptors), 0 if none, -EPROTO when the
 * device returned an id that is not the head of a chain in flight (ret->id
 * says which) or moved used->idx by more than the ring size.
 */
int vdrv_get_used(struct vdrv *d, struct vdrv_used *ret);

/*
 * vdrv_arm_call() - ask for an interrupt on the next used entry (used_event
 * with EVENT_IDX) and return true if entries are already pending, in which
 * case the caller takes them instead of waiting: waiting then would miss
 * the interrupt the device rightly did not send.
 */
bool vdrv_arm_call(struct vdrv *d);

/*
 * vdrv_used_idx() - used->idx as the device left it (packed: last_used plus
 * one when a used descriptor is waiting, for the same comparisons).
 */
uint16_t vdrv_used_idx(const struct vdrv *d);

/*
 * vdrv_packed_pos() - packed: the driver's next avail slot (@is_used false) or
 * next used slot, as vhost numbers it: index | wrap counter << 15.
 */
uint16_t vdrv_packed_pos(const struct vdrv *d, bool is_used);

/* vdrv_nr_inflight() - chains added and not yet returned. */
unsigned int vdrv_nr_inflight(const struct vdrv *d);

#endif
