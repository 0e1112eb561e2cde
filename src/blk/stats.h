/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_STATS_H
#define VDB_STATS_H

/*
 * What a queue did: request counts by kind, bytes, errors, driver faults,
 * kicks, interrupts, and a latency histogram.
 *
 * One writer: the queue's own thread, with relaxed atomic stores (a load and
 * a store, no locked instruction: nobody else writes).  Other threads read
 * with stats_snapshot() only, which may see counters of slightly different
 * moments but never a torn value.  Nothing is allocated per request; a
 * request costs two clock reads (start and completion).
 *
 * The histogram has fixed buckets over microseconds: exact below 8 us, then
 * 8 linear sub-buckets per power of two (at most 12.5% wide), up to 2^40 us.
 */

#include <stdint.h>

#include "blk/blk.h"
#include "virtio/vq.h"

enum stats_op {
	STATS_OP_READ,
	STATS_OP_WRITE,
	STATS_OP_FLUSH,
	STATS_OP_DISCARD,
	STATS_OP_WRITE_ZEROES,
	STATS_OP_OTHER,          /* GET_ID, unsupported types, refused requests */
	STATS_OP_COUNT,
};

#define STATS_SUB_BITS 3
#define STATS_SUB (1u << STATS_SUB_BITS)
#define STATS_MAX_LOG2 40
#define STATS_NR_BUCKETS ((STATS_MAX_LOG2 - STATS_SUB_BITS + 1) * STATS_SUB)

struct blk_stats {
	uint64_t ops[STATS_OP_COUNT];    /* completed, by kind */
	uint64_t read_bytes;             /* completed successfully */
	uint64_t write_bytes;
	uint64_t in_flight;              /* a gauge: started, not completed */
	uint64_t errors;                 /* completed with a status other than OK */
	uint64_t device_faults;          /* failed by the device itself (IOERR) */
	uint64_t driver_faults;          /* malformed chains and rings, every reason */
	uint64_t driver_fault_reasons[VQ_ERR_COUNT]; /* [VQ_ERR_NONE]: no room for header/status */
	uint64_t kicks;
	uint64_t interrupts;
	uint64_t batches;                /* wakeups that popped at least one chain */
	uint64_t remaps;                 /* ring addresses translated again */
	uint64_t poll_hits;              /* --poll-us watches that found chains */
	uint64_t poll_misses;
	uint64_t latency[STATS_NR_BUCKETS]; /* completed requests, by microseconds */
};

/* --- The writer: the queue thread.  Inline, they sit on the data path. --- */

static inline void stats_store(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline void stats_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}


/* stats_bucket() - the histogram bucket of @us microseconds. */
unsigned int stats_bucket(uint64_t us);

/*
 * stats_req_start() - a request starts at @now_ns: stamp it, count it in flight.
 * The queue reads the clock once per wakeup, not per request: a request's
 * latency runs from the wakeup that started it to the one that completed it.
 */
void stats_req_start(struct blk_stats *st, struct blk_req *req, unsigned int nr_inflight,
		     uint64_t now_ns);

/**
 * stats_req_done() - a request completed with status byte @status
 * @status: the status byte written, or -1 when none could be (a driver fault)
 * @nr_inflight: requests of the queue still in flight after it
 * @now_ns: the queue's clock (monotonic_ns() at this wakeup)
 * Counts its kind, bytes (on success), errors and latency.
 */
void stats_req_done(struct blk_stats *st, const struct blk_req *req, int status,
		    unsigned int nr_inflight, uint64_t now_ns);

/* stats_driver_fault() - a malformed chain or ring, for @reason (VQ_ERR_NONE: no room). */
static inline void stats_driver_fault(struct blk_stats *st, enum vq_err reason)
{
	stats_add(&st->driver_faults, 1);
	stats_add(&st->driver_fault_reasons[reason < VQ_ERR_COUNT ? reason : VQ_ERR_NONE], 1);
}

/* --- The reader: any other thread. --- */

/* stats_snapshot() - copy every counter of @st into @ret (relaxed atomic loads). */
void stats_snapshot(const struct blk_stats *st, struct blk_stats *ret);

/* stats_sum() - add the counters of @st into @total (for a device's total). */
void stats_sum(struct blk_stats *total, const struct blk_stats *st);

/* stats_nr_ops() - requests completed, every kind. */
uint64_t stats_nr_ops(const struct blk_stats *st);

/**
 * stats_percentile_us() - latency under which @per_mille of the requests
 * completed (500: p50, 990: p99, 999: p99.9)
 * Returns the upper bound of the bucket that holds it, in microseconds, or 0
 * when no request completed.
 */
uint64_t stats_percentile_us(const struct blk_stats *st, unsigned int per_mille);

/* stats_bucket_max_us() - the largest value bucket @b holds. */
uint64_t stats_bucket_max_us(unsigned int b);

#endif
