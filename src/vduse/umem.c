// SPDX-License-Identifier: GPL-2.0-or-later
/* VDUSE's bounce buffer in the daemon's own memory; see umem.h. */
#include <errno.h>
#include <linux/vduse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "log.h"
#include "vduse/umem.h"
#include "util.h"

/* Registered memory: the bounce buffer's pages while registered, ours once let go. */
struct vduse_umem_buf {
	struct iotlb_backing backing;  /* one reference per region, one while registered */
	struct vduse_umem *owner;
	uint8_t *host;
	uint64_t iova;
	uint64_t bytes;
};

static void buf_release(struct iotlb_backing *b)
{
	struct vduse_umem_buf *buf = container_of(b, struct vduse_umem_buf, backing);

	munmap(buf->host, buf->bytes);
	free(buf);
}

static int dereg(int dev_fd, uint64_t iova, uint64_t bytes)
{
	struct vduse_iova_umem um = { .iova = iova, .size = bytes };

	return ioctl(dev_fd, VDUSE_IOTLB_DEREG_UMEM, &um) < 0 ? -errno : 0;
}

/* Deregister u->buf, if any; called with u->lock held.  The buffer lives on for its regions. */
static void unregister(struct vduse_umem *u)
{
	struct vduse_umem_buf *buf = u->buf;

	if (!buf)
		return;
	dereg(u->dev_fd, buf->iova, buf->bytes);
	u->buf = NULL;
	iotlb_backing_put(&buf->backing);
}

/*
 * An abandoned queue may still READ into the buffer: once deregistered, the
 * pages are ours alone, and the kernel bounces through its own again.
 */
static int buf_detach(struct iotlb_backing *b)
{
	struct vduse_umem_buf *buf = container_of(b, struct vduse_umem_buf, backing);
	struct vduse_umem *u = buf->owner;

	pthread_mutex_lock(&u->lock);
	if (u->buf == buf)
		unregister(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void vduse_umem_init(struct vduse_umem *u, bool is_wanted)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->dev_fd = -1;
	u->is_wanted = is_wanted;
}

static void refuse(struct vduse_umem *u, const char *what, int err)
{
	struct rlimit rl = { 0, 0 };

	u->is_refused = true;
	u->last_err = err;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (err == -ENOMEM)
		log_warn("--direct: the kernel refused the daemon's memory as VDUSE's bounce buffer "
			 "(%s: %s; the locked-memory limit is %llu KiB: raise it, e.g. "
			 "LimitMEMLOCK= in the unit): O_DIRECT goes through the kernel's pages",
			 what, strerror(-err), (unsigned long long)rl.rlim_cur / 1024);
	else
		log_warn("--direct: the kernel refused the daemon's memory as VDUSE's bounce buffer "
			 "(%s: %s): O_DIRECT goes through the kernel's pages", what,
			 strerror(-err));
}

/* Register new memory for [iova, iova + bytes); called with u->lock held. */
static int register_new(struct vduse_umem *u, uint64_t iova, uint64_t bytes)
{
	struct vduse_umem_buf *buf = calloc(1, sizeof(*buf));
	struct vduse_iova_umem um;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	buf->host = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf->host == MAP_FAILED) {
		r = -errno;
		free(buf);
		return r;
	}
	/* Fewer TLB misses for a buffer touched all over; no copy in a child. */
	madvise(buf->host, bytes, MADV_HUGEPAGE);
	madvise(buf->host, bytes, MADV_DONTFORK);
	um = (struct vduse_iova_umem){ .uaddr = (uintptr_t)buf->host, .iova = iova, .size = bytes };
	for (int tries = 0; tries < 2; tries++) {
		r = ioctl(u->dev_fd, VDUSE_IOTLB_REG_UMEM, &um) < 0 ? -errno : 0;
		/* Memory of a previous binary, left registered across its exec: ours now. */
		if (r == -EEXIST && dereg(u->dev_fd, iova, bytes) == 0)
			continue;
		break;
	}
	if (r < 0) {
		munmap(buf->host, bytes);
		free(buf);
		return r;
	}
	buf->backing = (struct iotlb_backing){ .refs = 1, .release = buf_release,
					       .detach = buf_detach };
	buf->owner = u;
	buf->iova = iova;
	buf->bytes = bytes;
	u->buf = buf;
	u->nr_registered++;
	return 0;
}

