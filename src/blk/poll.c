// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --poll-us: before sleeping, watch the avail ring for a while with kicks
 * off, so that a driver submitting again soon saves its kick and our wakeup.
 * Only when the queue is empty: completions never wait behind it.  Kicks go
 * off before the interrupt (the caller), so a driver that answers at once
 * does not kick.  Adaptive and bounded: a batch of chains opens the window,
 * each miss halves it until it is gone, so an idle queue sleeps after one
 * short watch.
 */
#include "blk/poll.h"
#include "util.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

bool queue_busy_poll(struct blk_queue *q)
{
	uint64_t deadline = monotonic_ns() + q->poll_ns;

	do {
		if (vq_has_avail(&q->vq) ||
		    __atomic_load_n(&q->is_stop_requested, __ATOMIC_RELAXED)) {
			stats_add(&q->stats->poll_hits, 1);
			queue_busy_poll_open(q);
			return true;
		}
		cpu_relax();
	} while (monotonic_ns() < deadline);
	stats_add(&q->stats->poll_misses, 1);
	q->poll_ns /= 2;
	return vq_enable_notify(&q->vq);
}
