// SPDX-License-Identifier: GPL-2.0-or-later
/* A test's own control loop for a daemon's control socket (see ctl_ask.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_ask.h"

void ctl_ask_pump(struct ctl_server *s, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		struct pollfd pfd[CTL_NR_POLLFDS];
		unsigned int n = ctl_server_pollfds(s, pfd);

		poll(pfd, n, 10);
		ctl_server_handle(s, pfd, n);
	}
}

int ctl_ask_send(struct ctl_server *s, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = strlen(req);

	if (fd < 0 || strlen(s->path) >= sizeof(sa.sun_path))
		abort();
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, len) != (ssize_t)len)
		abort();
	return fd;
}

int ctl_ask_reply(struct ctl_server *s, int fd, int ms, struct json_object **ret_obj)
{
	static char buf[CTL_MAX_REPLY];
	const char *why;
	size_t got = 0;

	*ret_obj = NULL;
	for (int i = 0; i < ms / 10; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ctl_ask_pump(s, 10);
		if (poll(&pfd, 1, 0) != 1)
			continue;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		close(fd);
		return ctl_reply_parse(buf, got, ret_obj, &why);
	}
	close(fd);
	return -ETIMEDOUT;
}
