// SPDX-License-Identifier: GPL-2.0-or-later
/* Logging to stderr or the journal (see log.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

enum log_level log_max_level = LOG_INFO;
unsigned int log_debug_mask;
static bool is_journal;

static const char *const level_names[] = {
	[LOG_ERR] = "error", [LOG_WARN] = "warning",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* syslog(3) priorities: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7. */
static const int level_priorities[] = {
	[LOG_ERR] = 3, [LOG_WARN] = 4, [LOG_INFO] = 6, [LOG_DEBUG] = 7,
};

static const struct {
	const char *name;
	unsigned int mask;
} categories[] = {
	{ "daemon", LOG_CAT_DAEMON },
	{ "vduse", LOG_CAT_VDUSE },
	{ "vdpa", LOG_CAT_VDPA },
	{ "recovery", LOG_CAT_RECOVERY },
	{ "sandbox", LOG_CAT_SANDBOX },
	{ "ctl", LOG_CAT_CTL },
	{ "trace", LOG_CAT_TRACE },
	{ "all", LOG_CAT_ALL },
};

void log_init(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	is_journal = false;
	if (!v || sscanf(v, "%llu:%llu%n", &dev, &ino, &n) != 2 || v[n])
		return;
	if (fstat(STDERR_FILENO, &st) < 0)
		return;
	is_journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_is_journal(void)
{
	return is_journal;
}

void log_set_level(enum log_level level)
{
	unsigned int mask = __atomic_load_n(&log_debug_mask, __ATOMIC_RELAXED);

	if (level < LOG_DEBUG)
		mask = 0;
	else if (!mask)
		mask = LOG_CAT_ALL;
	__atomic_store_n(&log_debug_mask, mask, __ATOMIC_RELAXED);
	__atomic_store_n(&log_max_level, level, __ATOMIC_RELAXED);
}

void log_set_debug(unsigned int mask)
{
	enum log_level level = __atomic_load_n(&log_max_level, __ATOMIC_RELAXED);

	if (mask)
		level = LOG_DEBUG;
	else if (level == LOG_DEBUG)
		level = LOG_INFO;
	__atomic_store_n(&log_debug_mask, mask & LOG_CAT_ALL, __ATOMIC_RELAXED);
	__atomic_store_n(&log_max_level, level, __ATOMIC_RELAXED);
}

int log_parse_debug(const char *list, unsigned int *ret_mask)
{
	unsigned int mask = 0;
	const char *p = list;

	if (!list || !*list)
		return -EINVAL;
	for (;;) {
		size_t len = strcspn(p, ",");
		bool is_known = false;

		for (size_t i = 0; i < ARRAY_SIZE(categories) && len; i++) {
			if (strlen(categories[i].name) == len && !strncmp(p, categories[i].name, len)) {
				mask |= categories[i].mask;
				is_known = true;
			}
		}
		if (!is_known)
			return -EINVAL;
		if (!p[len])
			break;
		p += len + 1;
	}
	*ret_mask = mask;
	return 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > __atomic_load_n(&log_max_level, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/*
	 * One write per line so lines from queue threads do not interleave.
	 * The journal knows who wrote the line and when: only the priority.
	 */
	if (is_journal)
		fprintf(stderr, "<%d>%s: %s\n", level_priorities[level], level_names[level], line);
	else
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
