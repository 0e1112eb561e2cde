// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A userspace virtio driver on /dev/vhost-vdpa-N (see vdrv.h).
 *
 * The order of calls follows what vhost-vdpa (drivers/vhost/vdpa.c) needs:
 * VHOST_SET_OWNER before anything touching the IOTLB or the vrings; backend
 * features before the first IOTLB message; features before FEATURES_OK and
 * before the vring base; rings mapped and enabled before DRIVER_OK (VDUSE
 * drops kicks to a queue that is not ready, and the daemon starts only the
 * queues that are ready when it sees DRIVER_OK).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>

#include "vdrv.h"

#define ARENA_ALIGN_MIN 16u

static int fail(struct vdrv *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct vdrv *d, int r, const char *fmt, ...)
{
	char what[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(d->err, sizeof(d->err), "%s: %s", what, strerror(-r));
	return r;
}

static int xioctl(struct vdrv *d, unsigned long req, void *arg, const char *name)
{
	if (ioctl(d->fd, req, arg) < 0)
		return fail(d, -errno, "%s", name);
	return 0;
}

const char *vdrv_err(const struct vdrv *d)
{
	return d->err[0] ? d->err : "no error";
}

int vdrv_open(struct vdrv *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->mem.fd = -1;
	d->vq.kick_fd = -1;
	d->vq.call_fd = -1;
	d->path = path;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return fail(d, -errno, "opening %s", path);
	return xioctl(d, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
}

static void vq_free(struct vdrv_vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	vq->kick_fd = vq->call_fd = -1;
	free(vq->free_stack);
	free(vq->next);
	free(vq->chain_len);
	free(vq->owner);
	free(vq->pend_pos);
	free(vq->pend_flags);
	free(vq->pend_id);
	vq->free_stack = vq->next = vq->chain_len = NULL;
	vq->pend_pos = vq->pend_flags = vq->pend_id = NULL;
	vq->owner = NULL;
}

void vdrv_vq_forget(struct vdrv *d)
{
	vq_free(&d->vq);
	d->vq = (struct vdrv_vq){ .kick_fd = -1, .call_fd = -1 };
}

void vdrv_close(struct vdrv *d)
{
	if (!d)
		return;
	if (d->fd >= 0) {
		uint8_t status = 0;

		ioctl(d->fd, VHOST_VDPA_SET_STATUS, &status);
		close(d->fd);
	}
	d->fd = -1;
	vq_free(&d->vq);
	vdrv_mem_destroy(&d->mem);
}

int vdrv_probe(struct vdrv *d)
{
	uint64_t offered = 0, want;
	int r;

	/* Handled before the device mutex; no owner check. */
	r = xioctl(d, VHOST_GET_BACKEND_FEATURES, &offered, "VHOST_GET_BACKEND_FEATURES");
	if (r < 0)
		return r;
	want = offered & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2 |
			  1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
	r = xioctl(d, VHOST_SET_BACKEND_FEATURES, &want, "VHOST_SET_BACKEND_FEATURES");
	if (r < 0)
		return r;
	d->backend_features = want;
	r = xioctl(d, VHOST_VDPA_GET_DEVICE_ID, &d->device_id, "VHOST_VDPA_GET_DEVICE_ID");
	if (r < 0)
		return r;
	r = xioctl(d, VHOST_GET_FEATURES, &d->dev_features, "VHOST_GET_FEATURES");
	if (r < 0)
		return r;
	r = xioctl(d, VHOST_VDPA_GET_VRING_NUM, &d->max_vring_num, "VHOST_VDPA_GET_VRING_NUM");
	if (r < 0)
		return r;
	/* Newer calls: fall back when the kernel lacks them. */
	if (ioctl(d->fd, VHOST_VDPA_GET_CONFIG_SIZE, &d->config_size) < 0)
		d->config_size = 0;
	if (ioctl(d->fd, VHOST_VDPA_GET_VQS_COUNT, &d->nr_vqs) < 0)
		d->nr_vqs = 0;
	if (ioctl(d->fd, VHOST_VDPA_GET_IOVA_RANGE, &d->iova_range) < 0)
		d->iova_range = (struct vhost_vdpa_iova_range){ .first = 0, .last = UINT64_MAX };
	return 0;
}

int vdrv_get_config(struct vdrv *d, uint32_t off, void *buf, uint32_t len)
{
	struct vhost_vdpa_config *c = calloc(1, sizeof(*c) + len);
	int r;

	if (!c)
		return fail(d, -ENOMEM, "VHOST_VDPA_GET_CONFIG");
	c->off = off;
	c->len = len;
	r = xioctl(d, VHOST_VDPA_GET_CONFIG, c, "VHOST_VDPA_GET_CONFIG");
	if (r == 0)
		memcpy(buf, c->buf, len);
	free(c);
	return r;
}

int vdrv_get_status(struct vdrv *d, uint8_t *ret_status)
{
	return xioctl(d, VHOST_VDPA_GET_STATUS, ret_status, "VHOST_VDPA_GET_STATUS");
}

int vdrv_set_status(struct vdrv *d, uint8_t status)
{
	return xioctl(d, VHOST_VDPA_SET_STATUS, &status, "VHOST_VDPA_SET_STATUS");
}

int vdrv_add_status(struct vdrv *d, uint8_t bits)
{
	uint8_t old, now;
	int r;

	r = vdrv_get_status(d, &old);
	if (r == 0)
		r = vdrv_set_status(d, old | bits);
	if (r == 0)
		r = vdrv_get_status(d, &now);
	if (r < 0)
		return r;
	if ((now & bits) != bits) {
		snprintf(d->err, sizeof(d->err),
			 "status 0x%02x -> 0x%02x did not stick: the device reports 0x%02x",
			 old, old | bits, now);
		return -EIO;
	}
	return 0;
}

int vdrv_set_features(struct vdrv *d, uint64_t features)
{
	int r = xioctl(d, VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES");

	if (r < 0)
		return r;
	d->features = features;
	return vdrv_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
}

/* --- memory and IOTLB ------------------------------------------------------ */

int vdrv_mem_create(struct vdrv_mem *m, uint64_t iova, size_t bytes)
{
	void *p;

	m->fd = memfd_create("vhost-blk-test", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)bytes) < 0)
		goto fail;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	m->host = p;
	m->iova = iova;
	m->bytes = bytes;
	return 0;
fail:
	{
		int r = -errno;

		close(m->fd);
		m->fd = -1;
		return r;
	}
}

void vdrv_mem_destroy(struct vdrv_mem *m)
{
	if (m->host)
		munmap(m->host, m->bytes);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->fd = -1;
}

/*
 * One IOTLB message.  vhost_chr_write_iter() answers any failure of the
 * message handler with EFAULT, so errno says little: see dmesg.
 */
static int iotlb_msg(struct vdrv *d, const struct vhost_iotlb_msg *m, const char *name)
{
	ssize_t n;

	if (d->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2)) {
		struct vhost_msg_v2 msg = { .type = VHOST_IOTLB_MSG_V2, .iotlb = *m };

		n = write(d->fd, &msg, sizeof(msg));
		if (n == (ssize_t)sizeof(msg))
			return 0;
	} else {
		struct vhost_msg msg = { .type = VHOST_IOTLB_MSG, .iotlb = *m };

		n = write(d->fd, &msg, sizeof(msg));
		if (n == (ssize_t)sizeof(msg))
			return 0;
	}
	return fail(d, n < 0 ? -errno : -EIO, "%s iova 0x%llx size 0x%llx", name,
		    (unsigned long long)m->iova, (unsigned long long)m->size);
}

