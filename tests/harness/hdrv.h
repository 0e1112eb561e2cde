/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRV_H
#define HDRV_H

/*
 * An in-process virtio-blk driver for tests: it lays out split or packed
 * rings in a memory arena (reached through IOVAs, with PROT_NONE guard pages
 * around it), builds descriptor chains, kicks, and waits for used entries,
 * while the real queue loop (vq + blk + backend) runs in a thread against a
 * real image.
 *
 * The packed layout is driven as Linux's packed driver does
 * (drivers/virtio/virtio_ring.c): buffer IDs from a free list, chains
 * written into consecutive ring slots with the head's flags stored last,
 * used entries read at the driver's used position, which then skips as many
 * slots as that ID's chain took.  The same calls work in both layouts; in
 * packed mode a "head" is a buffer ID, and hdrv_chain() only stages the
 * chain: it reaches the ring when published.
 */

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "backends/fd/req.h"
#include "blk/blk.h"
#include "vduse/iotlb.h"
#include "virtio/mem.h"
#include "blk/queue.h"

#define HDRV_ARENA_IOVA 0x100000ULL
#define HDRV_MAX_REGIONS 8
#define HDRV_MAX_EXTRA 4              /* host mappings hdrv_add_region() may add */
#define HDRV_SPARE_FDS 64             /* GET_FD answers for secret memory */

struct hregion {
	uint64_t iova;
	uint64_t len;
	unsigned int perm;
	uint8_t *host;
};

/* Address space of the harness: a list of regions with permissions. */
struct hmem {
	struct mem mem;
	struct hregion regions[HDRV_MAX_REGIONS];
	unsigned int nr_regions;
	uint32_t gen;                 /* movable spaces: bumped by hmem_moved() */
};

void hmem_init(struct hmem *hm);

/*
 * hmem_init_movable() - a space whose regions the test may change while the
 * queue runs (like a VM remapping memory): it reports a generation and
 * supports pin(), so the queue translates its rings again when told.
 */
void hmem_init_movable(struct hmem *hm);

/* hmem_moved() - the regions changed: bump the generation (release). */
void hmem_moved(struct hmem *hm);
void hmem_add(struct hmem *hm, uint64_t iova, uint64_t len, unsigned int perm, void *host);

struct hdrv_opts {
	uint16_t queue_size;          /* default 64 */
	bool is_packed;               /* a packed ring (virtio 1.2, 2.8) instead of split rings */
	bool has_event_idx;
	bool is_readonly;
	const char *backend;          /* default "io_uring" */
	const struct backend_ops *backend_ops; /* a test's own backend, instead of @backend */
	bool is_movable;              /* hmem_init_movable(): the test may remap memory */
	uint32_t block_size;          /* default 512 */
	bool is_direct;               /* open the image with O_DIRECT (image_open's is_direct) */
	/* The backend's options, as --backend-opt KEY=VALUE gives them (the rest: { NULL }). */
	struct { const char *key, *value; } backend_opts[4];
	const struct image *shared_img; /* another hdrv's image (queues of one device) */
	/*
	 * The daemon's real memory path: the queue reads driver memory through
	 * an iotlb_view over a struct iotlb, whose regions a fake
	 * VDUSE_IOTLB_GET_FD serves from a memfd; hdrv_iotlb_update() plays
	 * UPDATE_IOTLB.
	 */
	bool is_iotlb;
	/*
	 * iotlb mode over memory the kernel will not pin for O_DIRECT
	 * (memfd_secret): what VDUSE's VM_IO bounce buffer is from Linux
	 * 6.12.118 on.  hdrv_start() returns -ENOSYS where there is none.
	 */
	bool is_unpinnable;
	uint16_t advertised_queue_size; /* the device's queue size (seg_max); default: the ring's */
	uint32_t poll_us;             /* the device's --poll-us */
	/* The queue's in-flight log (e.g. shared with the test), or NULL for its own. */
	struct journal *log;
};

/* A range the driver mapped, as VDUSE_IOTLB_GET_FD reports it (iotlb mode). */
struct hmap {
	uint64_t start, last;         /* IOVA range */
	uint64_t offset;              /* in hdrv.memfd */
	unsigned int perm;
};

