/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_UTIL_H
#define VDB_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* monotonic_ns() - CLOCK_MONOTONIC in nanoseconds (the vDSO: no system call). */
static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* monotonic_ms() - the same in milliseconds (it survives exec: live upgrade times). */
static inline uint64_t monotonic_ms(void)
{
	return monotonic_ns() / 1000000u;
}

static inline bool is_power_of_2(uint64_t n)
{
	return n && !(n & (n - 1));
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_close_ __attribute__((cleanup(closep)))

#endif
