/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_VQ_H
#define VDB_VQ_H

/*
 * A virtqueue seen from the device: split (virtio 1.2, 2.7) or packed (2.8).
 *
 * The rings live in driver memory reached through struct mem.  The driver is
 * untrusted: every index, flag, length and address read from the rings is
 * validated, and each descriptor is read exactly once into local memory.
 *
 * Callers see one interface whatever the layout: a config (where the rings
 * are), a state (where the device is in them, as VDUSE reports it), pop a
 * chain, push its used entry, flush, and the notification decisions.  The
 * layouts live in split.c and packed.c behind struct vq_ops.
 *
 * A queue may keep a crash journal (journal.h), as libvduse keeps its
 * in-flight log inside pop and push: vq_pop() records the take, vq_push()
 * the push, vq_flush() the publish, and after a crash or an upgrade
 * vq_journal_resume() names the chains to run again (vq_pop_again()).
 * Callers never see which layout runs, nor what it records: each layout's
 * part of the journal lives beside it (split.c, packed_journal.c).
 *
 * A queue is driven by one thread; nothing here locks.  What other threads
 * read goes through vq_get_state(), vq_is_broken() and vq_is_unmapped()
 * (relaxed atomics).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "virtio/journal.h"
#include "virtio/mem.h"

/* Largest queue the device accepts (also the longest legal chain). */
#define VQ_MAX_SIZE 1024

/* Why a chain or the ring was rejected; vq_last_err() for tests and stats. */
enum vq_err {
	VQ_ERR_NONE,
	VQ_ERR_AVAIL_IDX,        /* ring: avail.idx moved by more than the queue size */
	VQ_ERR_HEAD_RANGE,       /* ring: head index (split) or buffer ID (packed) >= queue size */
	VQ_ERR_NEXT_RANGE,       /* chain: next index outside the table */
	VQ_ERR_LOOP,             /* chain: longer than its table (a loop) */
	VQ_ERR_ADDR_OVERFLOW,    /* chain: addr + len wraps */
	VQ_ERR_FAULT,            /* chain: buffer not mapped, or mapped without the permission */
	VQ_ERR_NESTED_INDIRECT,  /* chain: INDIRECT inside an indirect table */
	VQ_ERR_INDIRECT_LEN,     /* chain: table length 0, not a multiple of 16, or over the limit */
	VQ_ERR_INDIRECT_NEXT,    /* chain: INDIRECT together with NEXT */
	VQ_ERR_READ_AFTER_WRITE, /* chain: device-readable descriptor after a writable one */
	VQ_ERR_TOO_MANY_SEGS,    /* chain: more buffers than the device accepts (vq_accept_chains) */
	VQ_ERR_HEAD_IN_FLIGHT,   /* ring: a head or buffer ID made available again while in flight */
	VQ_ERR_PACKED_FLAGS,     /* packed ring: AVAIL/USED bits say used by the current lap */
	VQ_ERR_PACKED_WRAP,      /* packed ring: a chain's later descriptor not available for its lap */
	VQ_ERR_RING_OVERRUN,     /* packed ring: more descriptors in flight than the ring holds */
	VQ_ERR_INDIRECT_IN_CHAIN,/* packed ring: an indirect descriptor that is not alone */
	VQ_ERR_EVENT_OFFSET,     /* packed ring: event suppression offset outside the ring */
	VQ_ERR_COUNT,
};

const char *vq_err_str(enum vq_err err);

enum vq_layout {
	VQ_LAYOUT_SPLIT,
	VQ_LAYOUT_PACKED,
};

const char *vq_layout_name(enum vq_layout layout);

/* Which layouts a device offers (--ring): both, the driver picks; or one. */
enum vq_ring_choice {
	VQ_RING_AUTO,
	VQ_RING_SPLIT,
	VQ_RING_PACKED,
};