int vdrv_iotlb_update(struct vdrv *d, uint64_t iova, uint64_t size, void *uaddr, uint8_t perm)
{
	struct vhost_iotlb_msg m = {
		.iova = iova, .size = size, .uaddr = (uint64_t)(uintptr_t)uaddr,
		.perm = perm, .type = VHOST_IOTLB_UPDATE,
	};

	return iotlb_msg(d, &m, "IOTLB update");
}

int vdrv_iotlb_invalidate(struct vdrv *d, uint64_t iova, uint64_t size)
{
	struct vhost_iotlb_msg m = { .iova = iova, .size = size, .type = VHOST_IOTLB_INVALIDATE };

	return iotlb_msg(d, &m, "IOTLB invalidate");
}

int vdrv_iotlb_batch(struct vdrv *d, bool is_begin)
{
	struct vhost_iotlb_msg m = {
		.type = is_begin ? VHOST_IOTLB_BATCH_BEGIN : VHOST_IOTLB_BATCH_END,
	};

	if (!(d->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_BATCH)))
		return 0;
	return iotlb_msg(d, &m, is_begin ? "IOTLB batch begin" : "IOTLB batch end");
}

int vdrv_map_mem(struct vdrv *d, uint64_t iova, size_t bytes)
{
	int r = vdrv_mem_create(&d->mem, iova, bytes);

	if (r < 0)
		return fail(d, r, "memfd of %zu bytes", bytes);
	d->arena_next = VDRV_ARENA_OFF;
	r = vdrv_iotlb_batch(d, true);
	if (r == 0)
		r = vdrv_iotlb_update(d, iova, bytes, d->mem.host, VHOST_ACCESS_RW);
	if (r == 0)
		r = vdrv_iotlb_batch(d, false);
	return r;
}

