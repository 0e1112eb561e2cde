// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify.c: the sd_notify(3) protocol as a service manager sees it: a
 * datagram per message at $NOTIFY_SOCKET (a path or an abstract name),
 * sent with our pid in its credentials, the socket kept across a live
 * upgrade's exec, and sd_watchdog_enabled()'s reading of WATCHDOG_USEC
 * and WATCHDOG_PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/notify.h"

/* The manager's socket, bound with SO_PASSCRED as systemd binds it. */
struct manager {
	int fd;
	char name[108];               /* the NOTIFY_SOCKET value */
	char dir[64];
};

static int bind_manager(struct manager *m, bool is_abstract)
{
	struct sockaddr_un sa;
	socklen_t len;
	int one = 1;

	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -1;
	if (is_abstract) {
		snprintf(m->name, sizeof(m->name), "@vduse-blkd-test-notify-%d", getpid());
	} else {
		snprintf(m->dir, sizeof(m->dir), "/tmp/test_notify.XXXXXX");
		if (!mkdtemp(m->dir))
			return -1;
		snprintf(m->name, sizeof(m->name), "%s/notify", m->dir);
	}
	if (notify_sockaddr(m->name, &sa, &len) < 0)
		return -1;
	return bind(m->fd, (struct sockaddr *)&sa, len);
}

static int setup(void **state, bool is_abstract)
{
	struct manager *m = calloc(1, sizeof(*m));

	if (bind_manager(m, is_abstract) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", m->name, 1);
	unsetenv(NOTIFY_FD_ENV);
	*state = m;
	return 0;
}

static int setup_path(void **state)
{
	return setup(state, false);
}

static int setup_abstract(void **state)
{
	return setup(state, true);
}

static int teardown(void **state)
{
	struct manager *m = *state;

	notify_close();
	unsetenv("NOTIFY_SOCKET");
	unsetenv(NOTIFY_FD_ENV);
	close(m->fd);
	if (m->dir[0]) {
		unlink(m->name);
		rmdir(m->dir);
	}
	free(m);
	return 0;
}

/* One datagram, and the pid the kernel says sent it. */
static void receive(struct manager *m, char *buf, size_t size, pid_t *ret_pid)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
			     .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(m->fd, &mh, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = 0;
	*ret_pid = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*ret_pid = cred.pid;
		}
	}
}