/* Where the driver put the rings (VDUSE_VQ_GET_INFO). */
struct vq_config {
	enum vq_layout layout;
	uint16_t num;            /* queue size: 1 .. VQ_MAX_SIZE (split: a power of two) */
	uint64_t desc_iova;      /* descriptor table, or the packed descriptor ring */
	uint64_t driver_iova;    /* split: avail ring; packed: driver event suppression */
	uint64_t device_iova;    /* split: used ring; packed: device event suppression */
	bool has_event_idx;      /* VIRTIO_RING_F_EVENT_IDX was negotiated */
};

/*
 * Where the device is in the rings; mirrors struct vduse_vq_state.
 * Positions are 16 bits.  Split: a free-running index (used is used->idx).
 * Packed: the ring index in bits 0..14 and the wrap counter in bit 15, the
 * format of the event suppression structures (virtio 1.2, 2.8.10).
 */
struct vq_state {
	uint16_t avail;          /* next chain to consume */
	uint16_t used;           /* next used entry to write */
};

#define VQ_POS_WRAP 0x8000u
#define VQ_POS_IDX_MASK 0x7fffu

/* vq_state_initial() - the state of rings a driver just set up. */
static inline struct vq_state vq_state_initial(enum vq_layout layout)
{
	uint16_t pos = layout == VQ_LAYOUT_PACKED ? VQ_POS_WRAP : 0;

	return (struct vq_state){ .avail = pos, .used = pos };
}

#define VQ_NO_STATUS UINT64_MAX

/* One popped chain: device-readable iovecs first, then device-writable ones. */
struct vq_elem {
	uint16_t head;           /* what vq_push() returns: split head, packed buffer ID */
	uint16_t nr_descs;       /* ring descriptors the chain occupies (packed) */
	unsigned int nr_out;     /* readable iovecs: iov[0 .. nr_out) */
	unsigned int nr_in;      /* writable iovecs: iov[nr_out .. nr_out + nr_in) */
	uint64_t out_bytes;
	uint64_t in_bytes;
	struct iovec *iov;       /* provided by the caller */
	uint64_t last_in_iova;   /* IOVA of the last device-writable byte, or VQ_NO_STATUS */
	int fault;               /* vq_pop() returned -ENOMEM: the device's own -errno */
};

struct vq;

/* What a layout implements (split.c, packed.c); callers use the vq_*() calls below. */
struct vq_ops {
	int (*init)(struct vq *vq, const struct vq_state *state);
	void (*exit)(struct vq *vq);
	/* Pointers from the pinned host addresses of the three rings. */
	int (*set_rings)(struct vq *vq, void *desc, void *driver, void *device);
	uint64_t (*ring_bytes)(const struct vq *vq, int which);   /* 0 desc, 1 driver, 2 device */
	int (*set_state)(struct vq *vq, const struct vq_state *state);
	uint16_t (*used_seen)(struct vq *vq, uint16_t published, uint16_t pending);
	int (*pop)(struct vq *vq, struct vq_elem *elem, unsigned int max_iov);
	int (*pop_again)(struct vq *vq, uint16_t head, struct vq_elem *elem, unsigned int max_iov);
	void (*push)(struct vq *vq, uint16_t head, uint32_t len_bytes);
	void (*flush)(struct vq *vq);
	bool (*should_notify)(struct vq *vq);
	void (*disable_notify)(struct vq *vq);
	bool (*enable_notify)(struct vq *vq);
	bool (*has_avail)(struct vq *vq);
	/*
	 * The layout's part of the journal (vq.c records the rest); NULL where
	 * it keeps nothing more.
	 */
	uint16_t (*journal_seq)(const struct vq *vq);   /* pop sequence of the chain just popped */
	/* Before its take: what a restart needs to pop the chain again.  0 or -ENOSPC. */
	int (*journal_keep)(struct vq *vq, const struct vq_elem *elem);
	void (*journal_returned)(struct vq *vq);        /* the pushed heads were published */
	/* The journal starts (@nr 0) or resumes with @heads in flight.  0 or -ENOMEM. */
	int (*journal_start)(struct vq *vq, const uint16_t *heads, unsigned int nr);
};