uint64_t vdrv_iova_of(const struct vdrv *d, uint64_t off)
{
	return d->mem.iova + off;
}

void *vdrv_ptr(const struct vdrv *d, uint64_t off)
{
	return d->mem.host + off;
}

uint64_t vdrv_alloc(struct vdrv *d, uint64_t bytes, uint64_t align)
{
	uint64_t off;

	if (align < ARENA_ALIGN_MIN)
		align = ARENA_ALIGN_MIN;
	off = (d->arena_next + align - 1) & ~(align - 1);
	if (off > d->mem.bytes || bytes > d->mem.bytes - off)
		return 0;
	d->arena_next = off + bytes;
	return off;
}

void vdrv_arena_reset(struct vdrv *d)
{
	d->arena_next = VDRV_ARENA_OFF;
}

/* --- the virtqueue --------------------------------------------------------- */

void vdrv_vq_rebind(struct vdrv *d)
{
	d->vq.desc = vdrv_ptr(d, VDRV_DESC_OFF);
	d->vq.avail = vdrv_ptr(d, VDRV_AVAIL_OFF);
	d->vq.used = vdrv_ptr(d, VDRV_USED_OFF);
	d->vq.pdesc = vdrv_ptr(d, VDRV_DESC_OFF);
	d->vq.driver_event = vdrv_ptr(d, VDRV_AVAIL_OFF);
	d->vq.device_event = vdrv_ptr(d, VDRV_USED_OFF);
}

