// SPDX-License-Identifier: GPL-2.0-or-later
/* The control socket: accept, read one request, answer, close (see ctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "sandbox/sandbox.h"
#include "util.h"

/* Is a process listening on @path?  Connect refused (or no file): no. */
static bool is_live(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
}

/* The socket a re-executing daemon left us in CTL_FD_ENV, or -1. */
static int adopt(void)
{
	const char *v = getenv(CTL_FD_ENV);
	struct stat st;
	int fd;

	if (!v || sscanf(v, "%d", &fd) != 1 || fd < 3 || fstat(fd, &st) < 0 ||
	    !S_ISSOCK(st.st_mode))
		return -1;
	return fd;
}

/*
 * bind(2) with the owner's file system ids: the socket is the owner's from
 * the start, so no chown (and no CAP_CHOWN, which the systemd unit does not
 * give) is needed, and the owner may remove it at stop.  That takes a
 * directory the owner may write (the unit's /run/vduse-blkd, group-writable
 * for the service's group); elsewhere (root's own 0700 directory) the socket
 * is bound as root and chowned, which needs CAP_CHOWN.
 */
static int bind_owned(int fd, const struct sockaddr_un *sa, const struct run_as *owner)
{
	int r, saved_errno;

	if (owner && getuid() == 0) {
		setfsgid(owner->gid);
		setfsuid(owner->uid);
		r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
		saved_errno = errno;
		setfsuid(geteuid());
		setfsgid(getegid());
		if (r == 0)
			return 0;
		if (saved_errno != EACCES && saved_errno != EPERM)
			return -saved_errno;
	}
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return -errno;
	if (owner && chown(sa->sun_path, owner->uid, owner->gid) < 0) {
		r = -errno;
		unlink(sa->sun_path);
		return r;
	}
	return 0;
}

static int create(struct ctl_server *s, const struct run_as *owner)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, r;

	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	/* Not SOCK_CLOEXEC: a live upgrade's exec hands it to the new image. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old_umask = umask(0177);
	r = bind_owned(fd, &sa, owner);
	if (r == -EADDRINUSE) {
		if (is_live(&sa)) {
			umask(old_umask);
			close(fd);
			return -EADDRINUSE;
		}
		/* Left by a daemon that is gone. */
		unlink(s->path);
		r = bind_owned(fd, &sa, owner);
	}
	umask(old_umask);
	if (r == 0 && listen(fd, CTL_MAX_CLIENTS) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int ctl_server_open(struct ctl_server *s, const char *dir, const struct ctl_target *t,
		    const struct run_as *owner, bool is_reexec)
{
	char fd_str[16];
	int fd = -1, r;

	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	s->rz.done_fd = s->rz.watch_fd = -1;
	s->t = *t;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s%s", dir, t->name,
			     CTL_SOCKET_SUFFIX) >= sizeof(s->path))
		return -ENAMETOOLONG;
	if (is_reexec)
		fd = adopt();
	unsetenv(CTL_FD_ENV);
	/*
	 * A re-exec from a binary without the socket runs under its filter,
	 * which may not allow socket(2): a forbidden call would kill us.
	 */
	if (fd < 0 && is_reexec && sandbox_seccomp_is_active())
		return -EPERM;
	if (fd < 0)
		fd = create(s, owner);
	if (fd < 0)
		return fd;
	s->listen_fd = fd;
	r = ctl_resize_init(&s->rz, &s->t);
	if (r < 0) {
		ctl_server_close(s);
		return r;
	}
	/* Without it (no memory) a live upgrade's new image makes a new socket. */
	snprintf(fd_str, sizeof(fd_str), "%d", fd);
	setenv(CTL_FD_ENV, fd_str, 1);
	return 0;
}

static void client_drop(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->in_len = c->out_len = c->out_done = 0;
	c->is_waiting = false;
}

static void accept_all(struct ctl_server *s)
{
	for (;;) {
		struct ctl_client *free_slot = NULL;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		for (int i = 0; i < CTL_MAX_CLIENTS && !free_slot; i++)
			if (s->clients[i].fd < 0)
				free_slot = &s->clients[i];
		if (!free_slot) {
			close(fd);    /* busy: the client sees the connection end */
			continue;
		}
		free_slot->fd = fd;
		free_slot->deadline_ms = monotonic_ms() + CTL_CLIENT_TIMEOUT_MS;
	}
}

