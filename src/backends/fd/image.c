// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fd backends' image (io_uring, aio, null): a regular file or a block
 * device, its geometry and O_DIRECT.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/vfs.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "sandbox/sandbox.h"
#include "util.h"

static int blockdev_geometry(struct image *img, dev_t rdev)
{
	uint64_t size;
	int lbs = 0;
	unsigned int pbs = 0, io_min = 0, io_opt = 0;
	unsigned long long discard_max = 0;
	char path[128];
	FILE *f;

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

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		 major(rdev), minor(rdev));
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &discard_max) != 1)
			discard_max = 0;
		fclose(f);
	}
	img->can_discard = discard_max > 0;
	return 0;
}

/* O_DIRECT alignment: statx knows (6.1+); else the logical block size. */
static void dio_alignment(struct image *img)
{
	struct statx stx;

	img->dio_mem_align = img->logical_block_size;
	img->dio_offset_align = img->logical_block_size;
	if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		img->dio_mem_align = stx.stx_dio_mem_align;
		img->dio_offset_align = stx.stx_dio_offset_align;
	}
}

int image_open(const char *path, bool is_readonly, bool is_direct, struct image *img)
{
	int flags = O_CLOEXEC | (is_readonly ? O_RDONLY : O_RDWR);
	int fd = open(path, flags | (is_direct ? O_DIRECT : 0));

	if (fd < 0) {
		memset(img, 0, sizeof(*img));
		img->fd = -1;
		return -errno;
	}
	return image_adopt(fd, path, img);
}

bool image_wants_direct(const struct image_spec *spec, mode_t mode)
{
	if (spec->is_direct)
		return true;
	return !spec->is_buffered && S_ISBLK(mode);
}

int image_fd_open(const struct image_spec *spec, struct image *img)
{
	struct stat st;
	bool is_direct = spec->is_direct;

	if (spec->adopt_fd >= 0)
		return image_adopt(spec->adopt_fd, spec->path, img);
	/* Neither asked: what the path is now decides (open() reports it if it vanished). */
	if (!is_direct && !spec->is_buffered && stat(spec->path, &st) == 0)
		is_direct = image_wants_direct(spec, st.st_mode);
	return image_open(spec->path, spec->is_readonly, is_direct, img);
}

int image_fd_flush(const struct image *img)
{
	if (img->is_readonly || img->fd < 0)
		return 0;
	return fdatasync(img->fd) < 0 ? -errno : 0;
}

/* Is @fd's file system memory itself (tmpfs, ramfs)? */
static bool is_memory_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

int image_adopt(int fd, const char *path, struct image *img)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	int r;

	memset(img, 0, sizeof(*img));
	img->path = path;
	img->fd = fd;
	if (fl < 0) {
		r = -errno;
		goto fail;
	}
	img->is_readonly = (fl & O_ACCMODE) == O_RDONLY;
	img->is_direct = fl & O_DIRECT;
	img->can_write_zeroes = true;
	if (fstat(img->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		img->is_blockdev = true;
		r = blockdev_geometry(img, st.st_rdev);
		if (r < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		img->size_bytes = (uint64_t)st.st_size;
		img->logical_block_size = 512;
		img->physical_block_size = st.st_blksize > 0 ? (uint32_t)st.st_blksize : 4096;
		if (img->physical_block_size > 4096 || !is_power_of_2(img->physical_block_size))
			img->physical_block_size = 4096;
		img->can_discard = true;
		img->is_in_memory = is_memory_fs(img->fd);
	} else {
		r = -EINVAL;
		goto fail;
	}
	if (img->is_direct)
		dio_alignment(img);
	return 0;
fail:
	image_close(img);
	return r;
}

void image_close(struct image *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

int image_fit_direct(struct image *img, uint32_t block_size)
{
	int fd;

	if (!img->is_direct || block_size >= img->dio_offset_align)
		return 0;
	fd = open(img->path, O_CLOEXEC | (img->is_readonly ? O_RDONLY : O_RDWR));
	if (fd < 0)
		return -errno;
	close(img->fd);
	img->fd = fd;
	img->is_direct = false;
	return 1;
}

int image_fd_get_size(const struct image *img, uint64_t *ret_bytes)
{
	struct stat st;

	if (img->is_blockdev)
		return ioctl(img->fd, BLKGETSIZE64, ret_bytes) < 0 ? -errno : 0;
	if (fstat(img->fd, &st) < 0)
		return -errno;
	*ret_bytes = (uint64_t)st.st_size;
	return 0;
}

int image_fd_resize(struct image *img, uint64_t size_bytes, bool is_shrink,
		    const char **ret_why)
{
	uint64_t now;
	int r;

	*ret_why = "reading the image's size";
	r = image_fd_get_size(img, &now);
	if (r < 0)
		return r;
	if (img->is_blockdev) {
		/* Shrinking leaves the device as it is; growing needs it grown first. */
		*ret_why = "the image is a block device smaller than that: grow the block "
			   "device itself first";
		return is_shrink || now >= size_bytes ? 0 : -ENOSPC;
	}
	if (now == size_bytes || (!is_shrink && now > size_bytes))
		return 0;
	*ret_why = "resizing the image file";
	return ftruncate(img->fd, (off_t)size_bytes) < 0 ? -errno : 0;
}

unsigned int image_fd_landlock_paths(const struct image_spec *spec, const struct image *img,
				     struct sandbox_path *paths, unsigned int max)
{
	if (!max)
		return 0;
	paths[0] = (struct sandbox_path){
		spec->path, SANDBOX_FS_READ | (img->is_readonly ? 0 : SANDBOX_FS_WRITE),
	};
	return 1;
}
