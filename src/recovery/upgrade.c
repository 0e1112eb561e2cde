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
	int fd[4];

	h->dev_fd = h->state_fd = h->image_fd = h->ctl_fd = -1;
	h->paused_at_ms = 0;
	if (!v)
		return false;
	if (sscanf(v, "%d,%d,%d,%d,%llu", &fd[0], &fd[1], &fd[2], &fd[3], &at) == 5) {
		bool is_valid = true;

		for (int i = 0; i < 4; i++)
			is_valid = is_valid && fd[i] > 2 && set_cloexec(fd[i], true) == 0;
		if (is_valid) {
			h->dev_fd = fd[0];
			h->state_fd = fd[1];
			h->image_fd = fd[2];
			h->ctl_fd = fd[3];
			h->paused_at_ms = at;
		}
	}
	unsetenv(UPGRADE_ENV);
	return h->dev_fd >= 0;
}

int upgrade_exec(char **argv, const struct handover *h)
{
	const int fd[4] = { h->dev_fd, h->state_fd, h->image_fd, h->ctl_fd };
	char v[96];
	int r = 0;

	snprintf(v, sizeof(v), "%d,%d,%d,%d,%llu", fd[0], fd[1], fd[2], fd[3],
		 (unsigned long long)h->paused_at_ms);
	for (int i = 0; i < 4 && r == 0; i++)
		r = fd[i] < 0 ? -EBADF : set_cloexec(fd[i], false);
	if (r == 0 && setenv(UPGRADE_ENV, v, 1) < 0)
		r = -errno;
	if (r == 0) {
		execv(exe, argv);
		r = -errno;
	}
	unsetenv(UPGRADE_ENV);
	for (int i = 0; i < 4; i++)
		if (fd[i] >= 0)
			set_cloexec(fd[i], true);
	return r;
}
