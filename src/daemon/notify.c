// SPDX-License-Identifier: GPL-2.0-or-later
/* The service manager's notification protocol (see notify.h). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/notify.h"

#define NOTIFY_MAX_BYTES 1024

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

int notify_sockaddr(const char *value, struct sockaddr_un *ret, socklen_t *ret_len)
{
	size_t len = value ? strlen(value) : 0;

	if (!len)
		return -EINVAL;
	if (value[0] != '/' && value[0] != '@')
		return -EAFNOSUPPORT;   /* "vsock:CID:PORT" and whatever comes next */
	/* A path needs its NUL in sun_path; an abstract name has none. */
	if (len < 2 || len > sizeof(ret->sun_path) - (value[0] == '/'))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	memcpy(ret->sun_path, value, len);
	if (value[0] == '@') {
		ret->sun_path[0] = 0;
		*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	return 0;
}

int64_t notify_watchdog_usec(const char *usec, const char *pid, pid_t self)
{
	unsigned long long v;
	char *end;

	if (!usec)
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || end == usec || *end || usec[0] == '-' || v == 0 || v > INT64_MAX)
		return -EINVAL;
	if (pid) {
		unsigned long p;

		errno = 0;
		p = strtoul(pid, &end, 10);
		if (errno || end == pid || *end || pid[0] == '-' || p == 0)
			return -EINVAL;
		if ((pid_t)p != self)
			return 0;
	}
	return (int64_t)v;
}

/* The socket a live upgrade's previous image kept open for us, or -1. */
static int adopt_fd(void)
{
	const char *v = getenv(NOTIFY_FD_ENV);
	struct stat st;
	char *end;
	long fd;

	if (!v)
		return -1;
	errno = 0;
	fd = strtol(v, &end, 10);
	unsetenv(NOTIFY_FD_ENV);
	if (errno || end == v || *end || fd <= 2 || fd > INT32_MAX)
		return -1;
	if (fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return (int)fd;
}

int notify_open(void)
{
	const char *value = getenv("NOTIFY_SOCKET");
	int fd = adopt_fd();
	int r;

	if (!value) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	r = notify_sockaddr(value, &notify_addr, &notify_addr_len);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (fd < 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	if (notify_fd >= 0 && notify_fd != fd)
		close(notify_fd);
	notify_fd = fd;
	return 1;
}

bool notify_is_enabled(void)
{
	return notify_fd >= 0;
}

int notify_send(const char *fmt, ...)
{
	char buf[NOTIFY_MAX_BYTES + 1];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	if (sendto(notify_fd, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
		   notify_addr_len) < 0)
		return -errno;
	return 0;
}

int notify_prepare_exec(void)
{
	char v[16];

	if (notify_fd < 0)
		return 0;
	snprintf(v, sizeof(v), "%d", notify_fd);
	if (fcntl(notify_fd, F_SETFD, 0) < 0)
		return -errno;
	if (setenv(NOTIFY_FD_ENV, v, 1) < 0) {
		int r = -errno;

		fcntl(notify_fd, F_SETFD, FD_CLOEXEC);
		return r;
	}
	return 0;
}

void notify_exec_failed(void)
{
	unsetenv(NOTIFY_FD_ENV);
	if (notify_fd >= 0)
		fcntl(notify_fd, F_SETFD, FD_CLOEXEC);
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
