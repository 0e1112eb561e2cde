/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_JOURNAL_H
#define VDB_JOURNAL_H

/*
 * The crash journal of one virtqueue, its in-flight log: which chains the
 * device took and has not yet returned, kept in memory that outlives the
 * daemon (a section of the device's state file, recovery/state.h).  A
 * restarted daemon reads it to execute again what was in flight, and to
 * return nothing twice.
 *
 * Chains are named by what the driver gets back: the split ring's head, the
 * packed ring's buffer ID.  Positions are the virtqueue's (vq.h): a split
 * avail index, or a packed ring index with its wrap counter in bit 15.
 * The virtqueue writes it from its queue's thread (vq.c: vq_pop() takes and
 * consumes, vq_push() pushes, vq_flush() publishes; each layout adds its
 * part: split.c, packed_journal.c), with plain stores, in this order:
 *
 *   take:     packed only: the chain's descriptors into the pool, chains[h]
 *             heads[h] = TAKEN | pop sequence
 *   consume:  avail_idx = next avail position (packed: then pop_seq)
 *   push:     heads[h] |= PUSHED                (used entry written, not visible)
 *   publish:  pending_used_idx = new used position
 *             the ring's publish                (the driver may now see them)
 *             heads[h] = 0 for each pushed head; used_idx = new used position
 *
 * The pop sequence counts chains taken: on a split ring the avail index
 * itself, on a packed ring pop_seq.  A packed ring reuses a chain's slots
 * for used entries while other chains are in flight, so the log keeps a
 * copy of each chain's ring descriptors (never more than the ring holds).
 *
 * The daemon can die after any of these stores.  journal_recover() is told
 * whether a publish in progress reached the driver (vq_used_seen()): if it
 * did, the PUSHED heads are done; if not, they run again.  Nothing here is a
 * system call; stores are ordered against a kill of the process (not against
 * other CPUs: only a later process reads the log).
 */

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#define JOURNAL_TAKEN  0x80000000u
#define JOURNAL_PUSHED 0x40000000u
#define JOURNAL_POP_MASK 0xffffu

/* One queue's section; heads[] has the device's queue size entries. */
struct journal {
	uint32_t is_active;          /* the queue serves a driver (cleared at reset) */
	uint16_t num;                /* ring size the driver chose */
	uint16_t avail_idx;          /* next avail position to consume */
	uint16_t used_idx;           /* used position last published */
	uint16_t pending_used_idx;   /* used position being published */
	uint16_t pop_seq;            /* packed: chains taken so far (the next one's sequence) */
	uint8_t layout;              /* enum vq_layout (0, split, in logs of version 1) */
	uint8_t reserved;
	uint64_t desc_iova, avail_iova, used_iova;
	uint32_t heads[];            /* 0, or TAKEN [| PUSHED] | pop sequence */
	/*
	 * Then, from version 2 of the state file (journal_chains(), journal_pool()):
	 *   uint32_t chains[queue size]   packed: pool index of the first copy | count << 16
	 *   struct vring_packed_desc pool[queue size]   copies; .id links to the next
	 */
};

#define JOURNAL_POOL_END 0xffffu

/* Bytes of a section for queues of up to @queue_size descriptors (state file version 1). */
static inline uint64_t journal_bytes_v1(uint16_t queue_size)
{
	uint64_t n = sizeof(struct journal) + 4ULL * queue_size;

	return (n + 63) & ~63ULL;
}

/* Bytes of a section for queues of up to @queue_size descriptors. */
static inline uint64_t journal_bytes(uint16_t queue_size)
{
	uint64_t n = sizeof(struct journal) + 8ULL * queue_size +
		     sizeof(struct vring_packed_desc) * queue_size;

	return (n + 63) & ~63ULL;
}

static inline uint32_t *journal_chains(struct journal *log, uint16_t queue_size)
{
	return &log->heads[queue_size];
}

static inline struct vring_packed_desc *journal_pool(struct journal *log,
						     uint16_t queue_size)
{
	return (struct vring_packed_desc *)&log->heads[2u * queue_size];
}

/*
 * Tests built with VDB_CRASH_POINTS may end the queue's thread around each
 * store of the log (tests/harness/test_recovery.c); others compile nothing.
 */
#ifdef VDB_CRASH_POINTS
void journal_crash_point(void);
#else
static inline void journal_crash_point(void) {}
#endif

