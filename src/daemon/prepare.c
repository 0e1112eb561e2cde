// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the daemon serves, before any device exists: the backend (as asked,
 * or io_uring with aio as the fallback), its image, and the virtio-blk
 * device that image describes (capacity, block sizes, serial).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "backends/fd/image.h"
#include "blk/blk.h"
#include "config.h"
#include "daemon/prepare.h"
#include "log.h"
#include "util.h"
#include "vduse/dev.h"

/*
 * A serial stable across restarts: a hash of the image's canonical path,
 * or of the image as given when a backend names it by its prefix (nbd://,
 * rbd:): not a file, and realpath() of a relative name calls getcwd, which
 * the seccomp filter a live upgrade's new image starts under refuses.
 */
static void default_serial(const char *image, bool is_file, char serial[VIRTIO_BLK_ID_BYTES])
{
	char path[PATH_MAX];
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[VIRTIO_BLK_ID_BYTES + 1];

	if (!is_file || !realpath(image, path))
		snprintf(path, sizeof(path), "%s", image);
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "vdb-%016llx", (unsigned long long)h);
	memset(serial, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(serial, buf, strlen(buf));
}

/* What the backend opens: the image and the backend's options. */
struct image_spec prepare_image_spec(const struct options *o, int adopt_fd)
{
	struct image_spec spec = {
		.path = o->image_path, .is_readonly = o->is_readonly, .is_direct = o->is_direct,
		.is_buffered = o->is_buffered,
		.adopt_fd = adopt_fd, .nr_queues = o->nr_queues,
	};

	memcpy(spec.opts, o->backend_opts, sizeof(spec.opts));
	return spec;
}

/* The backend opens its image; an image that refuses writes is served read-only. */
int prepare_open_image(const struct options *o, int adopt_fd, struct image *img)
{
	struct image_spec spec = prepare_image_spec(o, adopt_fd);
	int r = o->be->open(&spec, img);

	if (adopt_fd < 0 && !o->is_readonly && (r == -EACCES || r == -EROFS || r == -EPERM)) {
		spec.is_readonly = true;
		r = o->be->open(&spec, img);
		if (r == 0)
			log_warn("image '%s' cannot be opened for writing: serving it read-only",
				 o->image);
	}
	if (r < 0 && adopt_fd >= 0)
		log_err("live upgrade: the image handed over: %s", strerror(-r));
	else if (r == -EINVAL && !o->be->image_prefix)
		log_err("image '%s': not a regular file or block device", o->image);
	else if (r < 0 && !o->be->image_prefix)
		log_err("image '%s': %s", o->image, strerror(-r));
	/* A backend with its own prefix (rbd:) logged its reason itself. */
	return r;
}

static int describe_device(const struct options *o, const struct image *img, struct blk_dev *blk)
{
	/* By default the device's own logical block size (512 for files). */
	uint32_t block_size = o->block_size ? o->block_size : MAX(img->logical_block_size, 512u);
	uint64_t bytes = img->size_bytes;
	uint64_t usable = bytes - bytes % block_size;

	if (img->logical_block_size > block_size) {
		log_err("--block-size %u is smaller than the logical block size %u of '%s'",
			block_size, img->logical_block_size, o->image);
		return -EINVAL;
	}
	if (usable < BLK_SECTOR_SIZE || usable < block_size) {
		log_err("image '%s' is %llu bytes: too small to serve (at least %u bytes)",
			o->image, (unsigned long long)bytes, MAX(block_size, BLK_SECTOR_SIZE));
		return -EINVAL;
	}
	if (usable != bytes)
		log_warn("image '%s' is %llu bytes, not a multiple of %u: serving the first %llu",
			 o->image, (unsigned long long)bytes, block_size,
			 (unsigned long long)usable);
	memset(blk, 0, sizeof(*blk));
	blk->capacity_sectors = usable >> BLK_SECTOR_SHIFT;
	blk->logical_block_size = block_size;
	blk->physical_block_size = MAX(img->physical_block_size, block_size);
	blk->min_io_bytes = img->min_io_bytes;
	blk->opt_io_bytes = img->opt_io_bytes;
	blk->num_queues = (uint16_t)o->nr_queues;
	blk->queue_size = (uint16_t)o->queue_size;
	blk->poll_us = o->poll_us;
	blk->ring = (uint8_t)o->ring;
	blk->is_readonly = img->is_readonly;
	blk->has_discard = !img->is_readonly && img->can_discard;
	blk->has_write_zeroes = !img->is_readonly && img->can_write_zeroes;
	blk->is_write_through = img->is_write_through;
	if (o->serial) {
		memset(blk->serial, 0, sizeof(blk->serial));
		memcpy(blk->serial, o->serial, strlen(o->serial));
	} else {
		default_serial(o->image, !o->be->image_prefix, blk->serial);
	}
	return 0;
}

