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

/*
 * log_ratelimited() - true when a message of this call site may be printed.
 * @last_sec: per-call-site state (a static).
 * At most one message per second per call site: a hostile driver cannot
 * flood the log.
 */
bool log_ratelimited(long *last_sec);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#ifdef VDB_TRACE
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#else
#define log_debug(...) do { } while (0)
#endif

#define log_warn_ratelimited(...)                     \
	do {                                          \
		static long _last_sec;                \
		if (log_ratelimited(&_last_sec))      \
			log_warn(__VA_ARGS__);        \
	} while (0)

#endif