static uint16_t *used_event(struct vdrv_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event(struct vdrv_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

int vdrv_vq_setup(struct vdrv *d, uint16_t index, uint16_t num)
{
	struct vdrv_vq *vq = &d->vq;
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	int r;

	vq->is_packed = d->features & (1ULL << VIRTIO_F_RING_PACKED);
	if (!num || (!vq->is_packed && (num & (num - 1))) || num > VDRV_MAX_NUM)
		return fail(d, -EINVAL, "queue size %u (%s up to %u)", num,
			    vq->is_packed ? "at least 1" : "a power of two", VDRV_MAX_NUM);
	vq->index = index;
	vq->num = num;
	vq->has_event_idx = d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vdrv_vq_rebind(d);
	memset(vq->desc, 0, VDRV_ARENA_OFF);
	vq->free_stack = calloc(num, sizeof(*vq->free_stack));
	vq->next = calloc(num, sizeof(*vq->next));
	vq->chain_len = calloc(num, sizeof(*vq->chain_len));
	vq->owner = calloc(num, sizeof(*vq->owner));
	vq->pend_pos = calloc(num, sizeof(*vq->pend_pos));
	vq->pend_flags = calloc(num, sizeof(*vq->pend_flags));
	vq->pend_id = calloc(num, sizeof(*vq->pend_id));
	if (!vq->free_stack || !vq->next || !vq->chain_len || !vq->owner || !vq->pend_pos ||
	    !vq->pend_flags || !vq->pend_id)
		return fail(d, -ENOMEM, "queue %u", index);
	for (unsigned int i = 0; i < num; i++)
		vq->free_stack[i] = (uint16_t)(num - 1 - i);
	vq->nr_free = num;
	vq->nr_ids = num;
	/* Packed: both wrap counters start at 1; ask for interrupts at the first used slot. */
	vq->avail_wrap = vq->pub_wrap = vq->used_wrap = true;
	if (vq->is_packed && vq->has_event_idx) {
		vq->driver_event->off_wrap = htole16(1u << VRING_PACKED_EVENT_F_WRAP_CTR);
		vq->driver_event->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
	}
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0 || vq->call_fd < 0)
		return fail(d, -errno, "eventfd");

	s = (struct vhost_vring_state){ .index = index, .num = num };
	r = xioctl(d, VHOST_SET_VRING_NUM, &s, "VHOST_SET_VRING_NUM");
	if (r < 0)
		return r;
	/*
	 * Split ring: num is the next avail index the device will read.  Packed:
	 * last_avail_idx | wrap << 15 in the low half, the used one in the high.
	 */
	s = (struct vhost_vring_state){ .index = index, .num = 0 };
	if (vq->is_packed)
		s.num = 1u << 15 | 1u << 31;
	r = xioctl(d, VHOST_SET_VRING_BASE, &s, "VHOST_SET_VRING_BASE");
	if (r < 0)
		return r;
	/* With ACCESS_PLATFORM these are IOVAs; vhost-vdpa passes them through as is. */
	a = (struct vhost_vring_addr){
		.index = index,
		.desc_user_addr = vdrv_iova_of(d, VDRV_DESC_OFF),
		.avail_user_addr = vdrv_iova_of(d, VDRV_AVAIL_OFF),
		.used_user_addr = vdrv_iova_of(d, VDRV_USED_OFF),
	};
	r = xioctl(d, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR");
	if (r < 0)
		return r;
	f = (struct vhost_vring_file){ .index = index, .fd = vq->kick_fd };
	r = xioctl(d, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK");
	if (r < 0)
		return r;
	f = (struct vhost_vring_file){ .index = index, .fd = vq->call_fd };
	r = xioctl(d, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL");
	if (r < 0)
		return r;
	s = (struct vhost_vring_state){ .index = index, .num = 1 };
	return xioctl(d, VHOST_VDPA_SET_VRING_ENABLE, &s, "VHOST_VDPA_SET_VRING_ENABLE");
}

static void set_desc(struct vring_desc *dst, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	dst->addr = htole64(addr);
	dst->len = htole32(len);
	dst->flags = htole16(flags);
	dst->next = htole16(next);
}

/* --- packed rings (virtio 1.2, 2.8) --------------------------------------------- */

static uint16_t avail_flags(bool wrap)
{
	return wrap ? 1u << VRING_PACKED_DESC_F_AVAIL : 1u << VRING_PACKED_DESC_F_USED;
}

static void set_pdesc(struct vring_packed_desc *dst, uint64_t addr, uint32_t len, uint16_t id)
{
	dst->addr = htole64(addr);
	dst->len = htole32(len);
	dst->id = htole16(id);
}

/*
 * The chain takes ring slots from next_avail on, every descriptor with the
 * buffer id; the head's flags, which make it available, wait for publish.
 */
static int add_chain_packed(struct vdrv *d, const struct vdrv_buf *bufs, unsigned int nr,
			    bool is_indirect, void *owner)
{
	struct vdrv_vq *vq = &d->vq;
	unsigned int need = is_indirect ? 1 : nr;
	uint16_t pos = vq->next_avail, id, head_flags = 0;
	bool wrap = vq->avail_wrap;

	if (!nr || need > vq->nr_free || !vq->nr_ids)
		return -ENOSPC;
	if (is_indirect) {
		uint64_t table = vdrv_alloc(d, 16ULL * nr, 16);
		struct vring_packed_desc *t;

		if (!table)
			return -ENOSPC;
		t = vdrv_ptr(d, table);
		/* An indirect table: only WRITE in its flags, no NEXT, ids ignored. */
		for (unsigned int i = 0; i < nr; i++) {
			set_pdesc(&t[i], vdrv_iova_of(d, bufs[i].off), bufs[i].len, 0);
			t[i].flags = htole16(bufs[i].is_dev_write ? VRING_DESC_F_WRITE : 0);
		}
		id = vq->free_stack[--vq->nr_ids];
		set_pdesc(&vq->pdesc[pos], vdrv_iova_of(d, table), 16 * nr, id);
		head_flags = VRING_DESC_F_INDIRECT | avail_flags(wrap);
		if (++pos == vq->num) {
			pos = 0;
			wrap = !wrap;
		}
	} else {
		id = vq->free_stack[--vq->nr_ids];
		for (unsigned int i = 0; i < nr; i++) {
			uint16_t flags = (bufs[i].is_dev_write ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < nr ? VRING_DESC_F_NEXT : 0) | avail_flags(wrap);

			set_pdesc(&vq->pdesc[pos], vdrv_iova_of(d, bufs[i].off), bufs[i].len, id);
			if (i == 0)
				head_flags = flags;
			else
				vq->pdesc[pos].flags = htole16(flags);
			if (++pos == vq->num) {
				pos = 0;
				wrap = !wrap;
			}
		}
	}
	vq->pend_pos[vq->nr_pend] = vq->next_avail;
	vq->pend_flags[vq->nr_pend] = head_flags;
	vq->pend_id[vq->nr_pend] = id;
	vq->nr_pend++;
	vq->next_avail = pos;
	vq->avail_wrap = wrap;
	vq->nr_free -= (uint16_t)need;
	vq->chain_len[id] = (uint16_t)need;
	vq->owner[id] = owner ? owner : (void *)vq;
	vq->avail_idx++;
	return id;
}

static void drop_unpublished_packed(struct vdrv_vq *vq)
{
	for (uint16_t i = 0; i < vq->nr_pend; i++) {
		uint16_t id = vq->pend_id[i];

		vq->nr_free += vq->chain_len[id];
		vq->owner[id] = NULL;
		vq->free_stack[vq->nr_ids++] = id;
		vq->avail_idx--;
	}
	vq->nr_pend = 0;
	vq->next_avail = vq->pub_avail;
	vq->avail_wrap = vq->pub_wrap;
}

/* Ask for an interrupt once the device has used the slot we read next. */
static void arm_used_event_packed(struct vdrv_vq *vq)
{
	if (vq->has_event_idx)
		__atomic_store_n(&vq->driver_event->off_wrap,
				 htole16(vq->next_used | (uint16_t)vq->used_wrap << VRING_PACKED_EVENT_F_WRAP_CTR),
				 __ATOMIC_RELAXED);
}

static bool publish_packed(struct vdrv *d)
{
	struct vdrv_vq *vq = &d->vq;
	uint16_t num_added = (uint16_t)(vq->next_avail - vq->pub_avail +
					(vq->next_avail < vq->pub_avail ||
					 (vq->next_avail == vq->pub_avail && vq->avail_wrap != vq->pub_wrap)
					 ? vq->num : 0));
	uint16_t new = vq->next_avail, old = (uint16_t)(new - num_added), flags, off_wrap, event;
	bool need;

	for (uint16_t i = 0; i < vq->nr_pend; i++)
		__atomic_store_n(&vq->pdesc[vq->pend_pos[i]].flags, htole16(vq->pend_flags[i]),
				 __ATOMIC_RELEASE);
	vq->nr_pend = 0;
	arm_used_event_packed(vq);
	/* The device stores its event then reads the descriptors; we do the reverse. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = le16toh(__atomic_load_n(&vq->device_event->flags, __ATOMIC_RELAXED));
	off_wrap = le16toh(__atomic_load_n(&vq->device_event->off_wrap, __ATOMIC_RELAXED));
	if (vq->is_always_kick) {
		need = true;
	} else if (flags != VRING_PACKED_EVENT_FLAG_DESC) {
		need = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	} else {
		event = off_wrap & ~(1u << VRING_PACKED_EVENT_F_WRAP_CTR);
		if (!!(off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR) != vq->avail_wrap)
			event = (uint16_t)(event - vq->num);
		need = vring_need_event(event, new, old);
	}
	vq->pub_avail = vq->next_avail;
	vq->pub_wrap = vq->avail_wrap;
	vq->published_idx = vq->avail_idx;
	if (!need) {
		vq->nr_kicks_suppressed++;
		return false;
	}
	return vdrv_kick(d) == 0;
}

static bool is_used_packed(const struct vdrv_vq *vq, uint16_t *ret_flags)
{
	uint16_t flags = le16toh(__atomic_load_n(&vq->pdesc[vq->next_used].flags, __ATOMIC_ACQUIRE));
	bool avail = flags & (1u << VRING_PACKED_DESC_F_AVAIL);
	bool used = flags & (1u << VRING_PACKED_DESC_F_USED);

	if (ret_flags)
		*ret_flags = flags;
	return avail == used && used == vq->used_wrap;
}

static int get_used_packed(struct vdrv *d, struct vdrv_used *ret)
{
	struct vdrv_vq *vq = &d->vq;
	struct vring_packed_desc e;
	uint16_t need;

	if (!is_used_packed(vq, NULL))
		return 0;
	/* Read the descriptor once, after its flags (acquire). */
	memcpy(&e, &vq->pdesc[vq->next_used], sizeof(e));
	ret->id = le16toh(e.id);
	ret->len = le32toh(e.len);
	ret->owner = NULL;
	if (ret->id >= vq->num || !vq->owner[ret->id])
		return -EPROTO;
	ret->owner = vq->owner[ret->id] == (void *)vq ? NULL : vq->owner[ret->id];
	need = vq->chain_len[ret->id];
	vq->next_used = (uint16_t)(vq->next_used + need);
	if (vq->next_used >= vq->num) {
		vq->next_used = (uint16_t)(vq->next_used - vq->num);
		vq->used_wrap = !vq->used_wrap;
	}
	vq->last_used++;
	vq->nr_free = (uint16_t)(vq->nr_free + need);
	vq->owner[ret->id] = NULL;
	vq->free_stack[vq->nr_ids++] = (uint16_t)ret->id;
	return 1;
}

uint16_t vdrv_packed_pos(const struct vdrv *d, bool is_used)
{
	const struct vdrv_vq *vq = &d->vq;

	if (is_used)
		return vq->next_used | (uint16_t)vq->used_wrap << 15;
	return vq->pub_avail | (uint16_t)vq->pub_wrap << 15;
}

/* --- split rings --------------------------------------------------------------- */

int vdrv_add_chain(struct vdrv *d, const struct vdrv_buf *bufs, unsigned int nr,
		   bool is_indirect, void *owner)
{
	struct vdrv_vq *vq = &d->vq;
	unsigned int need = is_indirect ? 1 : nr;
	uint16_t head = 0, prev = 0;

	if (vq->is_packed)
		return add_chain_packed(d, bufs, nr, is_indirect, owner);
	if (!nr || need > vq->nr_free)
		return -ENOSPC;
	if (is_indirect) {
		uint64_t table = vdrv_alloc(d, 16ULL * nr, 16);
		struct vring_desc *t;

		if (!table)
			return -ENOSPC;
		t = vdrv_ptr(d, table);
		for (unsigned int i = 0; i < nr; i++)
			set_desc(&t[i], vdrv_iova_of(d, bufs[i].off), bufs[i].len,
				 (bufs[i].is_dev_write ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < nr ? VRING_DESC_F_NEXT : 0),
				 (uint16_t)(i + 1 < nr ? i + 1 : 0));
		head = vq->free_stack[--vq->nr_free];
		set_desc(&vq->desc[head], vdrv_iova_of(d, table), 16 * nr, VRING_DESC_F_INDIRECT, 0);
		vq->next[head] = head;
	} else {
		for (unsigned int i = 0; i < nr; i++) {
			uint16_t k = vq->free_stack[--vq->nr_free];

			if (i == 0)
				head = k;
			else
				vq->next[prev] = k;
			prev = k;
		}
		prev = head;
		for (unsigned int i = 0; i < nr; i++) {
			bool has_next = i + 1 < nr;

			set_desc(&vq->desc[prev], vdrv_iova_of(d, bufs[i].off), bufs[i].len,
				 (bufs[i].is_dev_write ? VRING_DESC_F_WRITE : 0) |
				 (has_next ? VRING_DESC_F_NEXT : 0),
				 has_next ? vq->next[prev] : 0);
			prev = vq->next[prev];
		}
	}
	vq->chain_len[head] = (uint16_t)need;
	vq->owner[head] = owner ? owner : (void *)vq;
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
	return head;
}

int vdrv_kick(struct vdrv *d)
{
	uint64_t one = 1;

	if (write(d->vq.kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	d->vq.nr_kicks++;
	return 0;
}

static void free_chain(struct vdrv_vq *vq, uint16_t head)
{
	uint16_t k = head;

	for (unsigned int i = 0; i < vq->chain_len[head]; i++) {
		uint16_t nxt = vq->next[k];

		vq->free_stack[vq->nr_free++] = k;
		k = nxt;
	}
	vq->owner[head] = NULL;
}

void vdrv_drop_unpublished(struct vdrv *d)
{
	struct vdrv_vq *vq = &d->vq;

	if (vq->is_packed) {
		drop_unpublished_packed(vq);
		return;
	}
	while (vq->avail_idx != vq->published_idx) {
		vq->avail_idx--;
		free_chain(vq, le16toh(vq->avail->ring[vq->avail_idx % vq->num]));
	}
}

bool vdrv_publish(struct vdrv *d)
{
	struct vdrv_vq *vq = &d->vq;
	uint16_t old = vq->published_idx, now = vq->avail_idx;
	bool need;

	if (vq->is_packed)
		return publish_packed(d);
	if (vq->has_event_idx)
		__atomic_store_n(used_event(vq), htole16(vq->last_used), __ATOMIC_RELAXED);
	__atomic_store_n(&vq->avail->idx, htole16(now), __ATOMIC_RELEASE);
	/* The device stores its event then reads avail->idx; we do the reverse. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->is_always_kick)
		need = true;
	else if (vq->has_event_idx)
		need = vring_need_event(le16toh(__atomic_load_n(avail_event(vq), __ATOMIC_RELAXED)),
					now, old);
	else
		need = !(le16toh(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	vq->published_idx = now;
	if (!need) {
		vq->nr_kicks_suppressed++;
		return false;
	}
	return vdrv_kick(d) == 0;
}

uint16_t vdrv_used_idx(const struct vdrv *d)
{
	if (d->vq.is_packed)
		return (uint16_t)(d->vq.last_used + is_used_packed(&d->vq, NULL));
	return le16toh(__atomic_load_n(&d->vq.used->idx, __ATOMIC_ACQUIRE));
}

unsigned int vdrv_nr_inflight(const struct vdrv *d)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < d->vq.num; i++)
		n += d->vq.owner[i] != NULL;
	return n;
}

bool vdrv_arm_call(struct vdrv *d)
{
	struct vdrv_vq *vq = &d->vq;

	if (vq->is_packed)
		arm_used_event_packed(vq);
	else if (vq->has_event_idx)
		__atomic_store_n(used_event(vq), htole16(vq->last_used), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vdrv_used_idx(d) != vq->last_used;
}

int vdrv_wait_call(struct vdrv *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->vq.call_fd, .events = POLLIN };
	uint64_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (read(d->vq.call_fd, &n, sizeof(n)) == sizeof(n))
		d->vq.nr_calls++;
	return 0;
}

int vdrv_get_used(struct vdrv *d, struct vdrv_used *ret)
{
	struct vdrv_vq *vq = &d->vq;
	uint16_t idx = vdrv_used_idx(d);
	struct vring_used_elem e;

	if (vq->is_packed)
		return get_used_packed(d, ret);
	if (idx == vq->last_used)
		return 0;
	if ((uint16_t)(idx - vq->last_used) > vq->num) {
		ret->id = UINT32_MAX;
		ret->len = idx;
		ret->owner = NULL;
		return -EPROTO;
	}
	/* Read the element once. */
	memcpy(&e, &vq->used->ring[vq->last_used % vq->num], sizeof(e));
	vq->last_used++;
	ret->id = le32toh(e.id);
	ret->len = le32toh(e.len);
	ret->owner = NULL;
	if (ret->id >= vq->num || !vq->owner[ret->id])
		return -EPROTO;
	ret->owner = vq->owner[ret->id] == (void *)vq ? NULL : vq->owner[ret->id];
	free_chain(vq, (uint16_t)ret->id);
	return 1;
}