int vduse_umem_adopt(struct vduse_umem *u, int dev_fd, uint64_t start, uint64_t last,
		     unsigned int perm, uint8_t **ret_host, struct iotlb_backing **ret_backing)
{
	struct vduse_iova_info info = { .start = start, .last = last };
	int r = 0;

	if (!u->is_wanted || perm != (MEM_READ | MEM_WRITE))
		return 0;
	pthread_mutex_lock(&u->lock);
	if (u->is_refused)
		goto out;
	u->dev_fd = dev_fd;
	/* The bounce buffer is the one range that may take our memory. */
	if (ioctl(dev_fd, VDUSE_IOTLB_GET_INFO, &info) < 0) {
		refuse(u, "VDUSE_IOTLB_GET_INFO", -errno);
		goto out;
	}
	if (!(info.capability & VDUSE_IOVA_CAP_UMEM) || info.start != start || info.last != last)
		goto out;
	if (!u->buf) {
		r = register_new(u, start, last - start + 1);
		if (r < 0) {
			refuse(u, "VDUSE_IOTLB_REG_UMEM", r);
			r = 0;
			goto out;
		}
		log_info("--direct: VDUSE's bounce buffer (%llu MiB) is the daemon's own memory: "
			 "O_DIRECT reads and writes it in place",
			 (unsigned long long)(last - start + 1) >> 20);
	}
	if (u->buf->iova != start || u->buf->bytes != last - start + 1)
		goto out;   /* not the range registered: the kernel maps it */
	*ret_host = u->buf->host;
	*ret_backing = iotlb_backing_get(&u->buf->backing);
	r = 1;
out:
	pthread_mutex_unlock(&u->lock);
	return r;
}

void vduse_umem_release(struct vduse_umem *u, struct iotlb *tlb)
{
	uint64_t iova = 0, bytes = 0;

	pthread_mutex_lock(&u->lock);
	if (u->buf) {
		iova = u->buf->iova;
		bytes = u->buf->bytes;
		unregister(u);
	}
	pthread_mutex_unlock(&u->lock);
	if (bytes)
		iotlb_invalidate(tlb, iova, iova + bytes - 1);
}

void vduse_umem_forget(int dev_fd)
{
	struct vduse_iova_info info = { .start = 0, .last = 0 };

	/* Only the bounce buffer takes user memory, and it starts at IOVA 0. */
	if (ioctl(dev_fd, VDUSE_IOTLB_GET_INFO, &info) == 0 &&
	    (info.capability & VDUSE_IOVA_CAP_UMEM))
		dereg(dev_fd, info.start, info.last - info.start + 1);
}

/* The device's bounce_size (sysfs, Linux 6.4+), or VDUSE's default before that. */
static uint64_t bounce_bytes_of(const char *name)
{
	unsigned long long v = 0;
	char path[64 + VDUSE_NAME_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/vduse/%s/bounce_size", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? v : 64u << 20;
}

int vduse_umem_reserve(const char *name)
{
	/* Room beside the bounce buffer for what else the daemon locks. */
	rlim_t need = (rlim_t)bounce_bytes_of(name) + (16u << 20);
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;   /* needs CAP_SYS_RESOURCE */
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_MEMLOCK, &rl) < 0 ? -errno : 0;
}

void vduse_umem_exit(struct vduse_umem *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	if (u->dev_fd >= 0)
		unregister(u);
	pthread_mutex_unlock(&u->lock);
	pthread_mutex_destroy(&u->lock);
}
