// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A filesystem whose O_DIRECT offset alignment is 4096: ext4 on a loop
 * device with 4096-byte logical sectors; see hcommon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "hcommon.h"

static char fs4k_dir[256];

/* Attach @backing_fd to a free loop device; returns its fd, or -errno. */
static int loop_attach_4k(int backing_fd, char *dev, size_t dev_len)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r = -ENODEV;

	if (ctl < 0)
		return -errno;
	/* Another process may take the free device first: try again. */
	for (int tries = 0; tries < 16; tries++) {
		struct loop_config cfg = { .fd = (uint32_t)backing_fd, .block_size = 4096 };
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		int fd;

		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, dev_len, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		/* Detached by the kernel when the last user (the mount) goes. */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		r = ioctl(fd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
		if (r == 0) {
			close(ctl);
			return fd;
		}
		close(fd);
		if (r != -EBUSY)
			break;
	}
	close(ctl);
	return r;
}

const char *fs4k_create(char *why, size_t why_len)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char backing[256], dev[64], cmd[384];
	const char *dir = NULL;
	int bfd, lfd, r;

	if (geteuid() != 0) {
		snprintf(why, why_len, "not root: no loop device and mount");
		return NULL;
	}
	r = hc_private_mounts();
	if (r < 0) {
		snprintf(why, why_len, "no private mount namespace: %s", strerror(-r));
		return NULL;
	}
	snprintf(backing, sizeof(backing), "%s/vdb-fs4k-XXXXXX", tmp);
	bfd = mkstemp(backing);
	if (bfd < 0) {
		snprintf(why, why_len, "backing file in %s: %s", tmp, strerror(errno));
		return NULL;
	}
	/* The loop device keeps the file open: its name can go at once. */
	unlink(backing);
	if (ftruncate(bfd, 32 << 20) < 0) {
		snprintf(why, why_len, "backing file in %s: %s", tmp, strerror(errno));
		close(bfd);
		return NULL;
	}
	lfd = loop_attach_4k(bfd, dev, sizeof(dev));
	close(bfd);
	if (lfd < 0) {
		snprintf(why, why_len, "loop device with 4096-byte sectors: %s", strerror(-lfd));
		return NULL;
	}
	snprintf(cmd, sizeof(cmd),
		 "PATH=\"$PATH:/usr/sbin:/sbin\" mkfs.ext4 -q -F %s >/dev/null 2>&1", dev);
	snprintf(fs4k_dir, sizeof(fs4k_dir), "%s/vdb-fs4k-mnt-XXXXXX", tmp);
	if (system(cmd) != 0) {
		snprintf(why, why_len, "mkfs.ext4 on %s failed (is it installed?)", dev);
	} else if (!mkdtemp(fs4k_dir)) {
		snprintf(why, why_len, "mkdtemp in %s: %s", tmp, strerror(errno));
	} else if (mount(dev, fs4k_dir, "ext4", 0, NULL) < 0) {
		snprintf(why, why_len, "mounting the ext4 on %s: %s", dev, strerror(errno));
		rmdir(fs4k_dir);
	} else {
		dir = fs4k_dir;
	}
	if (!dir)
		fs4k_dir[0] = '\0';
	close(lfd);
	return dir;
}

void fs4k_destroy(void)
{
	if (!fs4k_dir[0])
		return;
	umount2(fs4k_dir, MNT_DETACH);
	rmdir(fs4k_dir);
	fs4k_dir[0] = '\0';
}
