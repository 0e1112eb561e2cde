// SPDX-License-Identifier: GPL-2.0-or-later
/* Per-queue counters and the latency histogram (see stats.h). */
#include <string.h>

#include "blk/stats.h"

unsigned int stats_bucket(uint64_t us)
{
	unsigned int e;

	if (us < STATS_SUB)
		return (unsigned int)us;
	e = 63u - (unsigned int)__builtin_clzll(us);
	if (e >= STATS_MAX_LOG2)
		return STATS_NR_BUCKETS - 1;
	return (e - STATS_SUB_BITS + 1) * STATS_SUB +
	       (unsigned int)((us >> (e - STATS_SUB_BITS)) & (STATS_SUB - 1));
}

uint64_t stats_bucket_max_us(unsigned int b)
{
	unsigned int e, shift;

	if (b < STATS_SUB)
		return b;
	if (b >= STATS_NR_BUCKETS - 1)
		return UINT64_MAX;
	e = b / STATS_SUB + STATS_SUB_BITS - 1;
	shift = e - STATS_SUB_BITS;
	return ((uint64_t)(STATS_SUB + b % STATS_SUB + 1) << shift) - 1;
}

static enum stats_op op_kind(const struct blk_req *req)
{
	switch (req->op) {
	case BLK_OP_READ:
		return STATS_OP_READ;
	case BLK_OP_WRITE:
		return STATS_OP_WRITE;
	case BLK_OP_FLUSH:
		return STATS_OP_FLUSH;
	case BLK_OP_DISCARD:
		return STATS_OP_DISCARD;
	case BLK_OP_WRITE_ZEROES:
		return STATS_OP_WRITE_ZEROES;
	default:
		return STATS_OP_OTHER;
	}
}

void stats_req_start(struct blk_stats *st, struct blk_req *req, unsigned int nr_inflight,
		     uint64_t now_ns)
{
	req->started_ns = now_ns;
	stats_store(&st->in_flight, nr_inflight);
}

void stats_req_done(struct blk_stats *st, const struct blk_req *req, int status,
		    unsigned int nr_inflight, uint64_t now)
{
	uint64_t us = now > req->started_ns ? (now - req->started_ns) / 1000 : 0;

	stats_add(&st->ops[op_kind(req)], 1);
	/* No status (-1): a driver fault, counted by stats_driver_fault(). */
	if (status > VIRTIO_BLK_S_OK)
		stats_add(&st->errors, 1);
	else if (status == VIRTIO_BLK_S_OK && req->op == BLK_OP_READ)
		stats_add(&st->read_bytes, req->data_bytes);
	else if (status == VIRTIO_BLK_S_OK && req->op == BLK_OP_WRITE)
		stats_add(&st->write_bytes, req->data_bytes);
	stats_add(&st->latency[stats_bucket(us)], 1);
	stats_store(&st->in_flight, nr_inflight);
}

void stats_snapshot(const struct blk_stats *st, struct blk_stats *ret)
{
	const uint64_t *src = (const uint64_t *)st;
	uint64_t *dst = (uint64_t *)ret;

	_Static_assert(sizeof(*st) % sizeof(uint64_t) == 0, "counters only");
	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void stats_sum(struct blk_stats *total, const struct blk_stats *st)
{
	const uint64_t *src = (const uint64_t *)st;
	uint64_t *dst = (uint64_t *)total;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

uint64_t stats_nr_ops(const struct blk_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < STATS_OP_COUNT; i++)
		n += st->ops[i];
	return n;
}

uint64_t stats_percentile_us(const struct blk_stats *st, unsigned int per_mille)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned int b = 0; b < STATS_NR_BUCKETS; b++)
		total += st->latency[b];
	if (!total)
		return 0;
	/* The smallest rank r with r >= total * per_mille / 1000, at least 1. */
	want = (total * per_mille + 999) / 1000;
	if (want == 0)
		want = 1;
	for (unsigned int b = 0; b < STATS_NR_BUCKETS; b++) {
		seen += st->latency[b];
		if (seen >= want)
			return stats_bucket_max_us(b);
	}
	return stats_bucket_max_us(STATS_NR_BUCKETS - 1);
}