struct hdrv {
	struct hmem hm;
	uint8_t *arena;               /* host address of the arena (RW region) */
	size_t arena_bytes;
	uint64_t next_free;           /* bump allocator, offset in the arena */
	uint16_t num;
	bool is_packed;
	/* Split: descriptor table, avail ring, used ring.  Packed: NULL. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	/* Packed: the descriptor ring and the two event suppression structures. */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event;  /* the driver's wishes (ours) */
	struct vring_packed_desc_event *device_event;  /* the device's */
	/* Split: table, avail, used.  Packed: ring, driver event, device event. */
	uint64_t desc_iova, avail_iova, used_iova;
	uint16_t next_desc;           /* split: next free descriptor (round robin) */
	uint16_t avail_idx;           /* split: driver's shadow */
	uint16_t last_used_idx;       /* used entries taken (both layouts: a count) */
	/* Packed: positions are a slot index with the wrap counter in bit 15 (VQ_POS_WRAP). */
	uint16_t avail_pos;           /* next slot the driver writes */
	uint16_t used_pos;            /* next slot the driver reads a used entry from */
	struct hid *ids;              /* by buffer ID */
	uint16_t *free_ids;           /* a stack: the next ID to use on top */
	uint16_t nr_free_ids;
	bool has_event_idx;
	unsigned int nr_kicks;        /* kicks sent */
	unsigned int nr_kicks_suppressed; /* kicks the device said it did not need */
	int kick_fd, call_fd;
	struct {
		uint8_t *map;         /* including one guard page on each side */
		size_t len;
	} extra[HDRV_MAX_EXTRA];
	unsigned int nr_extra;
	/* iotlb mode */
	int memfd;                    /* all driver memory: the arena, then extra regions */
	bool is_unpinnable;           /* memfd_secret (hdrv_opts) */
	int spare_fds[HDRV_SPARE_FDS]; /* its fds for GET_FD: it cannot be opened again */
	unsigned int nr_spare_fds;
	uint64_t memfd_bytes;
	struct hmap maps[HDRV_MAX_EXTRA + 1];
	unsigned int nr_maps;
	struct iotlb tlb;
	struct iotlb_view view;
	struct mem hooked;            /* the view, with on_lookup() called first */
	/*
	 * Called before each lookup the queue makes (a test's hook), if set.
	 * The queue thread reads it atomically: set it with __atomic_store_n.
	 */
	void (*on_lookup)(struct hdrv *h, uint64_t iova);
	/*
	 * Called by the queue thread when it interrupts the driver, after the
	 * call eventfd is written (a test's driver answering at once), if set.
	 * Set it with __atomic_store_n.
	 */
	void (*on_notify)(struct hdrv *h);
	/* A failure of the device's own that GET_FD returns: hdrv_fail_get_fd(). */
	uint64_t fail_start, fail_last;
	int fail_err;
	char image_path[256];
	struct image img;
	bool is_img_shared;           /* opts->shared_img: not ours to close */
	struct blk_dev dev;
	struct blk_queue *q;
	struct blk_queue *dead_q;     /* a queue whose thread died (hdrv_restart()), or NULL */
	int dead_kick_fd;             /* its kick eventfd: its ring still reads it */
	struct blk_queue_ring ring;
	const struct backend_ops *be;
	bool is_running;
	int run_result;
	unsigned long thread;         /* pthread_t */
};

/* hdrv_make_image() - create a temporary image of @bytes filled with @fill; returns 0. */
int hdrv_make_image(char *path, size_t path_len, uint64_t bytes, int fill);

/* hdrv_make_image_in() - the same in directory @dir ($TMPDIR or /tmp when NULL). */
int hdrv_make_image_in(const char *dir, char *path, size_t path_len, uint64_t bytes, int fill);

/* hdrv_start() - open @image_path, set up rings and start the queue thread. */
int hdrv_start(struct hdrv *h, const char *image_path, const struct hdrv_opts *opts);

/* hdrv_join() - wait for the queue thread to return (after blk_queue_stop()); its result. */
int hdrv_join(struct hdrv *h);

/*
 * hdrv_restart() - serve the rings again after the queue's thread died (a
 * daemon killed mid-request): a new queue resumes from the same in-flight
 * log, as a restarted daemon does.  The dead queue's backend ring lives on,
 * unread, until hdrv_stop().  Returns blk_queue_new()'s result.
 */
int hdrv_restart(struct hdrv *h);

/* hdrv_stop() - stop the queue (draining in flight requests), free everything. */
int hdrv_stop(struct hdrv *h);

