// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging to stderr: one line per message, prefixed with the level. */
#include <stdio.h>
#include <time.h>

#include "log.h"

enum log_level log_max_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERR] = "error", [LOG_WARN] = "warning",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines from queue threads do not interleave. */
	fprintf(stderr, "vduse-blkd: %s: %s\n", level_names[level], line);
}

bool log_ratelimited(struct log_rate *rl, unsigned long *ret_suppressed)
{
	struct timespec ts;
	long last;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	last = __atomic_load_n(&rl->last_sec, __ATOMIC_RELAXED);
	/* One thread wins the second; the others count as suppressed. */
	if (last == ts.tv_sec ||
	    !__atomic_compare_exchange_n(&rl->last_sec, &last, ts.tv_sec, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&rl->nr_suppressed, 1, __ATOMIC_RELAXED);
		return false;
	}
	*ret_suppressed = __atomic_exchange_n(&rl->nr_suppressed, 0, __ATOMIC_RELAXED);
	return true;
}