/* Keep the compiler from reordering the log's stores: a kill lands between instructions. */
#define journal_store(p, v) \
	do { journal_crash_point(); \
	     __atomic_signal_fence(__ATOMIC_SEQ_CST); \
	     __atomic_store_n((p), (v), __ATOMIC_RELAXED); \
	     __atomic_signal_fence(__ATOMIC_SEQ_CST); \
	     journal_crash_point(); } while (0)

/* journal_is_active() - does @log describe rings a driver set up (no reset since)? */
static inline bool journal_is_active(const struct journal *log)
{
	return log->is_active;
}

/* journal_end() - the driver reset the device: the rings are gone, nothing runs again. */
static inline void journal_end(struct journal *log)
{
	journal_store(&log->is_active, 0);
}

static inline void journal_take(struct journal *log, uint16_t head, uint16_t pop_seq)
{
	journal_store(&log->heads[head], JOURNAL_TAKEN | pop_seq);
}

/*
 * Packed: copy the chain's @nr descriptors into free pool entries @slots
 * (linked through .id), then name them in chains[@head].  Before
 * journal_take(): a chain is never recorded without its copy.
 */
static inline void journal_keep_chain(struct journal *log, uint16_t queue_size,
				      uint16_t head, const struct vring_packed_desc *descs,
				      const uint16_t *slots, uint16_t nr)
{
	struct vring_packed_desc *pool = journal_pool(log, queue_size);

	for (uint16_t i = 0; i < nr; i++) {
		pool[slots[i]] = descs[i];
		pool[slots[i]].id = i + 1 < nr ? slots[i + 1] : JOURNAL_POOL_END;
	}
	journal_store(&journal_chains(log, queue_size)[head], slots[0] | (uint32_t)nr << 16);
}

/* The chain taken last is consumed: the avail position moves on (packed: and the sequence). */
static inline void journal_consume(struct journal *log, uint16_t avail_idx,
				   uint16_t pop_seq)
{
	journal_store(&log->avail_idx, avail_idx);
	if (log->layout)
		journal_store(&log->pop_seq, pop_seq);
}

static inline void journal_push(struct journal *log, uint16_t head)
{
	journal_store(&log->heads[head], log->heads[head] | JOURNAL_PUSHED);
}

/* Before used->idx moves to @used_idx. */
static inline void journal_publish_begin(struct journal *log, uint16_t used_idx)
{
	journal_store(&log->pending_used_idx, used_idx);
}

/* After used->idx moved: @heads were returned to the driver. */
static inline void journal_publish_end(struct journal *log, uint16_t used_idx,
				       const uint16_t *heads, unsigned int nr)
{
	/* The heads first: while used_idx is old, pending_used_idx says they were published. */
	for (unsigned int i = 0; i < nr; i++)
		journal_store(&log->heads[heads[i]], 0);
	journal_store(&log->used_idx, used_idx);
}

/**
 * journal_start() - a queue starts serving a driver afresh
 * @log: its section, @queue_size entries of heads
 * @layout: enum vq_layout
 * @num, @desc_iova, @avail_iova, @used_iova: the rings (VDUSE_VQ_GET_INFO)
 * @avail_idx: where consuming starts; @used_idx: where used entries go on
 */
void journal_start(struct journal *log, uint16_t queue_size, uint8_t layout,
		   uint16_t num, uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova,
		   uint16_t avail_idx, uint16_t used_idx);

/* journal_matches() - does an active @log describe these rings? */
bool journal_matches(const struct journal *log, uint8_t layout, uint16_t num,
		     uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova);

/**
 * journal_recover() - settle a log the daemon may have died writing
 * @log: an active section; rewritten so that it records only what must run again
 * @ring_used_idx: the used position the driver can see now (vq_used_seen())
 * @ret_heads: filled with the heads to execute again, oldest first (num entries)
 * @ret_nr: how many
 * @ret_why: on failure, what does not fit
 *
 * Returns 0, or -EBADMSG when the log cannot come from these rings (an index
 * out of range, a used position neither the published nor the pending one,
 * a packed chain whose copy is not whole or shares the pool with another).
 */
int journal_recover(struct journal *log, uint16_t queue_size, uint16_t ring_used_idx,
		    uint16_t *ret_heads, unsigned int *ret_nr, const char **ret_why);

/**
 * journal_chain() - a packed chain's copy, as journal_recover() checked it
 * @ret_descs: filled with its descriptors (the log's num entries)
 * @ret_slots: filled with the pool entries holding them, or NULL
 * Returns the number of descriptors.
 */
uint16_t journal_chain(struct journal *log, uint16_t queue_size, uint16_t head,
		       struct vring_packed_desc *ret_descs, uint16_t *ret_slots);

#endif
