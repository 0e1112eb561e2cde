// SPDX-License-Identifier: GPL-2.0-or-later
/* The fake VDUSE kernel of fuzz_ctrl; see fake_vduse.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_vduse.h"
#include "log.h"
#include "virtio/mem.h"
#include "vduse/dev.h"

struct fake_vduse fake = { .memfd = -1, .sock = { -1, -1 }, .lock = PTHREAD_MUTEX_INITIALIZER };
bool fake_verbose;

/* What --wrap links the daemon's calls to, and the real ones. */
int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len);
void __wrap_log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void __wrap_log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&fake.nr_log, 1, __ATOMIC_RELAXED);
	if (!fake_verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "vduse-blkd[%d]: ", (int)level);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

int __wrap_open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (strcmp(path, VDUSE_CONTROL_PATH) == 0)
		return __real_open64("/dev/null", O_RDWR | O_CLOEXEC);
	if (strcmp(path, VDUSE_DEV_DIR "/" DEV_NAME) == 0) {
		check(fake.is_created && fake.sock[0] < 0);
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fake.sock) < 0)
			return -1;
		return fake.sock[0];
	}
	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return __real_open64(path, flags, mode);
}

const struct kmap *fake_kmap_find(uint64_t start, uint64_t last)
{
	for (unsigned int i = 0; i < fake.nr_maps; i++)
		if (fake.maps[i].start <= last && start <= fake.maps[i].last)
			return &fake.maps[i];
	return NULL;
}

static int iotlb_get_fd(struct vduse_iotlb_entry *e)
{
	const struct kmap *m;
	int fd;

	pthread_mutex_lock(&fake.lock);
	m = fake_kmap_find(e->start, e->last);
	if (!m) {
		pthread_mutex_unlock(&fake.lock);
		errno = EINVAL;
		return -1;
	}
	e->start = m->start;
	e->last = m->last;
	e->offset = m->start - GUEST_IOVA;
	e->perm = (uint8_t)m->perm;
	fd = fcntl(fake.memfd, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0 && fake.nr_handed < 16)
		fake.handed_fds[fake.nr_handed++] = fd;
	pthread_mutex_unlock(&fake.lock);
	return fd;
}

static int dev_ioctl(int fd, unsigned long req, void *arg)
{
	switch (req) {
	case VDUSE_VQ_SETUP:
		check(((struct vduse_vq_config *)arg)->index < fake.nr_queues);
		check(((struct vduse_vq_config *)arg)->max_size == QUEUE_SIZE);
		return 0;
	case VDUSE_DEV_GET_FEATURES:
		*(uint64_t *)arg = fake.driver_features;
		return 0;
	case VDUSE_VQ_GET_INFO: {
		struct vduse_vq_info *info = arg;
		struct kvq *v;

		check(info->index < fake.nr_queues);
		v = &fake.vq[info->index];
		info->num = v->num;
		info->desc_addr = v->desc;
		info->driver_addr = v->driver;
		info->device_addr = v->device;
		info->split.avail_index = v->avail_index;
		info->ready = v->is_ready;
		return 0;
	}
	case VDUSE_VQ_SETUP_KICKFD: {
		struct vduse_vq_eventfd *e = arg;

		check(e->index < fake.nr_queues);
		check(e->fd == VDUSE_EVENTFD_DEASSIGN || e->fd >= 0);
		fake.vq[e->index].kick_fd = e->fd;
		return 0;
	}
	case VDUSE_VQ_INJECT_IRQ: {
		uint32_t index = *(uint32_t *)arg;

		check(index < fake.nr_queues);
		check(__atomic_load_n(&fake.vq[index].kick_fd, __ATOMIC_RELAXED) >= 0);
		__atomic_add_fetch(&fake.nr_irqs[index], 1, __ATOMIC_RELAXED);
		return 0;
	}
	case VDUSE_IOTLB_GET_FD:
		return iotlb_get_fd(arg);
	default:
		(void)fd;
		errno = ENOTTY;
		return -1;
	}
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (req) {
	case VDUSE_GET_API_VERSION:
		/* A newer kernel than the daemon implements (7.x offers 1). */
		*(uint64_t *)arg = VDUSE_DEV_API_VERSION + 1;
		return 0;
	case VDUSE_SET_API_VERSION:
		/* The daemon settles on the version it implements. */
		check(*(uint64_t *)arg == VDUSE_DEV_API_VERSION);
		return 0;
	case VDUSE_CREATE_DEV:
		check(!fake.is_created);
		check(strcmp(((struct vduse_dev_config *)arg)->name, DEV_NAME) == 0);
		check(((struct vduse_dev_config *)arg)->vq_num == fake.nr_queues);
		fake.is_created = true;
		return 0;
	case VDUSE_DESTROY_DEV:
		check(fake.is_created && strcmp(arg, DEV_NAME) == 0);
		fake.is_created = false;
		return 0;
	case VDUSE_VQ_SETUP:
	case VDUSE_DEV_GET_FEATURES:
	case VDUSE_VQ_GET_INFO:
	case VDUSE_VQ_SETUP_KICKFD:
	case VDUSE_VQ_INJECT_IRQ:
	case VDUSE_IOTLB_GET_FD:
		/* Only on the device's fd. */
		check(fake.sock[0] >= 0 && fd == fake.sock[0]);
		return dev_ioctl(fd, req, arg);
	default:
		return __real_ioctl(fd, req, arg);
	}
}

void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = __real_mmap64(addr, len, prot, flags, fd, off);

	pthread_mutex_lock(&fake.lock);
	for (unsigned int i = 0; i < fake.nr_handed; i++) {
		if (fake.handed_fds[i] != fd)
			continue;
		fake.handed_fds[i] = fake.handed_fds[--fake.nr_handed];
		if (p != MAP_FAILED) {
			check(fake.nr_mmaps < 64);
			fake.mmaps[fake.nr_mmaps].addr = p;
			fake.mmaps[fake.nr_mmaps++].len = len;
		}
		break;
	}
	pthread_mutex_unlock(&fake.lock);
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	pthread_mutex_lock(&fake.lock);
	for (unsigned int i = 0; i < fake.nr_mmaps; i++) {
		if (fake.mmaps[i].addr != addr)
			continue;
		check(fake.mmaps[i].len == len);
		fake.mmaps[i] = fake.mmaps[--fake.nr_mmaps];
		break;
	}
	pthread_mutex_unlock(&fake.lock);
	return __real_munmap(addr, len);
}

void fake_vduse_init(void)
{
	fake.memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	check(fake.memfd >= 0);
	check(ftruncate(fake.memfd, MEMFD_BYTES) == 0);
	fake.mem = __real_mmap64(NULL, MEMFD_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fake.memfd, 0);
	check(fake.mem != MAP_FAILED);
}
