// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify-listen: plays the service manager's side of sd_notify(3) for tests.
 *
 *   notify-listen [-t SECONDS] SOCKET OUTFILE
 *
 * Binds an AF_UNIX datagram socket at SOCKET (a path, or @name for the
 * abstract namespace), mode 0777 so a daemon that dropped privileges can
 * still send, with SO_PASSCRED as systemd does, and appends one line per
 * assignment received to OUTFILE:
 *
 *   MS PID KEY=VALUE
 *
 * MS is milliseconds since the listener started, PID the sender's pid from
 * its credentials.  A datagram holding READY=1 also gets a line
 *   MS PID @devs=/dev/vda,/dev/vdb
 * naming the /dev/vd* nodes that exist when it arrives (or "@devs=" for
 * none): a test checks that READY=1 came after the disk appeared.  Writes
 * "MS 0 @listening" first; exits after SECONDS (default 600) or on SIGTERM.
 */
#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t is_done;

static void on_term(int sig)
{
	(void)sig;
	is_done = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void print_devs(FILE *out, long long ms, int pid)
{
	glob_t g;

	fprintf(out, "%lld %d @devs=", ms, pid);
	if (glob("/dev/vd[a-z]*", 0, NULL, &g) == 0) {
		const char *sep = "";

		for (size_t i = 0; i < g.gl_pathc; i++) {
			if (!strcmp(g.gl_pathv[i], "/dev/vduse"))
				continue;
			fprintf(out, "%s%s", sep, g.gl_pathv[i]);
			sep = ",";
		}
		globfree(&g);
	}
	fputc('\n', out);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t addr_len;
	long long start = now_ms(), limit_ms = 600000;
	const char *path, *outpath;
	int one = 1, fd, opt;
	size_t len;
	FILE *out;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			goto usage;
		limit_ms = atoll(optarg) * 1000;
	}
	if (argc - optind != 2)
		goto usage;
	path = argv[optind];
	outpath = argv[optind + 1];
	len = strlen(path);
	if (len < 2 || len >= sizeof(addr.sun_path))
		goto usage;
	memcpy(addr.sun_path, path, len);
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (path[0] == '@')
		addr.sun_path[0] = 0;
	else
		addr_len++;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		perror("notify-listen: socket");
		return 1;
	}
	if (path[0] != '@')
		unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		perror("notify-listen: bind");
		return 1;
	}
	if (path[0] != '@')
		chmod(path, 0777);
	out = fopen(outpath, "a");
	if (!out) {
		perror("notify-listen: output");
		return 1;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	fprintf(out, "%lld 0 @listening\n", now_ms() - start);
	while (!is_done && now_ms() - start < limit_ms) {
		char buf[4096 + 1];
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pid = -1;
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			continue;
		buf[n] = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;

				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				pid = cred.pid;
			}
		}
		long long ms = now_ms() - start;
		int is_ready = 0;

		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			fprintf(out, "%lld %d %s\n", ms, pid, line);
			is_ready |= !strcmp(line, "READY=1");
		}
		if (is_ready)
			print_devs(out, ms, pid);
	}
	fclose(out);
	if (path[0] != '@')
		unlink(path);
	return 0;
usage:
	fprintf(stderr, "usage: notify-listen [-t SECONDS] SOCKET OUTFILE\n");
	return 2;
}