/* The virtqueue's side of its crash journal (vq_journal_start()). */
struct vq_journal {
	struct journal *log;             /* the section written to, or NULL: no journal */
	struct journal *own;             /* the queue's own section (log, or after a let-go) */
	uint16_t log_size;               /* the queue size sections are laid out for */
	uint16_t pop_seq;                /* chains taken (packed numbers them by it) */
	bool may_retake;                 /* resumed: the first chain may be one taken before */
	uint16_t *pushed;                /* heads pushed since the last flush */
	uint16_t nr_pushed;
};

struct vq {
	const struct vq_ops *ops;
	struct mem *mem;
	enum vq_layout layout;
	uint16_t num;                    /* queue size */
	bool has_event_idx;
	bool is_broken;                  /* ring state is nonsense: stop serving */
	bool is_unmapped;                /* the rings' memory is gone: touch nothing */
	uint32_t mem_gen;                /* mem generation the ring pointers belong to */
	uint64_t desc_iova, driver_iova, device_iova;
	enum vq_err last_err;
	uint32_t max_chain;              /* buffers in one chain (entries of an indirect table) */
	void *indirect;                  /* scratch: an indirect table copied once */
	uint64_t nr_bad_chains;          /* chains rejected so far */
	uint64_t nr_skipped_heads;       /* of them, heads vq_pop() could not name (split) */
	uint64_t nr_device_faults;       /* chains the device could not translate */
	struct vq_state state;           /* written by the queue's thread, read by others */
	bool has_signalled;              /* an interrupt decision was made (event index valid) */
	uint16_t signalled_used;         /* state.used at that decision */
	union {
		struct {
			struct vring_desc *desc;
			struct vring_avail *avail;
			struct vring_used *used;
		} split;
		struct {
			struct vring_packed_desc *desc;
			struct vring_packed_desc_event *driver;   /* driver's wishes */
			struct vring_packed_desc_event *device;   /* ours */
			struct vring_packed_desc *chain;   /* scratch: the chain being popped */
			uint16_t *nr_descs;      /* by buffer ID: descriptors of the chain in flight */
			uint16_t nr_inflight_descs;   /* slots the device holds (used entries unflushed too) */
			uint16_t nr_unflushed_descs;  /* slots of pushed entries the flush gives back */
			uint32_t *pushed;        /* used entries pushed, not flushed: position | flags << 16 */
			uint16_t nr_pushed;
			/* The journal's pool of chain copies (packed_journal.c). */
			uint16_t *pool_free;     /* entries free for a copy */
			uint16_t nr_pool_free;
			uint16_t *pool_next;     /* each entry's successor in its chain */
			uint16_t *pool_slots;    /* scratch: the entries one chain takes */
		} packed;
	};
	struct vq_journal journal;
};

/**
 * vq_init() - attach to rings
 * @vq: the queue
 * @mem: address space of the rings and buffers
 * @cfg: where the rings are
 * @state: where to resume (VDUSE_VQ_GET_INFO); split takes used from used->idx
 *
 * Each ring must lie in one host mapping.  Returns 0, -EINVAL for a bad size,
 * state or misaligned rings, -EFAULT for unmapped rings, -ENOMEM.
 */
int vq_init(struct vq *vq, struct mem *mem, const struct vq_config *cfg,
	    const struct vq_state *state);

/**
 * vq_remap() - translate the ring addresses again
 * For when the driver remapped memory (the mem generation moved).  On
 * failure the queue is unmapped (vq_is_unmapped()) and nothing may touch the
 * rings until a later vq_remap() succeeds.  Returns 0 or -EFAULT.
 */
int vq_remap(struct vq *vq);

/* vq_mem_moved() - has the mem generation moved since the rings were translated? */
bool vq_mem_moved(const struct vq *vq);

/**
 * vq_accept_chains() - the longest chain the device accepts, in buffers
 * What the device advertised (virtio-blk: seg_max + 2), whatever ring size
 * the driver chose.  vq_init() accepts the ring size.  Returns 0 or -ENOMEM.
 */
