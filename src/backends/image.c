// SPDX-License-Identifier: GPL-2.0-or-later
/* Opening the image: a regular file or a block device, and its geometry. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "backend.h"
#include "util.h"

static int blockdev_geometry(struct image *img)
{
	uint64_t size;
	int lbs = 0;
	unsigned int pbs = 0, io_min = 0, io_opt = 0;

	if (ioctl(img->fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	if (ioctl(img->fd, BLKSSZGET, &lbs) < 0)
		return -errno;
	if (ioctl(img->fd, BLKPBSZGET, &pbs) < 0)
		pbs = (unsigned int)lbs;
	if (ioctl(img->fd, BLKIOMIN, &io_min) < 0)
		io_min = 0;
	if (ioctl(img->fd, BLKIOOPT, &io_opt) < 0)
		io_opt = 0;
	img->size_bytes = size;
	img->logical_block_size = (uint32_t)lbs;
	img->physical_block_size = pbs;
	img->min_io_bytes = io_min;
	img->opt_io_bytes = io_opt;
	return 0;
}

int image_open(const char *path, bool is_readonly, bool is_direct, struct image *img)
{
	struct stat st;
	int flags = O_CLOEXEC | (is_readonly ? O_RDONLY : O_RDWR) | (is_direct ? O_DIRECT : 0);
	int r;

	memset(img, 0, sizeof(*img));
	img->path = path;
	img->is_readonly = is_readonly;
	img->is_direct = is_direct;
	img->fd = open(path, flags);
	if (img->fd < 0)
		return -errno;
	if (fstat(img->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		img->is_blockdev = true;
		r = blockdev_geometry(img);
		if (r < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		img->size_bytes = (uint64_t)st.st_size;
		img->logical_block_size = 512;
		img->physical_block_size = st.st_blksize > 0 ? (uint32_t)st.st_blksize : 4096;
		if (img->physical_block_size > 4096 || !is_power_of_2(img->physical_block_size))
			img->physical_block_size = 4096;
	} else {
		r = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	close(img->fd);
	img->fd = -1;
	return r;
}

void image_close(struct image *img)
{
	if (!img || img->fd < 0)
		return;
	close(img->fd);
	img->fd = -1;
}
