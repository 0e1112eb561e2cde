// SPDX-License-Identifier: GPL-2.0-or-later
/* The zero buffer backends write from when nothing better zeroes a range. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/backend.h"

#include "backends/fd/zero.h"

#define ZERO_BUF_BYTES (1u << 20)

int zero_buf_init(struct zero_buf *z)
{
	void *p;

	if (z->buf)
		return 0;
	p = mmap(NULL, ZERO_BUF_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	z->buf = p;
	z->len_bytes = ZERO_BUF_BYTES;
	return 0;
}

void zero_buf_exit(struct zero_buf *z)
{
	if (z && z->buf)
		munmap(z->buf, z->len_bytes);
	if (z) {
		z->buf = NULL;
		z->len_bytes = 0;
	}
}

static int falloc(int fd, int mode, uint64_t off, uint64_t len)
{
	return fallocate(fd, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

static int write_zeroes(const struct image *img, struct zero_buf *z, uint64_t off, uint64_t len)
{
	int r = zero_buf_init(z);

	while (r == 0 && len) {
		size_t n = len < z->len_bytes ? len : z->len_bytes;
		ssize_t w = pwrite(img->fd, z->buf, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return r;
}

int zero_range_sync(const struct image *img, struct zero_buf *z, enum zero_mode *mode,
		    uint64_t off, uint64_t len, bool may_unmap)
{
	const int keep = FALLOC_FL_KEEP_SIZE;
	int r;

	if (may_unmap && *mode == ZERO_FALLOC &&
	    falloc(img->fd, FALLOC_FL_PUNCH_HOLE | keep, off, len) == 0)
		return 0;
	for (;;) {
		switch (*mode) {
		case ZERO_FALLOC:
			r = falloc(img->fd, FALLOC_FL_ZERO_RANGE | keep, off, len);
			break;
		case ZERO_PUNCH_ALLOC:
			r = falloc(img->fd, FALLOC_FL_PUNCH_HOLE | keep, off, len);
			if (r == 0)
				r = falloc(img->fd, keep, off, len);
			break;
		default:
			return write_zeroes(img, z, off, len);
		}
		/* Only "not supported" steps down; EINVAL is a real error (a misaligned range). */
		if (r != -EOPNOTSUPP)
			return r;
		(*mode)++;
	}
}

int discard_sync(const struct image *img, uint64_t off, uint64_t len)
{
	int r;

	if (img->is_blockdev) {
		uint64_t range[2] = { off, len };

		r = ioctl(img->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	} else {
		r = falloc(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	}
	return r == -EOPNOTSUPP ? 0 : r;
}