int vq_accept_chains(struct vq *vq, uint32_t max_buffers);

/* vq_exit() - free what vq_init() allocated; NULL-safe and idempotent. */
void vq_exit(struct vq *vq);

/* Accessors; any thread. */
static inline uint16_t vq_num(const struct vq *vq)
{
	return vq->num;
}

static inline enum vq_layout vq_layout(const struct vq *vq)
{
	return vq->layout;
}

/* Acquire: a thread that sees the ring broken also sees vq_last_err() say why. */
static inline bool vq_is_broken(const struct vq *vq)
{
	return __atomic_load_n(&vq->is_broken, __ATOMIC_ACQUIRE);
}

static inline bool vq_is_unmapped(const struct vq *vq)
{
	return __atomic_load_n(&vq->is_unmapped, __ATOMIC_RELAXED);
}

static inline enum vq_err vq_last_err(const struct vq *vq)
{
	return __atomic_load_n(&vq->last_err, __ATOMIC_RELAXED);
}

static inline uint64_t vq_nr_bad_chains(const struct vq *vq)
{
	return vq->nr_bad_chains;
}

/* Heads outside the table that vq_pop() skipped (split): counted in vq_nr_bad_chains() too. */
static inline uint64_t vq_nr_skipped_heads(const struct vq *vq)
{
	return vq->nr_skipped_heads;
}

static inline struct mem *vq_mem(const struct vq *vq)
{
	return vq->mem;
}

/* vq_set_broken() - stop serving until the driver resets the queue. */
static inline void vq_set_broken(struct vq *vq)
{
	__atomic_store_n(&vq->is_broken, true, __ATOMIC_RELEASE);
}

/* vq_set_unmapped() - the rings are not ours to touch until vq_remap(). */
static inline void vq_set_unmapped(struct vq *vq)
{
	__atomic_store_n(&vq->is_unmapped, true, __ATOMIC_RELAXED);
}

/* vq_get_state() - where the device is (GET_VQ_STATE); any thread. */
static inline void vq_get_state(const struct vq *vq, struct vq_state *ret)
{
	ret->avail = __atomic_load_n(&vq->state.avail, __ATOMIC_RELAXED);
	ret->used = __atomic_load_n(&vq->state.used, __ATOMIC_RELAXED);
}

/**
 * vq_set_state() - move the device's positions (a resumed queue)
 * Returns 0 or -EINVAL when @state does not fit the ring.
 */
int vq_set_state(struct vq *vq, const struct vq_state *state);

/**
 * vq_used_seen() - the used position the driver can see now
 * @published: the used position last made visible
 * @pending: the used position a flush was making visible
 *
 * For a daemon that died while flushing (vq_journal_resume() asks it):
 * split reads used->idx; packed reads
 * the slot at @published: marked used for its lap, or made available again
 * for the next lap (the driver took the entry and reused the slot), the
 * flush was seen; still available for its lap, it was not, and the entries
 * behind it the flush may have marked are unmarked (the driver must never
 * read them).  Returns @published or @pending, or another value when the
 * ring fits neither.
 */
uint16_t vq_used_seen(struct vq *vq, uint16_t published, uint16_t pending);

/**
 * vq_pop() - take the next available chain
 * @vq: the queue
 * @elem: filled with the chain; @elem->iov must hold @max_iov entries
 * @max_iov: capacity of @elem->iov
 *
 * Returns 1 with a chain in @elem, 0 when the ring is empty,
 * -EINVAL when the chain at @elem->head is malformed (the driver's fault: the
 * caller returns it with vq_push(head, 0); vq_last_err() says why), -EIO when
 * the ring itself is broken (vq_is_broken(); stop serving the queue),
 * or -ENOMEM when the chain is well formed but the device could not reach
 * its buffers (mmap failed, a table is full, more mapping pieces than
 * @max_iov: the device's fault, errno in @elem->fault).  The caller then
 * fails the request where the driver looks for the result: the last
 * writable byte, @elem->last_in_iova.
 * A split head outside the table is consumed and skipped: there is nothing
 * to return to the driver (vq_nr_skipped_heads()).
 *
 * With a journal, the chain is recorded as taken before it is consumed,
 * malformed or not.  A head or buffer ID the journal says is still the
 * device's (in flight, or returned and not yet published) breaks the ring:
 * -EIO, VQ_ERR_HEAD_IN_FLIGHT.  A chain the run before a resume took and
 * died before consuming is consumed and skipped: it runs again already.
 */