/* Arena allocation: returns an IOVA (aligned to 16), host pointer via hdrv_ptr(). */
uint64_t hdrv_alloc(struct hdrv *h, uint64_t bytes);

/*
 * hdrv_alloc_aligned() - @bytes at an IOVA (and host address: the arena is
 * page-aligned) that is @skew bytes past a multiple of @align (a power of two).
 */
uint64_t hdrv_alloc_aligned(struct hdrv *h, uint64_t bytes, uint64_t align, uint64_t skew);
void *hdrv_ptr(struct hdrv *h, uint64_t iova);

/*
 * hdrv_add_region() - map @len bytes (a multiple of 4096) of fresh host memory,
 * between PROT_NONE guard pages, at @iova with @perm (MEM_READ, MEM_WRITE).
 * Call it before publishing any chain that uses it.  Returns the host address;
 * the mapping goes away in hdrv_stop().
 */
void *hdrv_add_region(struct hdrv *h, uint64_t iova, size_t len, unsigned int perm);

/*
 * hdrv_iotlb_update() - the driver changed [start, last]: what the daemon does
 * on VDUSE_UPDATE_IOTLB (iotlb mode).  Any thread.
 */
void hdrv_iotlb_update(struct hdrv *h, uint64_t start, uint64_t last);

/* hdrv_fail_get_fd() - GET_FD fails with @err (0: no longer) for IOVAs in [start, last]. */
void hdrv_fail_get_fd(struct hdrv *h, uint64_t start, uint64_t last, int err);

/* hdrv_nr_device_maps() - the queue's live mappings of driver memory (iotlb mode). */
unsigned int hdrv_nr_device_maps(struct hdrv *h);

/* hdrv_alloc_desc() - the next free descriptor index (round robin over the table; split). */
uint16_t hdrv_alloc_desc(struct hdrv *h);

/* One buffer of a chain. */
struct hbuf {
	uint64_t iova;
	uint32_t len;
	bool is_write;                /* device-writable */
	uint16_t flags;               /* more descriptor flags (e.g. VRING_DESC_F_INDIRECT) */
};

/* Packed: a buffer ID's chain, staged by hdrv_chain() until published. */
struct hid {
	struct vring_packed_desc *descs;  /* flags without AVAIL/USED */
	uint16_t nr;
	uint16_t nr_ring;             /* slots its last publication took */
	uint16_t nr_published;        /* publications not yet returned used */
	bool is_allocated;            /* taken from the free list */
};

/*
 * hdrv_chain() - @nr descriptors in order (NEXT on all but the last, WRITE
 * for is_write, plus each buffer's flags); returns the head index (split),
 * or the buffer ID whose chain is staged for publishing (packed).
 */
uint16_t hdrv_chain(struct hdrv *h, const struct hbuf *bufs, unsigned int nr);

/* hdrv_chain_indirect() - one descriptor pointing at a table of @nr; returns the head. */
uint16_t hdrv_chain_indirect(struct hdrv *h, const struct hbuf *bufs, unsigned int nr);

/*
 * hdrv_table() - an indirect table of @nr entries in the ring's layout (split:
 * linked by NEXT; packed: in order, no NEXT), in the arena; returns its IOVA.
 */
uint64_t hdrv_table(struct hdrv *h, const struct hbuf *bufs, unsigned int nr);

/* hdrv_set_desc() - write descriptor @i directly (for malformed chains; split only). */
void hdrv_set_desc(struct hdrv *h, uint16_t i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);

/*
 * hdrv_publish() - put @head on the avail ring and kick, unless the device
 * suppressed kicks (VRING_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX),
 * as a real driver does: a device that forgets to re-enable kicks stalls.
 */
void hdrv_publish(struct hdrv *h, uint16_t head);

/* hdrv_publish_batch() - put @nr heads on the avail ring with one avail->idx store. */
void hdrv_publish_batch(struct hdrv *h, const uint16_t *heads, unsigned int nr);

/* hdrv_place() - make @head available (as hdrv_publish()) without kicking. */
void hdrv_place(struct hdrv *h, uint16_t head);

/* hdrv_kick() - kick the device, whatever it asked for. */
void hdrv_kick(struct hdrv *h);

/* hdrv_publish_idx() - set avail->idx to @idx without ring entries, and always kick (split). */
void hdrv_publish_idx(struct hdrv *h, uint16_t idx);

