// SPDX-License-Identifier: GPL-2.0-or-later
/* Live upgrade by re-exec in place (see upgrade.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "upgrade.h"

static char exe[PATH_MAX];

int upgrade_save_exe(void)
{
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	static const char deleted[] = " (deleted)";
	size_t len;

	if (n < 0)
		return -errno;
	exe[n] = 0;
	/* Replaced while running (an upgrade before a re-exec): the path is what counts. */
	len = (size_t)n;
	if (len > sizeof(deleted) - 1 && !strcmp(exe + len - (sizeof(deleted) - 1), deleted))
		exe[len - (sizeof(deleted) - 1)] = 0;
	return 0;
}

const char *upgrade_exe(void)
{
	return exe;
}

uint64_t upgrade_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int set_cloexec(int fd, bool is_cloexec)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -errno;
	flags = is_cloexec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags) < 0 ? -errno : 0;
}

bool upgrade_take_handover(struct handover *h)
{
	const char *v = getenv(UPGRADE_ENV);
	unsigned long long at;
	int dev_fd, state_fd;

	h->dev_fd = h->state_fd = -1;
	h->paused_at_ms = 0;
	if (!v)
		return false;
	if (sscanf(v, "%d,%d,%llu", &dev_fd, &state_fd, &at) == 3 && dev_fd > 2 &&
	    state_fd > 2 && set_cloexec(dev_fd, true) == 0 && set_cloexec(state_fd, true) == 0) {
		h->dev_fd = dev_fd;
		h->state_fd = state_fd;
		h->paused_at_ms = at;
	}
	unsetenv(UPGRADE_ENV);
	return h->dev_fd >= 0;
}

int upgrade_exec(char **argv, const struct handover *h)
{
	char v[64];
	int r;

	snprintf(v, sizeof(v), "%d,%d,%llu", h->dev_fd, h->state_fd,
		 (unsigned long long)h->paused_at_ms);
	r = set_cloexec(h->dev_fd, false);
	if (r == 0)
		r = set_cloexec(h->state_fd, false);
	if (r == 0 && setenv(UPGRADE_ENV, v, 1) < 0)
		r = -errno;
	if (r == 0) {
		execv(exe, argv);
		r = -errno;
	}
	unsetenv(UPGRADE_ENV);
	set_cloexec(h->dev_fd, true);
	set_cloexec(h->state_fd, true);
	return r;
}