int vq_pop(struct vq *vq, struct vq_elem *elem, unsigned int max_iov);

/**
 * vq_pop_again() - take a chain taken before (by a daemon that died)
 * @head: its head (split) or buffer ID (packed), from vq_journal_resume()
 *
 * The driver made it available once and it is still the device's: split
 * reads it again from the table, packed from the journal's copy (its slots
 * may hold used entries by now).  Returns as vq_pop(), never 0.
 */
int vq_pop_again(struct vq *vq, uint16_t head, struct vq_elem *elem, unsigned int max_iov);

/**
 * vq_push() - record a used entry; the driver sees it after vq_flush()
 * Each head vq_pop() or vq_pop_again() returned goes back once: at most
 * vq_num() pushes between two flushes.
 */
void vq_push(struct vq *vq, uint16_t head, uint32_t len_bytes);

/*
 * vq_flush() - publish every pushed entry (one release store); with a
 * journal, the section says which used position it makes visible before,
 * and forgets the pushed heads after.
 */
void vq_flush(struct vq *vq);

/**
 * vq_journal_start() - record from now on what the queue takes and returns
 * @log: the section to write (the state file's), or NULL for one of its own
 * @log_size: the queue size sections are laid out for (the device's), >= vq_num()
 *
 * The rings start afresh: the section records them and where the device is
 * in them (vq_init()'s state).  Call once, before the first vq_pop().
 * Returns 0, -EINVAL or -ENOMEM.
 */
int vq_journal_start(struct vq *vq, struct journal *log, uint16_t log_size);

/**
 * vq_journal_resume() - go on where an earlier run's journal ends
 * @log: its section, maybe left mid-store by a kill (a crash, a live upgrade)
 * @ret_heads: filled with the heads to run again (vq_pop_again()), oldest
 *             first; room for vq_num()
 * @ret_nr: how many
 * @ret_why: on -EBADMSG, what does not fit
 *
 * Settles the section (journal_recover(): did the last publish reach the
 * driver?) and moves the device to its positions; the state vq_init() was
 * given counts no more.  Returns 0, -EBADMSG when the section cannot belong
 * to these rings, -EINVAL or -ENOMEM.
 */
int vq_journal_resume(struct vq *vq, struct journal *log, uint16_t log_size,
		      uint16_t *ret_heads, unsigned int *ret_nr, const char **ret_why);

/*
 * vq_journal_let_go() - write the caller's section no more (the queue was
 * abandoned: the next run owns it); what is pushed is forgotten.
 */
void vq_journal_let_go(struct vq *vq);

/**
 * vq_should_notify() - does the driver want an interrupt for what was flushed?
 * Honours the driver's suppression: split NO_INTERRUPT or used_event,
 * packed the driver event suppression structure.
 */
static inline bool vq_should_notify(struct vq *vq)
{
	return vq->ops->should_notify(vq);
}

/* vq_disable_notify() - ask the driver not to kick while we are polling. */
static inline void vq_disable_notify(struct vq *vq)
{
	vq->ops->disable_notify(vq);
}

/**
 * vq_enable_notify() - ask for kicks again
 * Returns true when chains arrived meanwhile: pop again before sleeping,
 * since the driver may have decided not to kick for them.
 */
static inline bool vq_enable_notify(struct vq *vq)
{
	return vq->ops->enable_notify(vq);
}

/* vq_has_avail() - true when the driver made chains available we did not pop. */
static inline bool vq_has_avail(struct vq *vq)
{
	return vq->ops->has_avail(vq);
}

#endif