static bool has_pending(struct manager *m)
{
	char c;

	return recv(m->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

static void sends_datagrams(void **state)
{
	struct manager *m = *state;
	char buf[2048];
	pid_t pid;

	assert_int_equal(notify_open(), 1);
	assert_true(notify_is_enabled());
	assert_int_equal(notify_send("READY=1\nSTATUS=serving %u queue(s) on %s", 2, "/dev/vda"),
			 0);
	assert_int_equal(notify_send("WATCHDOG=1"), 0);
	receive(m, buf, sizeof(buf), &pid);
	assert_string_equal(buf, "READY=1\nSTATUS=serving 2 queue(s) on /dev/vda");
	assert_int_equal(pid, getpid());
	receive(m, buf, sizeof(buf), &pid);
	assert_string_equal(buf, "WATCHDOG=1");
	assert_false(has_pending(m));
}

/* Too long for one datagram of ours: refused whole, never cut. */
static void refuses_oversized(void **state)
{
	struct manager *m = *state;
	char big[1100];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(notify_open(), 1);
	assert_int_equal(notify_send("STATUS=%s", big), -EMSGSIZE);
	assert_false(has_pending(m));
}

/* The manager went away (or re-executed and has not bound yet): an error, not a crash. */
static void manager_gone(void **state)
{
	struct manager *m = *state;

	assert_int_equal(notify_open(), 1);
	if (m->dir[0])
		unlink(m->name);
	close(m->fd);
	m->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(notify_send("READY=1") < 0);
}

/* A manager that re-executes binds a new socket at the same path: still heard. */
static void manager_rebinds(void **state)
{
	struct manager *m = *state;
	struct sockaddr_un sa;
	socklen_t len;
	char buf[64];
	pid_t pid;
	int one = 1;

	assert_int_equal(notify_open(), 1);
	close(m->fd);
	unlink(m->name);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(setsockopt(m->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	assert_int_equal(notify_sockaddr(m->name, &sa, &len), 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(notify_send("READY=1"), 0);
	receive(m, buf, sizeof(buf), &pid);
	assert_string_equal(buf, "READY=1");
	assert_int_equal(pid, getpid());
}

static void disabled_without_socket(void **state)
{
	struct manager *m = *state;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_open(), 0);
	assert_false(notify_is_enabled());
	assert_int_equal(notify_send("READY=1"), 0);
	assert_int_equal(notify_prepare_exec(), 0);
	assert_null(getenv(NOTIFY_FD_ENV));
	assert_false(has_pending(m));
}

/* Live upgrade: the fd survives exec, named in the environment; the new image adopts it. */
static void kept_across_exec(void **state)
{
	struct manager *m = *state;
	char want[16], buf[64];
	int fd;
	pid_t pid;

	assert_int_equal(notify_open(), 1);
	assert_int_equal(notify_prepare_exec(), 0);
	assert_non_null(getenv(NOTIFY_FD_ENV));
	fd = atoi(getenv(NOTIFY_FD_ENV));
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	snprintf(want, sizeof(want), "%d", fd);
	assert_string_equal(getenv(NOTIFY_FD_ENV), want);
	/* A failed exec: close-on-exec again, nothing left in the environment. */
	notify_exec_failed();
	assert_null(getenv(NOTIFY_FD_ENV));
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* The new image: adopts the fd it names (and clears the variable). */
	assert_int_equal(notify_prepare_exec(), 0);
	assert_int_equal(notify_open(), 1);
	assert_null(getenv(NOTIFY_FD_ENV));
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(notify_send("READY=1"), 0);
	receive(m, buf, sizeof(buf), &pid);
	assert_string_equal(buf, "READY=1");
	/* A variable naming no socket is ignored: a new socket is made. */
	setenv(NOTIFY_FD_ENV, "1", 1);
	assert_int_equal(notify_open(), 1);
	assert_int_equal(notify_send("X=1"), 0);
	receive(m, buf, sizeof(buf), &pid);
	assert_string_equal(buf, "X=1");
}

static void socket_addresses(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char name[200];

	(void)state;
	assert_int_equal(notify_sockaddr("/run/systemd/notify", &sa, &len), 0);
	assert_int_equal(sa.sun_family, AF_UNIX);
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);
	/* Abstract: a leading NUL, no trailing one. */
	assert_int_equal(notify_sockaddr("@abc", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], 0);
	assert_memory_equal(sa.sun_path + 1, "abc", 3);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 4);
	assert_int_equal(notify_sockaddr("vsock:2:1234", &sa, &len), -EAFNOSUPPORT);
	assert_int_equal(notify_sockaddr("relative/path", &sa, &len), -EAFNOSUPPORT);
	assert_int_equal(notify_sockaddr("", &sa, &len), -EINVAL);
	assert_int_equal(notify_sockaddr(NULL, &sa, &len), -EINVAL);
	assert_int_equal(notify_sockaddr("@", &sa, &len), -EINVAL);
	assert_int_equal(notify_sockaddr("/", &sa, &len), -EINVAL);
	/* sun_path is 108 bytes: a path of 107 and its NUL fit, an abstract name of 108. */
	memset(name, 'a', sizeof(name));
	name[0] = '/';
	name[107] = 0;
	assert_int_equal(notify_sockaddr(name, &sa, &len), 0);
	name[107] = 'a';
	name[108] = 0;
	assert_int_equal(notify_sockaddr(name, &sa, &len), -EINVAL);
	name[0] = '@';
	assert_int_equal(notify_sockaddr(name, &sa, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_un));
	name[108] = 'a';
	name[109] = 0;
	assert_int_equal(notify_sockaddr(name, &sa, &len), -EINVAL);
}

static void watchdog_settings(void **state)
{
	(void)state;
	assert_int_equal(notify_watchdog_usec(NULL, NULL, 42), 0);
	assert_int_equal(notify_watchdog_usec("30000000", NULL, 42), 30000000);
	assert_int_equal(notify_watchdog_usec("30000000", "42", 42), 30000000);
	/* Meant for another process (the variable leaked into a child). */
	assert_int_equal(notify_watchdog_usec("30000000", "43", 42), 0);
	assert_int_equal(notify_watchdog_usec(NULL, "42", 42), 0);
	assert_int_equal(notify_watchdog_usec("0", NULL, 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("", NULL, 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("-5", NULL, 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("30s", NULL, 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("99999999999999999999", NULL, 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("1000", "x", 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("1000", "0", 42), -EINVAL);
	assert_int_equal(notify_watchdog_usec("1000", "", 42), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sends_datagrams, setup_path, teardown),
		cmocka_unit_test_setup_teardown(sends_datagrams, setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(refuses_oversized, setup_path, teardown),
		cmocka_unit_test_setup_teardown(manager_gone, setup_path, teardown),
		cmocka_unit_test_setup_teardown(manager_gone, setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(manager_rebinds, setup_path, teardown),
		cmocka_unit_test_setup_teardown(disabled_without_socket, setup_path, teardown),
		cmocka_unit_test_setup_teardown(kept_across_exec, setup_path, teardown),
		cmocka_unit_test_setup_teardown(kept_across_exec, setup_abstract, teardown),
		cmocka_unit_test(socket_addresses),
		cmocka_unit_test(watchdog_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