/*
 * hdrv_used_idx() - the device's used->idx as the driver sees it now; packed:
 * hdrv.last_used_idx plus the used entries visible from the driver's position.
 */
uint16_t hdrv_used_idx(struct hdrv *h);

/* hdrv_take_used() - the next used entry if there is one (0), else -EAGAIN; no waiting. */
int hdrv_take_used(struct hdrv *h, uint32_t *ret_id, uint32_t *ret_len);

/*
 * hdrv_wait_used() - wait up to @timeout_ms for the next used entry.
 * Returns 0 with *ret_id and *ret_len, or -ETIMEDOUT.
 */
int hdrv_wait_used(struct hdrv *h, uint32_t *ret_id, uint32_t *ret_len, int timeout_ms);

/*
 * hdrv_set_used_event() - with EVENT_IDX, ask for an interrupt when the used
 * entry @delta past the next one the driver takes is written (split:
 * used_event = last_used_idx + delta).  Packed: driver event DESC at the
 * driver's used position moved by @delta slots, so 0 is exact and large or
 * negative values mean "far ahead" and "just passed" as in split.
 */
void hdrv_set_used_event(struct hdrv *h, int delta);

/* hdrv_set_interrupts() - split: clear or set VRING_AVAIL_F_NO_INTERRUPT; packed: ENABLE/DISABLE. */
void hdrv_set_interrupts(struct hdrv *h, bool is_enabled);

/* hdrv_rings_moved() - the arena moved (h->arena): point the ring pointers at it again. */
void hdrv_rings_moved(struct hdrv *h);

/* ---- packed only: raw ring writes for malformed rings -------------------- */

/* hdrv_packed_avail_flags() - AVAIL/USED bits that make a slot available in lap @pos. */
uint16_t hdrv_packed_avail_flags(uint16_t pos);

/* hdrv_packed_pos_add() - position @pos moved on by @n slots (n may be negative, |n| <= num). */
uint16_t hdrv_packed_pos_add(const struct hdrv *h, uint16_t pos, int n);

/*
 * hdrv_packed_write() - write @descs verbatim (flags as given) into the slots
 * from @pos on, wrapping at the ring end, the first one's flags last (release).
 * Nothing else: no bookkeeping, no kick.
 */
void hdrv_packed_write(struct hdrv *h, uint16_t pos, const struct vring_packed_desc *descs,
		       unsigned int nr);

/*
 * hdrv_packed_put() - hdrv_packed_write() at the driver's avail position,
 * which moves on by @nr; the last descriptor's ID (if < num) is recorded as
 * in flight with @nr slots, as a published chain is; kicks always.
 */
void hdrv_packed_put(struct hdrv *h, const struct vring_packed_desc *descs, unsigned int nr);

/* hdrv_packed_alloc_id() - a buffer ID from the free list, for hdrv_packed_put(). */
uint16_t hdrv_packed_alloc_id(struct hdrv *h);

/* A complete virtio-blk request in the arena: header, data, status. */
struct hreq {
	uint64_t hdr_iova;
	uint64_t data_iova;
	uint64_t status_iova;
	uint32_t data_len;
	uint16_t head;
};

/*
 * hdrv_blk_req() - build (not publish) a request: header {type, sector}, one
 * data buffer of @data_len (device-writable for reads and GET_ID), status
 * byte preset to 0xff.  @data may be NULL; otherwise it is copied in.
 */
void hdrv_blk_req(struct hdrv *h, struct hreq *r, uint32_t type, uint64_t sector,
		  const void *data, uint32_t data_len);

/* hdrv_blk_chain() - build the chain for @r (direct), not published: r->head. */
void hdrv_blk_chain(struct hdrv *h, struct hreq *r);

/* hdrv_blk_submit() - build the chain for @r (direct), publish it. */
void hdrv_blk_submit(struct hdrv *h, struct hreq *r);

/*
 * hdrv_blk_do() - build, submit and wait: returns the status byte
 * (0xff if untouched), or -ETIMEDOUT; *ret_len gets used.len when non-NULL.
 */
int hdrv_blk_do(struct hdrv *h, uint32_t type, uint64_t sector, void *data,
		uint32_t data_len, uint32_t *ret_len);

/* hdrv_status() - the status byte of @r. */
uint8_t hdrv_status(struct hdrv *h, const struct hreq *r);

#endif
