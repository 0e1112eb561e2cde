/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_LOG_H
#define VDB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages at or below this level are printed; main.c sets it. */
extern enum log_level log_max_level;

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Per-call-site state of a rate-limited message (a static). */
struct log_rate {
	long last_sec;
	unsigned long nr_suppressed;
};

/*
 * log_ratelimited() - true when a message of this call site may be printed.
 * At most one message per second per call site: a hostile driver cannot
 * flood the log.  *ret_suppressed gets how many were dropped since the last
 * one printed (the counters in the queue stats keep the full count).
 */
bool log_ratelimited(struct log_rate *rl, unsigned long *ret_suppressed);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#ifdef VDB_TRACE
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#else
#define log_debug(...) do { } while (0)
#endif

#define log_ratelimited_at(level, fmt, ...)                                         \
	do {                                                                        \
		static struct log_rate _rl;                                         \
		unsigned long _nr;                                                  \
		if (!log_ratelimited(&_rl, &_nr))                                   \
			break;                                                      \
		if (_nr)                                                            \
			log_msg(level, fmt " (and %lu more like it)", ##__VA_ARGS__, _nr); \
		else                                                                \
			log_msg(level, fmt, ##__VA_ARGS__);                         \
	} while (0)

#define log_warn_ratelimited(fmt, ...) log_ratelimited_at(LOG_WARN, fmt, ##__VA_ARGS__)
#define log_err_ratelimited(fmt, ...) log_ratelimited_at(LOG_ERR, fmt, ##__VA_ARGS__)

#endif