static void client_write(struct ctl_client *c)
{
	ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(c);
		return;
	}
	c->out_done += (size_t)n;
	if (c->out_done == c->out_len)
		client_drop(c);     /* one request per connection */
}

/* The whole request is in c->in[0 .. len): make the reply. */
static void client_answer(struct ctl_server *s, struct ctl_client *c, size_t len)
{
	struct ctl_request req;
	const char *why;
	int r = ctl_request_parse(c->in, len, &req, &why);

	if (r == 0 && req.cmd == CTL_CMD_RESIZE) {
		c->out = ctl_resize_start(&s->rz, &s->t, &req, &c->is_waiting);
		if (c->is_waiting) {
			c->deadline_ms = monotonic_ms() + CTL_RESIZE_TIMEOUT_MS;
			return;
		}
	} else {
		c->out = r < 0 ? ctl_reply_error(r, why) : ctl_execute(&s->t, &req);
	}
	c->out_len = c->out ? strlen(c->out) : 0;
	if (!c->out)
		client_drop(c);
}

/* The resize job is over: the waiting client gets its reply (if it is still there). */
static void resize_done(struct ctl_server *s)
{
	bool has_reply;
	char *reply = ctl_resize_done(&s->rz, &s->t, &has_reply);

	for (int i = 0; has_reply && i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &s->clients[i];

		if (c->fd < 0 || !c->is_waiting)
			continue;
		c->is_waiting = false;
		c->out = reply;
		c->out_len = reply ? strlen(reply) : 0;
		reply = NULL;
		if (!c->out)
			client_drop(c);
		else
			client_write(c);
	}
	free(reply);
}

static void client_read(struct ctl_server *s, struct ctl_client *c)
{
	char *nl;
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && c->in_len == 0)) {
		client_drop(c);
		return;
	}
	c->in_len += (size_t)n;
	nl = memchr(c->in, '\n', c->in_len);
	if (nl)
		client_answer(s, c, (size_t)(nl - c->in));
	else if (n == 0)
		client_answer(s, c, c->in_len);            /* ended without a newline */
	else if (c->in_len == sizeof(c->in))
		client_answer(s, c, c->in_len);            /* -EMSGSIZE */
}

unsigned int ctl_server_pollfds(struct ctl_server *s, struct pollfd *pfd)
{
	unsigned int n = 0;

	if (!s || s->listen_fd < 0)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &s->clients[i];

		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->is_waiting ? 0 :
							       c->out ? POLLOUT : POLLIN };
	}
	pfd[n++] = (struct pollfd){ .fd = s->rz.is_running ? s->rz.done_fd : -1, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = s->rz.watch_fd, .events = POLLIN };
	return n;
}

void ctl_server_handle(struct ctl_server *s, const struct pollfd *pfd, unsigned int nr)
{
	uint64_t now = monotonic_ms();

	if (!s || s->listen_fd < 0 || nr < CTL_NR_POLLFDS)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &s->clients[i];
		short ev = pfd[1 + i].revents;

		if (c->fd < 0 || pfd[1 + i].fd != c->fd)
			continue;
		if (c->is_waiting) {
			/* Gone while its resize runs: the resize goes on, the reply is dropped. */
			if (ev & (POLLHUP | POLLERR) || now >= c->deadline_ms)
				client_drop(c);
			continue;
		}
		if (ev & (POLLIN | POLLHUP | POLLERR) && !c->out) {
			client_read(s, c);
			ev |= POLLOUT;     /* a reply just made: most go out at once */
		}
		if (c->fd >= 0 && c->out && ev & (POLLOUT | POLLHUP | POLLERR))
			client_write(c);
		if (c->fd >= 0 && now >= c->deadline_ms)
			client_drop(c);    /* stalled: it may not hold a slot */
	}
	if (pfd[1 + CTL_MAX_CLIENTS].revents & POLLIN)
		resize_done(s);
	if (pfd[2 + CTL_MAX_CLIENTS].revents & POLLIN)
		ctl_resize_watch_event(&s->rz, &s->t);
	if (pfd[0].revents & POLLIN)
		accept_all(s);
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	ctl_resize_exit(&s->rz, &s->t);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		client_drop(&s->clients[i]);
	if (s->listen_fd < 0)
		return;
	close(s->listen_fd);
	s->listen_fd = -1;
	/* After a privilege drop the directory may refuse: the next daemon replaces it. */
	unlink(s->path);
	unsetenv(CTL_FD_ENV);
}
