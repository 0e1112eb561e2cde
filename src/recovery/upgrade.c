// SPDX-License-Identifier: GPL-2.0-or-later
/* Live upgrade by re-exec in place (see upgrade.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recovery/upgrade.h"
#include "util.h"

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

		/* The image may have no fd (rbd): the new image opens it again. */
		for (int i = 0; i < 4; i++)
			is_valid = is_valid && ((i == 2 && fd[i] == -1) ||
						(fd[i] > 2 && set_cloexec(fd[i], true) == 0));
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

int upgrade_check_exe(void)
{
	_cleanup_close_ int fd = open(exe, O_RDONLY | O_CLOEXEC);
	unsigned char magic[4];
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(exe, X_OK) < 0)
		return -errno;
	if (pread(fd, magic, sizeof(magic), 0) != sizeof(magic) || memcmp(magic, "\x7f" "ELF", 4))
		return -ENOEXEC;
	return 0;
}

int upgrade_exec(char **argv, const struct handover *h)
{
	const int fd[4] = { h->dev_fd, h->state_fd, h->image_fd, h->ctl_fd };
	char v[96];
	int r = 0;

	snprintf(v, sizeof(v), "%d,%d,%d,%d,%llu", fd[0], fd[1], fd[2], fd[3],
		 (unsigned long long)h->paused_at_ms);
	for (int i = 0; i < 4 && r == 0; i++)
		r = i == 2 && fd[i] < 0 ? 0 : fd[i] < 0 ? -EBADF : set_cloexec(fd[i], false);
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

int upgrade_check_node(int fd, const char *node)
{
	struct stat have, want;

	if (fd < 0)
		return 0;
	if (fstat(fd, &have) < 0)
		return -errno;
	if (stat(node, &want) < 0)
		return -errno;
	if (!S_ISCHR(have.st_mode) || !S_ISCHR(want.st_mode) || have.st_rdev != want.st_rdev)
		return -ENODEV;
	return 0;
}
