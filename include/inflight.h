/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_INFLIGHT_H
#define VDB_INFLIGHT_H

/*
 * The in-flight log of one virtqueue: which descriptor heads the device took
 * and has not yet returned, kept in memory that outlives the daemon (a
 * section of the device's state file, see state.h).  A restarted daemon
 * reads it to execute again what was in flight, and to return nothing twice.
 *
 * The queue's thread updates it with plain stores, in this order:
 *
 *   take:     heads[h] = TAKEN | pop index      (the chain at avail[pop index])
 *   consume:  avail_idx = next avail entry
 *   push:     heads[h] |= PUSHED                (used entry written, not visible)
 *   publish:  pending_used_idx = new used->idx
 *             used->idx = new used->idx         (the driver may now see them)
 *             heads[h] = 0 for each pushed head; used_idx = new used->idx
 *
 * The daemon can die after any of these stores.  inflight_recover() reads
 * the ring's used->idx to tell whether a publish in progress reached the
 * driver: if it did, the PUSHED heads are done; if not, they run again.
 * Nothing here is a system call; stores are ordered against a kill of the
 * process (not against other CPUs: only a later process reads the log).
 */

#include <stdbool.h>
#include <stdint.h>

#define INFLIGHT_TAKEN  0x80000000u
#define INFLIGHT_PUSHED 0x40000000u
#define INFLIGHT_POP_MASK 0xffffu

/* One queue's section; heads[] has the device's queue size entries. */
struct inflight_log {
	uint32_t is_active;          /* the queue serves a driver (cleared at reset) */
	uint16_t num;                /* ring size the driver chose */
	uint16_t avail_idx;          /* next avail entry to consume */
	uint16_t used_idx;           /* used->idx last published */
	uint16_t pending_used_idx;   /* used->idx being published */
	uint32_t reserved;
	uint64_t desc_iova, avail_iova, used_iova;
	uint32_t heads[];            /* 0, or TAKEN [| PUSHED] | pop index */
};

/* Bytes of a section for queues of up to @queue_size descriptors. */
static inline uint64_t inflight_log_bytes(uint16_t queue_size)
{
	uint64_t n = sizeof(struct inflight_log) + 4ULL * queue_size;

	return (n + 63) & ~63ULL;
}

/*
 * Tests built with VDB_CRASH_POINTS may end the queue's thread around each
 * store of the log (tests/harness/test_recovery.c); others compile nothing.
 */
#ifdef VDB_CRASH_POINTS
void inflight_crash_point(void);
#else
static inline void inflight_crash_point(void) {}
#endif

/* Keep the compiler from reordering the log's stores: a kill lands between instructions. */
#define inflight_store(p, v) \
	do { inflight_crash_point(); \
	     __atomic_signal_fence(__ATOMIC_SEQ_CST); \
	     __atomic_store_n((p), (v), __ATOMIC_RELAXED); \
	     __atomic_signal_fence(__ATOMIC_SEQ_CST); \
	     inflight_crash_point(); } while (0)

static inline void inflight_take(struct inflight_log *log, uint16_t head, uint16_t pop_idx)
{
	inflight_store(&log->heads[head], INFLIGHT_TAKEN | pop_idx);
}

static inline void inflight_consume(struct inflight_log *log, uint16_t avail_idx)
{
	inflight_store(&log->avail_idx, avail_idx);
}

static inline void inflight_push(struct inflight_log *log, uint16_t head)
{
	inflight_store(&log->heads[head], log->heads[head] | INFLIGHT_PUSHED);
}

/* Before used->idx moves to @used_idx. */
static inline void inflight_publish_begin(struct inflight_log *log, uint16_t used_idx)
{
	inflight_store(&log->pending_used_idx, used_idx);
}

/* After used->idx moved: @heads were returned to the driver. */
static inline void inflight_publish_end(struct inflight_log *log, uint16_t used_idx,
					const uint16_t *heads, unsigned int nr)
{
	/* The heads first: while used_idx is old, pending_used_idx says they were published. */
	for (unsigned int i = 0; i < nr; i++)
		inflight_store(&log->heads[heads[i]], 0);
	inflight_store(&log->used_idx, used_idx);
}

/**
 * inflight_start() - a queue starts serving a driver afresh
 * @log: its section, @queue_size entries of heads
 * @num, @desc_iova, @avail_iova, @used_iova: the rings (VDUSE_VQ_GET_INFO)
 * @avail_idx: where consuming starts; @used_idx: the ring's used->idx
 */
void inflight_start(struct inflight_log *log, uint16_t queue_size, uint16_t num,
		    uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova,
		    uint16_t avail_idx, uint16_t used_idx);

/* inflight_matches() - does an active @log describe these rings? */
bool inflight_matches(const struct inflight_log *log, uint16_t num, uint64_t desc_iova,
		      uint64_t avail_iova, uint64_t used_iova);

/**
 * inflight_recover() - settle a log the daemon may have died writing
 * @log: an active section; rewritten so that it records only what must run again
 * @ring_used_idx: used->idx as the ring holds it now
 * @ret_heads: filled with the heads to execute again, oldest first (num entries)
 * @ret_nr: how many
 * @ret_why: on failure, what does not fit
 *
 * Returns 0, or -EBADMSG when the log cannot come from these rings (an index
 * out of range, used->idx neither the published nor the pending value).
 */
int inflight_recover(struct inflight_log *log, uint16_t queue_size, uint16_t ring_used_idx,
		     uint16_t *ret_heads, unsigned int *ret_nr, const char **ret_why);

#endif
