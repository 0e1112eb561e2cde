// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * first-read: how long a command takes to give a usable block device.  Runs
 * in the test VM (tests/vm/guest/bench-nbd.sh), never on the build host.
 *
 *   first-read DISK TIMEOUT_MS CMD [ARGS...]
 *
 * Starts CMD (its stdout and stderr are first-read's) and polls every
 * 200 us, on CLOCK_MONOTONIC from just before the fork, until a 4 KiB
 * O_DIRECT read of DISK at offset 0 returns 4 KiB.  DISK is a device node
 * (/dev/nbd0, which exists before it is usable) or a glob(3) pattern of a
 * sysfs block directory (/sys/bus/vdpa/devices/NAME/virtio*\/block/\*): its
 * last component names the node in /dev.  Prints one line,
 *
 *   node MS read MS pid PID
 *
 * when the node first existed and when the read first succeeded, in
 * milliseconds with 0.1 ms, and CMD's pid: it is not waited for (a daemon
 * goes on serving).  Exit 0, or 1 after TIMEOUT_MS (the line says "-"), 2
 * when CMD cannot be started.  A measurement: it never judges the figure.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES 4096

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The node DISK names now, or false while there is none. */
static bool find_node(const char *disk, char *ret_node, size_t len)
{
	glob_t g;
	bool is_found = false;

	if (strncmp(disk, "/sys/", 5) != 0) {
		snprintf(ret_node, len, "%s", disk);
		return access(disk, F_OK) == 0;
	}
	if (glob(disk, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		const char *base = strrchr(g.gl_pathv[0], '/');

		snprintf(ret_node, len, "/dev/%s", base ? base + 1 : g.gl_pathv[0]);
		is_found = access(ret_node, F_OK) == 0;
	}
	globfree(&g);
	return is_found;
}

static bool read_ok(const char *node, void *buf)
{
	int fd = open(node, O_RDONLY | O_DIRECT | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, buf, READ_BYTES, 0);
	close(fd);
	return n == READ_BYTES;
}

int main(int argc, char **argv)
{
	char node[PATH_MAX];
	double t0, t_node = -1, t_read = -1, timeout_ms;
	void *buf;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: first-read DISK TIMEOUT_MS CMD [ARGS...]\n");
		return 2;
	}
	timeout_ms = atof(argv[2]);
	if (posix_memalign(&buf, READ_BYTES, READ_BYTES))
		return 2;
	fflush(NULL);
	t0 = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("first-read: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("first-read: exec");
		_exit(127);
	}
	while (now_ms() - t0 < timeout_ms) {
		if (t_node < 0 && find_node(argv[1], node, sizeof(node)))
			t_node = now_ms() - t0;
		if (t_node >= 0 && read_ok(node, buf)) {
			t_read = now_ms() - t0;
			break;
		}
		usleep(200);
	}
	if (t_read < 0) {
		if (t_node < 0)
			printf("node - read - pid %d\n", (int)pid);
		else
			printf("node %.1f read - pid %d\n", t_node, (int)pid);
		return 1;
	}
	printf("node %.1f read %.1f pid %d\n", t_node, t_read, (int)pid);
	return 0;
}