/* The backend: as asked, or io_uring with libaio as the fallback. */
static const struct backend_ops *choose_by_name(const struct options *o)
{
	int r;

	if (o->be)
		return o->be;
	if (o->backend && strcmp(o->backend, "io_uring") != 0)
		return backend_find(o->backend);
	r = backend_io_uring.probe();
	if (r == 0)
		return &backend_io_uring;
	if (o->backend) {
		log_err("--backend io_uring: io_uring is unavailable here: %s%s", strerror(-r),
			r == -EPERM ? " (kernel.io_uring_disabled?)" : "");
		return NULL;
	}
#if HAVE_LIBAIO
	log_warn("io_uring is unavailable (%s%s): using the aio backend", strerror(-r),
		 r == -EPERM ? ", kernel.io_uring_disabled?" : r == -ENOSYS ? ", seccomp?" : "");
	return &backend_aio;
#else
	log_err("io_uring is unavailable (%s) and this build has no aio backend", strerror(-r));
	return NULL;
#endif
}

/* The backend, if it can serve as asked: under the sandbox it must say what it calls. */
static const struct backend_ops *choose_backend(const struct options *o)
{
	const struct backend_ops *be = choose_by_name(o);

	/* The seccomp filter allows a backend what it declares, and nothing it forgot. */
	if (be && o->is_sandboxed && !be->syscalls) {
		log_err("the %s backend declares no system calls (its ops' syscalls): it cannot "
			"serve under the sandbox (--sandbox off serves without it)", be->name);
		return NULL;
	}
	return be;
}

/* Which kernel and VDUSE API this run uses: the first thing to ask in a bug report. */
static void log_kernel(void)
{
	struct utsname u;
	uint64_t kernel_max = 0;
	int version = vduse_api_negotiate(&kernel_max);

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "(unknown)");
	if (version < 0)
		log_info("kernel %s, VDUSE API version unknown: %s", u.release, strerror(-version));
	else
		log_info("kernel %s, VDUSE API version %d (the kernel offers up to %llu)",
			 u.release, version, (unsigned long long)kernel_max);
}


int daemon_prepare(struct options *o, const struct handover *handover, struct image *img,
		   struct blk_dev *blk)
{
	int r;

	o->be = choose_backend(o);
	if (!o->be)
		return -EINVAL;
	r = prepare_open_image(o, handover->image_fd, img);
	if (r < 0)
		return r;
	r = describe_device(o, img, blk);
	if (r == 0) {
		r = image_fit_direct(img, blk->logical_block_size);
		if (r < 0)
			log_err("reopening image '%s': %s", o->image, strerror(-r));
	}
	if (r < 0) {
		o->be->close(img);
		return r;
	}
	if (r > 0)
		log_warn("%s: '%s' needs %u-byte aligned direct I/O but the device's blocks "
			 "are %u bytes: serving it through the page cache instead (--block-size %u "
			 "keeps O_DIRECT)",
			 o->is_direct ? "--direct" : "O_DIRECT (a block device's default)",
			 o->image, img->dio_offset_align, blk->logical_block_size,
			 img->dio_offset_align);
	if (handover->dev_fd < 0)
		log_kernel();
	return 0;
}
