/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_LOG_H
#define VDB_LOG_H

/*
 * Logging to stderr, one line per message.  Under systemd, when stderr is
 * the journal ($JOURNAL_STREAM names stderr's device and inode), each line
 * starts with its syslog priority ("<3>" error ... "<7>" debug) so the
 * journal files it at that priority; elsewhere it reads
 * "vduse-blkd: LEVEL: message".
 *
 * Debug messages belong to categories switched on at run time (--verbose,
 * later vduse-blkctl log-level): a release build prints them when asked, at
 * the cost of one relaxed load and a branch when not.  Per-request tracing
 * (log_debug()) is compiled in only with -Dtrace, and then is the "trace"
 * category.
 */

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Debug categories: bits of log_debug_mask. */
enum log_category {
	LOG_CAT_DAEMON = 1u << 0,     /* lifecycle, what the service manager hears */
	LOG_CAT_VDUSE = 1u << 1,      /* the kernel's control messages and their answers */
	LOG_CAT_VDPA = 1u << 2,       /* attach, detach, bus drivers */
	LOG_CAT_RECOVERY = 1u << 3,   /* takeover, the state file, live upgrade */
	LOG_CAT_SANDBOX = 1u << 4,    /* privileges, seccomp */
	LOG_CAT_CTL = 1u << 5,        /* the control socket */
	LOG_CAT_TRACE = 1u << 6,      /* every request (-Dtrace builds only) */
};
#define LOG_CAT_ALL 0x7fu

/*
 * Messages at or below this level are printed.  Read it as it is; change it
 * with log_set_level() (it may change while queue threads log).
 */
extern enum log_level log_max_level;
/* Debug categories on (enum log_category bits); change it with log_set_debug(). */
extern unsigned int log_debug_mask;

/**
 * log_init() - look at where stderr goes
 * Call it first in main() and again if stderr or $JOURNAL_STREAM change.
 * Lines get priority prefixes when $JOURNAL_STREAM is "DEV:INODE" of stderr.
 */
void log_init(void);

/* log_is_journal() - log_init() found stderr to be the journal. */
bool log_is_journal(void);

/**
 * log_set_level() - print messages up to @level
 * LOG_DEBUG switches every debug category on (unless some already are); a
 * lower level switches them all off.
 */
void log_set_level(enum log_level level);

/**
 * log_set_debug() - switch the debug categories in @mask on, the others off
 * A non-zero @mask raises the level to LOG_DEBUG; zero lowers it to LOG_INFO.
 */
void log_set_debug(unsigned int mask);

/**
 * log_parse_debug() - categories from a comma-separated list of names
 * @list: e.g. "vduse,recovery", or "all"
 * Returns 0 with @ret_mask set, or -EINVAL for an empty list, an empty item
 * or an unknown name.
 */
int log_parse_debug(const char *list, unsigned int *ret_mask);

/* The category names log_parse_debug() knows, for help texts. */
#define LOG_CAT_NAMES "daemon, vduse, vdpa, recovery, sandbox, ctl, trace"

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline bool log_debug_enabled(unsigned int category)
{
	return __atomic_load_n(&log_debug_mask, __ATOMIC_RELAXED) & category;
}

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
/* A debug message of @category (enum log_category), printed when it is on. */
#define log_debug_cat(category, ...)                                                \
	do {                                                                        \
		if (log_debug_enabled(category))                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                            \
	} while (0)
/* Per-request tracing: compiled out without -Dtrace. */
#ifdef VDB_TRACE
#define log_debug(...) log_debug_cat(LOG_CAT_TRACE, __VA_ARGS__)
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
