// SPDX-License-Identifier: GPL-2.0-or-later
/* In-process virtio-blk driver for tests; see hdrv.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hdrv.h"
#include "sandbox/sandbox.h"
#include "util.h"

#define ARENA_BYTES (16u << 20)
#define PAGE 4096u

static void *hmem_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len,
			 int *ret_err)
{
	struct hmem *hm = (struct hmem *)m;

	unsigned int nr = __atomic_load_n(&hm->nr_regions, __ATOMIC_ACQUIRE);

	/* Tests of movable spaces change regions while the queue runs: atomics. */
	*ret_err = -EFAULT;
	for (unsigned int i = 0; i < nr; i++) {
		struct hregion *r = &hm->regions[i];

		if (iova < r->iova || iova - r->iova >= r->len)
			continue;
		if ((r->perm & perm) != perm)
			return NULL;
		*ret_len = r->len - (iova - r->iova);
		return __atomic_load_n(&r->host, __ATOMIC_ACQUIRE) + (iova - r->iova);
	}
	return NULL;
}

static const struct mem_ops hmem_ops = { .lookup = hmem_lookup };

static uint32_t hmem_generation(struct mem *m)
{
	return __atomic_load_n(&((struct hmem *)m)->gen, __ATOMIC_ACQUIRE);
}

static int hmem_pin(struct mem *m, const struct mem_range *ranges, unsigned int nr,
		    void **ret_host)
{
	for (unsigned int i = 0; i < nr; i++) {
		ret_host[i] = mem_map_contig(m, ranges[i].iova, ranges[i].len, ranges[i].perm);
		if (!ret_host[i])
			return -EFAULT;
	}
	return 0;
}

static const struct mem_ops hmem_movable_ops = {
	.lookup = hmem_lookup,
	.generation = hmem_generation,
	.pin = hmem_pin,
};

void hmem_init_movable(struct hmem *hm)
{
	hmem_init(hm);
	hm->mem.ops = &hmem_movable_ops;
}

void hmem_moved(struct hmem *hm)
{
	__atomic_add_fetch(&hm->gen, 1, __ATOMIC_RELEASE);
}

void hmem_init(struct hmem *hm)
{
	memset(hm, 0, sizeof(*hm));
	hm->mem.ops = &hmem_ops;
}

void hmem_add(struct hmem *hm, uint64_t iova, uint64_t len, unsigned int perm, void *host)
{
	if (hm->nr_regions == HDRV_MAX_REGIONS)
		abort();
	hm->regions[hm->nr_regions++] = (struct hregion){ iova, len, perm, host };
}

/* --- iotlb mode: the daemon's own IOTLB cache over a memfd ------------------ */

/* A new fd for the memfd, as VDUSE_IOTLB_GET_FD gives one, with calls the daemon may make. */
static int reopen_memfd(struct hdrv *h)
{
	char path[64];

	/* Secret memory cannot be opened again (ENXIO): fds made before the filter. */
	if (h->nr_spare_fds)
		return h->spare_fds[--h->nr_spare_fds];
	if (h->is_unpinnable) {
		errno = EMFILE;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->memfd);
	return open(path, O_RDWR | O_CLOEXEC);
}

static int hdrv_get_fd(void *opaque, uint64_t iova, int *ret_fd, uint64_t *ret_offset,
		       uint64_t *ret_start, uint64_t *ret_last, unsigned int *ret_perm)
{
	struct hdrv *h = opaque;

	/* Called with h->tlb.lock held, as hdrv_fail_get_fd() sets these. */
	if (h->fail_err && iova >= h->fail_start && iova <= h->fail_last)
		return h->fail_err;
	for (unsigned int i = 0; i < h->nr_maps; i++) {
		const struct hmap *m = &h->maps[i];

		if (iova < m->start || iova > m->last)
			continue;
		/* Not dup(): the queue thread runs under the daemon's filter, which opens. */
		*ret_fd = reopen_memfd(h);
		if (*ret_fd < 0)
			return -errno;
		*ret_offset = m->offset;
		*ret_start = m->start;
		*ret_last = m->last;
		*ret_perm = m->perm;
		return 0;
	}
	return -EINVAL;   /* what VDUSE answers for an IOVA nothing is mapped at */
}

/* The view's ops, with the test's hook before each lookup. */
#define VIEW(m) (&container_of(m, struct hdrv, hooked)->view.mem)
static void *hooked_lookup(struct mem *m, uint64_t iova, unsigned int perm, uint64_t *ret_len,
			   int *ret_err)
{
	struct hdrv *h = container_of(m, struct hdrv, hooked);

	void (*hook)(struct hdrv *, uint64_t) = __atomic_load_n(&h->on_lookup, __ATOMIC_ACQUIRE);

	if (hook)
		hook(h, iova);
	return VIEW(m)->ops->lookup(VIEW(m), iova, perm, ret_len, ret_err);
}
static uint32_t hooked_hold(struct mem *m) { return VIEW(m)->ops->hold(VIEW(m)); }
static void hooked_seal(struct mem *m, uint32_t t) { VIEW(m)->ops->seal(VIEW(m), t); }
static void hooked_release(struct mem *m, uint32_t t) { VIEW(m)->ops->release(VIEW(m), t); }
static void hooked_detach(struct mem *m) { VIEW(m)->ops->detach(VIEW(m)); }
static uint32_t hooked_generation(struct mem *m) { return VIEW(m)->ops->generation(VIEW(m)); }
static int hooked_pin(struct mem *m, const struct mem_range *r, unsigned int nr, void **host)
{
	return VIEW(m)->ops->pin(VIEW(m), r, nr, host);
}
static const struct mem_ops hooked_ops = {
	.lookup = hooked_lookup, .hold = hooked_hold, .seal = hooked_seal,
	.release = hooked_release, .generation = hooked_generation, .pin = hooked_pin,
	.detach = hooked_detach,
};

static int iotlb_mode_init(struct hdrv *h, uint8_t *at, bool is_unpinnable)
{
	int r;

	/*
	 * Secret memory (memfd_secret, Linux 5.14+) maps like any memfd, but the
	 * kernel refuses to pin it for O_DIRECT (EFAULT), as it refuses VDUSE's
	 * VM_IO bounce buffer from 6.12.118 on.
	 */
	if (is_unpinnable)
		h->memfd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);
	else
		h->memfd = memfd_create("hdrv-driver-memory", MFD_CLOEXEC);
	if (h->memfd < 0)
		return -errno;
	h->is_unpinnable = is_unpinnable;
	while (is_unpinnable && h->nr_spare_fds < HDRV_SPARE_FDS) {
		h->spare_fds[h->nr_spare_fds] = fcntl(h->memfd, F_DUPFD_CLOEXEC, 0);
		if (h->spare_fds[h->nr_spare_fds] < 0)
			return -errno;
		h->nr_spare_fds++;
	}
	if (ftruncate(h->memfd, ARENA_BYTES) < 0)
		return -errno;
	/* The driver's own view of its memory; the queue maps it again through the IOTLB. */
	if (mmap(at, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->memfd, 0) ==
	    MAP_FAILED)
		return -errno;
	h->memfd_bytes = ARENA_BYTES;
	h->maps[h->nr_maps++] = (struct hmap){
		HDRV_ARENA_IOVA, HDRV_ARENA_IOVA + ARENA_BYTES - 1, 0, MEM_READ | MEM_WRITE,
	};
	iotlb_init(&h->tlb, hdrv_get_fd, h);
	r = iotlb_view_init(&h->view, &h->tlb, h->num);
	if (r < 0) {
		iotlb_exit(&h->tlb);
		return r;
	}
	h->hooked.ops = &hooked_ops;
	return 0;
}

void hdrv_fail_get_fd(struct hdrv *h, uint64_t start, uint64_t last, int err)
{
	pthread_mutex_lock(&h->tlb.lock);
	h->fail_start = start;
	h->fail_last = last;
	h->fail_err = err;
	pthread_mutex_unlock(&h->tlb.lock);
}

void hdrv_iotlb_update(struct hdrv *h, uint64_t start, uint64_t last)
{
	iotlb_invalidate(&h->tlb, start, last);
}

unsigned int hdrv_nr_device_maps(struct hdrv *h)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	(void)h;
	if (!f)
		return 0;
	/* The driver's own mappings are one per region; the rest are the queue's. */
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "memfd:hdrv-driver-memory"))
			n++;
	fclose(f);
	return n > h->nr_maps ? n - h->nr_maps : 0;
}

int hdrv_make_image(char *path, size_t path_len, uint64_t bytes, int fill)
{
	return hdrv_make_image_in(NULL, path, path_len, bytes, fill);
}

int hdrv_make_image_in(const char *dir, char *path, size_t path_len, uint64_t bytes, int fill)
{
	char buf[65536];
	int fd;

	if (!dir)
		dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(path, path_len, "%s/vdb-harness-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	memset(buf, fill, sizeof(buf));
	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);

		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

static int hdrv_notify(struct blk_queue *q, void *opaque)
{
	struct hdrv *h = opaque;
	void (*hook)(struct hdrv *h) = __atomic_load_n(&h->on_notify, __ATOMIC_ACQUIRE);

	(void)q;
	if (eventfd_write(h->call_fd, 1) < 0)
		return -errno;
	if (hook)
		hook(h);
	return 0;
}

/*
 * The queue thread serves under the daemon's seccomp allowlist in record
 * mode, for this thread alone: every path a harness test drives through
 * the real queue loop and backend must stay within it.  A call outside it
 * fails with ENOSYS and is counted; hdrv_stop() fails the test then.
 * HDRV_SECCOMP=off runs without (to debug).
 */
static void hdrv_sandbox_thread(const struct hdrv *h)
{
	struct sandbox_opts o = { .is_recording = true, .record_fd = -1, .is_this_thread_only = true };
	const char *v = getenv("HDRV_SECCOMP");

	/* Under a filter already (a test of the process-wide one): it covers this thread. */
	if ((v && !strcmp(v, "off")) || sandbox_seccomp_is_active())
		return;
	/* The calls its backend declares, as the daemon's filter allows them. */
	o.backend_syscalls = h->be->syscalls;
	o.nr_backend_syscalls = h->be->nr_syscalls;
	if (sandbox_seccomp_apply(&o) < 0) {
		fprintf(stderr, "hdrv: installing the seccomp filter in the queue thread failed%s\n",
			h->be->syscalls ? "" : ": the backend declares no system calls");
		abort();
	}
}

static void *hdrv_thread(void *arg)
{
	struct hdrv *h = arg;

	hdrv_sandbox_thread(h);
	h->run_result = blk_queue_run(h->q);
	return NULL;
}

/* What the queue threads did outside the allowlist: a test must not pass with any. */
static void hdrv_check_recorded(void)
{
	unsigned long n = sandbox_seccomp_nr_recorded();

	if (!n)
		return;
	fprintf(stderr, "hdrv: the queue thread made %lu system call(s) the daemon's seccomp "
		"allowlist refuses (named above): failing\n", n);
	abort();
}

uint64_t hdrv_alloc(struct hdrv *h, uint64_t bytes)
{
	uint64_t off = (h->next_free + 15) & ~15ULL;

	if (off + bytes > h->arena_bytes)
		abort();
	h->next_free = off + bytes;
	return HDRV_ARENA_IOVA + off;
}

uint64_t hdrv_alloc_aligned(struct hdrv *h, uint64_t bytes, uint64_t align, uint64_t skew)
{
	uint64_t off = ((h->next_free + align - 1) & ~(align - 1)) + skew;

	if (off + bytes > h->arena_bytes)
		abort();
	h->next_free = off + bytes;
	return HDRV_ARENA_IOVA + off;
}

void *hdrv_ptr(struct hdrv *h, uint64_t iova)
{
	return h->arena + (iova - HDRV_ARENA_IOVA);
}

/* The packed driver's buffer IDs: all free, 0 handed out first. */
static int packed_init(struct hdrv *h)
{
	h->ids = calloc(h->num, sizeof(*h->ids));
	h->free_ids = calloc(h->num, sizeof(*h->free_ids));
	if (!h->ids || !h->free_ids)
		return -ENOMEM;
	for (unsigned int i = 0; i < h->num; i++)
		h->free_ids[i] = (uint16_t)(h->num - 1 - i);
	h->nr_free_ids = h->num;
	h->avail_pos = h->used_pos = VQ_POS_WRAP;
	return 0;
}

void hdrv_rings_moved(struct hdrv *h)
{
	if (h->is_packed) {
		h->pdesc = hdrv_ptr(h, h->desc_iova);
		h->driver_event = hdrv_ptr(h, h->avail_iova);
		h->device_event = hdrv_ptr(h, h->used_iova);
	} else {
		h->desc = hdrv_ptr(h, h->desc_iova);
		h->avail = hdrv_ptr(h, h->avail_iova);
		h->used = hdrv_ptr(h, h->used_iova);
	}
}

/* The queue on @ring, and its thread. */
static int hdrv_launch(struct hdrv *h, const struct blk_queue_ring *ring)
{
	pthread_t t;
	int r;

	r = blk_queue_new(0, &h->dev, &h->img, h->be, h->memfd >= 0 ? &h->hooked : &h->hm.mem,
			  ring, h->kick_fd, hdrv_notify, h, &h->q);
	if (r < 0)
		return r;
	r = pthread_create(&t, NULL, hdrv_thread, h);
	if (r)
		return -r;
	h->thread = (unsigned long)t;
	h->is_running = true;
	return 0;
}

/* The backend opens its image, with its options as the daemon gives them. */
static int hdrv_open_image(struct hdrv *h, const struct backend_ops *be,
			   const struct hdrv_opts *opts)
{
	struct image_spec spec = {
		.path = h->image_path, .is_readonly = opts && opts->is_readonly,
		.is_direct = opts && opts->is_direct, .adopt_fd = -1,
	};

	for (unsigned int i = 0; opts && i < 4 && opts->backend_opts[i].key; i++) {
		int index = backend_opt_index(be, opts->backend_opts[i].key);

		if (index < 0)
			return index;
		spec.opts[index] = opts->backend_opts[i].value;
	}
	return be->open(&spec, &h->img);
}

int hdrv_start(struct hdrv *h, const char *image_path, const struct hdrv_opts *opts)
{
	struct blk_queue_ring ring;
	const struct backend_ops *be;
	uint8_t *map;
	int r;

	memset(h, 0, sizeof(*h));
	/* hdrv_stop() must be safe after a failure anywhere below. */
	h->img.fd = -1;
	h->memfd = -1;
	h->kick_fd = h->call_fd = -1;
	h->num = opts && opts->queue_size ? opts->queue_size : 64;
	if (opts && opts->backend_ops)
		be = opts->backend_ops;
	else
		be = backend_find(opts && opts->backend ? opts->backend : "io_uring");
	if (!be)
		return -ENOENT;
	map = mmap(NULL, ARENA_BYTES + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	/* Guard pages on both sides: a stray access outside the arena faults. */
	h->arena = map + PAGE;
	h->arena_bytes = ARENA_BYTES;
	if (opts && opts->is_iotlb) {
		r = iotlb_mode_init(h, map + PAGE, opts->is_unpinnable);
		if (r < 0)
			return r;
	} else {
		if (mprotect(map + PAGE, ARENA_BYTES, PROT_READ | PROT_WRITE) < 0)
			return -errno;
		if (opts && opts->is_movable)
			hmem_init_movable(&h->hm);
		else
			hmem_init(&h->hm);
		hmem_add(&h->hm, HDRV_ARENA_IOVA, ARENA_BYTES, MEM_READ | MEM_WRITE, h->arena);
	}

	h->is_packed = opts && opts->is_packed;
	h->desc_iova = hdrv_alloc(h, 16ULL * h->num);
	if (h->is_packed) {
		r = packed_init(h);
		if (r < 0)
			return r;
		h->avail_iova = hdrv_alloc(h, sizeof(struct vring_packed_desc_event));
		h->used_iova = hdrv_alloc(h, sizeof(struct vring_packed_desc_event));
	} else {
		h->avail_iova = hdrv_alloc(h, 6ULL + 2ULL * h->num);
		h->used_iova = hdrv_alloc(h, 6ULL + 8ULL * h->num);
	}
	h->next_free = (h->next_free + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	hdrv_rings_moved(h);

	snprintf(h->image_path, sizeof(h->image_path), "%s", image_path);
	/* The backend opens its image; a test's own backend (no open()) gets a file. */
	h->be = be;
	if (opts && opts->shared_img) {
		h->img = *opts->shared_img;
		h->is_img_shared = true;
	} else if (be->open) {
		r = hdrv_open_image(h, be, opts);
	} else {
		r = image_open(h->image_path, opts && opts->is_readonly,
			       opts && opts->is_direct, &h->img);
	}
	if (r < 0)
		return r;
	h->dev.capacity_sectors = h->img.size_bytes >> BLK_SECTOR_SHIFT;
	h->dev.logical_block_size = opts && opts->block_size ? opts->block_size : 512;
	h->dev.physical_block_size = h->img.physical_block_size;
	/* As the daemon does: no O_DIRECT where requests could straddle its blocks. */
	r = image_fit_direct(&h->img, h->dev.logical_block_size);
	if (r < 0)
		return r;
	h->dev.num_queues = 1;
	h->dev.queue_size = opts && opts->advertised_queue_size ? opts->advertised_queue_size :
			    h->num;
	h->dev.is_readonly = opts && opts->is_readonly;
	h->dev.has_discard = true;
	h->dev.has_write_zeroes = true;
	h->dev.is_write_through = h->img.is_write_through;
	h->dev.poll_us = opts ? opts->poll_us : 0;
	memcpy(h->dev.serial, "harness-serial-0123456789", VIRTIO_BLK_ID_BYTES);

	h->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->kick_fd < 0 || h->call_fd < 0)
		return -errno;
	h->has_event_idx = opts && opts->has_event_idx;
	if (h->is_packed && h->has_event_idx) {
		/* As split's used_event starts at 0: an interrupt for the first entry. */
		h->driver_event->off_wrap = htole16(VQ_POS_WRAP);
		h->driver_event->flags = htole16(VRING_PACKED_EVENT_FLAG_DESC);
	}
	ring = (struct blk_queue_ring){
		.cfg = {
			.layout = h->is_packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT,
			.num = h->num, .desc_iova = h->desc_iova,
			.driver_iova = h->avail_iova, .device_iova = h->used_iova,
			.has_event_idx = opts && opts->has_event_idx,
		},
		.state = vq_state_initial(h->is_packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT),
		.log = opts ? opts->log : NULL,
	};
	h->ring = ring;
	h->be = be;
	return hdrv_launch(h, &ring);
}

int hdrv_join(struct hdrv *h)
{
	if (h->is_running) {
		pthread_join((pthread_t)h->thread, NULL);
		h->is_running = false;
	}
	return h->run_result;
}

int hdrv_restart(struct hdrv *h)
{
	struct blk_queue_ring ring = h->ring;

	hdrv_join(h);
	blk_queue_free(h->dead_q);
	/* Its requests may still be in its backend ring: keep that open, as the kernel would. */
	h->dead_q = h->q;
	h->q = NULL;
	/* A new kick eventfd, as a new daemon gives the kernel: the dead ring reads the old. */
	if (h->dead_kick_fd > 0)
		close(h->dead_kick_fd);
	h->dead_kick_fd = h->kick_fd;
	h->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->kick_fd < 0)
		return -errno;
	ring.is_resume = true;
	return hdrv_launch(h, &ring);
}

int hdrv_stop(struct hdrv *h)
{
	if (h->is_running) {
		blk_queue_stop(h->q);
		hdrv_join(h);
	}
	hdrv_check_recorded();
	blk_queue_free(h->q);
	h->q = NULL;
	blk_queue_free(h->dead_q);
	h->dead_q = NULL;
	if (h->dead_kick_fd > 0)
		close(h->dead_kick_fd);
	h->dead_kick_fd = 0;
	if (h->memfd >= 0) {
		iotlb_view_exit(&h->view);
		iotlb_exit(&h->tlb);
		while (h->nr_spare_fds)
			close(h->spare_fds[--h->nr_spare_fds]);
		close(h->memfd);
		h->memfd = -1;
	}
	if (h->is_img_shared)
		;
	else if (h->be && h->be->close)
		h->be->close(&h->img);
	else
		image_close(&h->img);
	if (h->kick_fd >= 0)
		close(h->kick_fd);
	if (h->call_fd >= 0)
		close(h->call_fd);
	h->kick_fd = h->call_fd = -1;
	if (h->arena)
		munmap(h->arena - PAGE, ARENA_BYTES + 2 * PAGE);
	h->arena = NULL;
	for (unsigned int i = 0; i < h->nr_extra; i++)
		munmap(h->extra[i].map, h->extra[i].len);
	h->nr_extra = 0;
	if (h->ids)
		for (unsigned int i = 0; i < h->num; i++)
			free(h->ids[i].descs);
	free(h->ids);
	free(h->free_ids);
	h->ids = NULL;
	h->free_ids = NULL;
	return h->run_result;
}

void *hdrv_add_region(struct hdrv *h, uint64_t iova, size_t len, unsigned int perm)
{
	uint8_t *map;

	if (h->nr_extra == HDRV_MAX_EXTRA || len % PAGE)
		abort();
	map = mmap(NULL, len + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		abort();
	h->extra[h->nr_extra].map = map;
	h->extra[h->nr_extra].len = len + 2 * PAGE;
	h->nr_extra++;
	if (h->memfd >= 0) {
		/* More of the memfd, a separate IOTLB entry. */
		if (ftruncate(h->memfd, (off_t)(h->memfd_bytes + len)) < 0 ||
		    mmap(map + PAGE, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->memfd,
			 (off_t)h->memfd_bytes) == MAP_FAILED)
			abort();
		/* GET_FD runs under the IOTLB's lock, in the queue's thread. */
		pthread_mutex_lock(&h->tlb.lock);
		h->maps[h->nr_maps++] = (struct hmap){ iova, iova + len - 1, h->memfd_bytes, perm };
		pthread_mutex_unlock(&h->tlb.lock);
		h->memfd_bytes += len;
		return map + PAGE;
	}
	if (mprotect(map + PAGE, len, PROT_READ | PROT_WRITE) < 0)
		abort();
	hmem_add(&h->hm, iova, len, perm, map + PAGE);
	return map + PAGE;
}

/* A test driver's misuse of a call: say which and stop. */
static void hdrv_misuse(const char *what)
{
	fprintf(stderr, "hdrv: %s\n", what);
	abort();
}

void hdrv_set_desc(struct hdrv *h, uint16_t i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	struct vring_desc *d;

	if (h->is_packed)
		hdrv_misuse("hdrv_set_desc() on a packed ring");
	d = &h->desc[i];
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

uint16_t hdrv_alloc_desc(struct hdrv *h)
{
	uint16_t i = h->next_desc;

	h->next_desc = (uint16_t)((h->next_desc + 1) % h->num);
	return i;
}

static uint16_t buf_flags(const struct hbuf *b)
{
	return (uint16_t)((b->is_write ? VRING_DESC_F_WRITE : 0) | b->flags);
}

static void fill_chain(struct vring_desc *table, const uint16_t *idx, const struct hbuf *bufs,
		       unsigned int nr)
{
	for (unsigned int k = 0; k < nr; k++) {
		struct vring_desc *d = &table[idx[k]];
		uint16_t flags = buf_flags(&bufs[k]);

		if (k + 1 < nr)
			flags |= VRING_DESC_F_NEXT;
		d->addr = htole64(bufs[k].iova);
		d->len = htole32(bufs[k].len);
		d->flags = htole16(flags);
		d->next = htole16(k + 1 < nr ? idx[k + 1] : 0);
	}
}

/* ---- packed ring --------------------------------------------------------- */

#define P_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define P_USED (1u << VRING_PACKED_DESC_F_USED)

uint16_t hdrv_packed_avail_flags(uint16_t pos)
{
	/* 2.8.1: AVAIL equal to the driver's wrap counter, USED the inverse. */
	return (pos & VQ_POS_WRAP) ? P_AVAIL : P_USED;
}

uint16_t hdrv_packed_pos_add(const struct hdrv *h, uint16_t pos, int n)
{
	int idx = (int)(pos & VQ_POS_IDX_MASK) + n;
	uint16_t wrap = pos & VQ_POS_WRAP;

	if (idx >= h->num) {
		idx -= h->num;
		wrap ^= VQ_POS_WRAP;
	} else if (idx < 0) {
		idx += h->num;
		wrap ^= VQ_POS_WRAP;
	}
	return (uint16_t)idx | wrap;
}

uint16_t hdrv_packed_alloc_id(struct hdrv *h)
{
	uint16_t id;

	if (!h->nr_free_ids)
		hdrv_misuse("no free buffer ID: every one is staged or in flight");
	id = h->free_ids[--h->nr_free_ids];
	h->ids[id].is_allocated = true;
	return id;
}

/* The driver saw @id used: its chain's slots and (once no copy is in flight) the ID are free. */
static void packed_free_id(struct hdrv *h, uint16_t id)
{
	struct hid *e = &h->ids[id];

	if (e->nr_published)
		e->nr_published--;
	if (e->nr_published || !e->is_allocated)
		return;
	e->is_allocated = false;
	free(e->descs);
	e->descs = NULL;
	e->nr = 0;
	h->free_ids[h->nr_free_ids++] = id;
}

/* Stage @nr descriptors (flags without AVAIL/USED) as the chain of a new buffer ID. */
static uint16_t packed_stage(struct hdrv *h, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t id = hdrv_packed_alloc_id(h);
	struct hid *e = &h->ids[id];

	e->descs = calloc(nr ? nr : 1, sizeof(*e->descs));
	if (!e->descs)
		abort();
	for (unsigned int k = 0; k < nr; k++) {
		uint16_t flags = buf_flags(&bufs[k]);

		if (k + 1 < nr)
			flags |= VRING_DESC_F_NEXT;
		e->descs[k] = (struct vring_packed_desc){
			.addr = htole64(bufs[k].iova), .len = htole32(bufs[k].len),
			.id = htole16(id), .flags = htole16(flags),
		};
	}
	e->nr = (uint16_t)nr;
	return id;
}

/*
 * A descriptor's address, length and ID (not its flags).  Relaxed atomics:
 * the tests' drivers may write slots the device still reads (a malformed
 * ring), which the device's single atomic load of each descriptor allows.
 */
static void store_desc_body(struct vring_packed_desc *d, const struct vring_packed_desc *from)
{
	__atomic_store_n(&d->addr, from->addr, __ATOMIC_RELAXED);
	__atomic_store_n(&d->len, from->len, __ATOMIC_RELAXED);
	__atomic_store_n(&d->id, from->id, __ATOMIC_RELAXED);
}

void hdrv_packed_write(struct hdrv *h, uint16_t pos, const struct vring_packed_desc *descs,
		       unsigned int nr)
{
	uint16_t first = pos;

	for (unsigned int k = 0; k < nr; k++) {
		struct vring_packed_desc *d = &h->pdesc[pos & VQ_POS_IDX_MASK];

		store_desc_body(d, &descs[k]);
		if (k)
			__atomic_store_n(&d->flags, descs[k].flags, __ATOMIC_RELAXED);
		pos = hdrv_packed_pos_add(h, pos, 1);
	}
	/* The head's flags last: the device sees the whole chain or none of it. */
	if (nr)
		__atomic_store_n(&h->pdesc[first & VQ_POS_IDX_MASK].flags, descs[0].flags,
				 __ATOMIC_RELEASE);
}

/* The driver published a chain of @nr slots for @id (if in range). */
static void packed_note_published(struct hdrv *h, uint16_t id, unsigned int nr)
{
	if (id >= h->num)
		return;
	h->ids[id].nr_ring = (uint16_t)nr;
	h->ids[id].nr_published++;
	if (!h->ids[id].is_allocated) {
		/* Taken straight from the free list. */
		for (unsigned int i = 0; i < h->nr_free_ids; i++)
			if (h->free_ids[i] == id) {
				memmove(&h->free_ids[i], &h->free_ids[i + 1],
					(h->nr_free_ids - i - 1) * sizeof(*h->free_ids));
				h->nr_free_ids--;
				break;
			}
		h->ids[id].is_allocated = true;
	}
}

void hdrv_packed_put(struct hdrv *h, const struct vring_packed_desc *descs, unsigned int nr)
{
	if (!h->is_packed)
		hdrv_misuse("hdrv_packed_put() on a split ring");
	hdrv_packed_write(h, h->avail_pos, descs, nr);
	h->avail_pos = hdrv_packed_pos_add(h, h->avail_pos, (int)nr);
	if (nr)
		packed_note_published(h, le16toh(descs[nr - 1].id), nr);
	hdrv_kick(h);
}

/*
 * Write the staged chains of @ids into the ring, one after another; the
 * first slot's flags last, so the device sees the batch at once.
 */
static void packed_place(struct hdrv *h, const uint16_t *ids, unsigned int nr)
{
	struct vring_packed_desc *first = NULL;
	uint16_t first_flags = 0;

	for (unsigned int k = 0; k < nr; k++) {
		struct hid *e;

		if (ids[k] >= h->num || !h->ids[ids[k]].descs)
			hdrv_misuse("publishing a buffer ID with no staged chain");
		e = &h->ids[ids[k]];
		for (unsigned int i = 0; i < e->nr; i++) {
			struct vring_packed_desc *d = &h->pdesc[h->avail_pos & VQ_POS_IDX_MASK];
			uint16_t flags = (uint16_t)(le16toh(e->descs[i].flags) |
						    hdrv_packed_avail_flags(h->avail_pos));

			store_desc_body(d, &e->descs[i]);
			if (first)
				__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELAXED);
			else {
				first = d;
				first_flags = flags;
			}
			h->avail_pos = hdrv_packed_pos_add(h, h->avail_pos, 1);
		}
		packed_note_published(h, ids[k], e->nr);
	}
	if (first)
		__atomic_store_n(&first->flags, htole16(first_flags), __ATOMIC_RELEASE);
}

/* Kick unless the device event suppression structure says not to (2.8.10, 2.8.21.3). */
static void packed_kick_if_needed(struct hdrv *h, uint16_t old_pos)
{
	uint16_t flags, off_wrap, new_idx, old_idx, event_idx;
	bool need;

	/* Order the ring stores before reading the device's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = le16toh(__atomic_load_n(&h->device_event->flags, __ATOMIC_RELAXED));
	off_wrap = le16toh(__atomic_load_n(&h->device_event->off_wrap, __ATOMIC_RELAXED));
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !h->has_event_idx) {
		need = flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	} else {
		/* As Linux: indices on one line, the event one lap back if its wrap differs. */
		new_idx = h->avail_pos & VQ_POS_IDX_MASK;
		old_idx = old_pos & VQ_POS_IDX_MASK;
		if ((old_pos & VQ_POS_WRAP) != (h->avail_pos & VQ_POS_WRAP))
			old_idx = (uint16_t)(old_idx - h->num);
		event_idx = off_wrap & VQ_POS_IDX_MASK;
		if ((off_wrap & VQ_POS_WRAP) != (h->avail_pos & VQ_POS_WRAP))
			event_idx = (uint16_t)(event_idx - h->num);
		need = vring_need_event(event_idx, new_idx, old_idx);
	}
	if (!need) {
		h->nr_kicks_suppressed++;
		return;
	}
	hdrv_kick(h);
}

/* Is the slot at the driver's used position a used entry for its lap? */
static bool packed_used_at(struct hdrv *h, uint16_t pos, struct vring_packed_desc *ret)
{
	const struct vring_packed_desc *d = &h->pdesc[pos & VQ_POS_IDX_MASK];
	uint16_t flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));
	bool wrap = pos & VQ_POS_WRAP;

	if (!!(flags & P_AVAIL) != wrap || !!(flags & P_USED) != wrap)
		return false;
	ret->id = d->id;
	ret->len = d->len;
	return true;
}

/* Slots the chain of @id took (1 for an ID the driver never published). */
static uint16_t packed_chain_slots(struct hdrv *h, uint16_t id)
{
	return id < h->num && h->ids[id].nr_ring ? h->ids[id].nr_ring : 1;
}

/* ---- both layouts -------------------------------------------------------- */

uint64_t hdrv_table(struct hdrv *h, const struct hbuf *bufs, unsigned int nr)
{
	uint64_t table_iova = hdrv_alloc(h, 16ULL * (nr ? nr : 1));
	uint16_t idx[VQ_MAX_SIZE + 1];

	if (h->is_packed) {
		struct vring_packed_desc *t = hdrv_ptr(h, table_iova);

		/* 2.8.13: the table's entries in order; NEXT and ID mean nothing there. */
		for (unsigned int k = 0; k < nr; k++)
			t[k] = (struct vring_packed_desc){
				.addr = htole64(bufs[k].iova), .len = htole32(bufs[k].len),
				.flags = htole16(buf_flags(&bufs[k])),
			};
		return table_iova;
	}
	if (nr > VQ_MAX_SIZE + 1)
		hdrv_misuse("indirect table too large");
	for (unsigned int k = 0; k < nr; k++)
		idx[k] = (uint16_t)k;
	fill_chain(hdrv_ptr(h, table_iova), idx, bufs, nr);
	return table_iova;
}

uint16_t hdrv_chain(struct hdrv *h, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t idx[VQ_MAX_SIZE];

	if (h->is_packed)
		return packed_stage(h, bufs, nr);
	for (unsigned int k = 0; k < nr; k++)
		idx[k] = hdrv_alloc_desc(h);
	fill_chain(h->desc, idx, bufs, nr);
	return idx[0];
}

uint16_t hdrv_chain_indirect(struct hdrv *h, const struct hbuf *bufs, unsigned int nr)
{
	struct hbuf head = { hdrv_table(h, bufs, nr), 16u * nr, false, VRING_DESC_F_INDIRECT };

	return hdrv_chain(h, &head, 1);
}

void hdrv_kick(struct hdrv *h)
{
	h->nr_kicks++;
	eventfd_write(h->kick_fd, 1);
}

/* Kick unless the device said it does not need one (virtio 1.2, 2.7.10 and 2.7.13.4). */
static void kick_if_needed(struct hdrv *h, uint16_t old_idx)
{
	bool need;

	/* Order the avail->idx store before reading the device's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (h->has_event_idx) {
		uint16_t ev = le16toh(__atomic_load_n((uint16_t *)&h->used->ring[h->num],
						     __ATOMIC_RELAXED));

		need = vring_need_event(ev, h->avail_idx, old_idx);
	} else {
		need = !(le16toh(__atomic_load_n(&h->used->flags, __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	}
	if (!need) {
		h->nr_kicks_suppressed++;
		return;
	}
	hdrv_kick(h);
}

void hdrv_publish(struct hdrv *h, uint16_t head)
{
	hdrv_publish_batch(h, &head, 1);
}

static void place_batch(struct hdrv *h, const uint16_t *heads, unsigned int nr)
{
	if (h->is_packed) {
		packed_place(h, heads, nr);
		return;
	}
	for (unsigned int k = 0; k < nr; k++) {
		h->avail->ring[h->avail_idx % h->num] = htole16(heads[k]);
		h->avail_idx++;
	}
	__atomic_store_n(&h->avail->idx, htole16(h->avail_idx), __ATOMIC_RELEASE);
}

void hdrv_place(struct hdrv *h, uint16_t head)
{
	place_batch(h, &head, 1);
}

void hdrv_publish_batch(struct hdrv *h, const uint16_t *heads, unsigned int nr)
{
	uint16_t old = h->is_packed ? h->avail_pos : h->avail_idx;

	place_batch(h, heads, nr);
	if (h->is_packed)
		packed_kick_if_needed(h, old);
	else
		kick_if_needed(h, old);
}

uint16_t hdrv_used_idx(struct hdrv *h)
{
	struct vring_packed_desc d;
	uint16_t pos, n = 0;

	if (!h->is_packed)
		return le16toh(__atomic_load_n(&h->used->idx, __ATOMIC_ACQUIRE));
	/* Walk the used entries the driver has not taken, at most a lap. */
	for (pos = h->used_pos; n < h->num && packed_used_at(h, pos, &d); n++)
		pos = hdrv_packed_pos_add(h, pos, packed_chain_slots(h, le16toh(d.id)));
	return (uint16_t)(h->last_used_idx + n);
}

void hdrv_publish_idx(struct hdrv *h, uint16_t idx)
{
	if (h->is_packed)
		hdrv_misuse("hdrv_publish_idx() on a packed ring");
	h->avail_idx = idx;
	__atomic_store_n(&h->avail->idx, htole16(idx), __ATOMIC_RELEASE);
	hdrv_kick(h);
}

int hdrv_take_used(struct hdrv *h, uint32_t *ret_id, uint32_t *ret_len)
{
	if (h->is_packed) {
		struct vring_packed_desc d;
		uint16_t id;

		if (!packed_used_at(h, h->used_pos, &d))
			return -EAGAIN;
		id = le16toh(d.id);
		*ret_id = id;
		*ret_len = le32toh(d.len);
		h->used_pos = hdrv_packed_pos_add(h, h->used_pos, packed_chain_slots(h, id));
		if (id < h->num)
			packed_free_id(h, id);
	} else {
		uint16_t idx = le16toh(__atomic_load_n(&h->used->idx, __ATOMIC_ACQUIRE));
		struct vring_used_elem *e;

		if (idx == h->last_used_idx)
			return -EAGAIN;
		e = &h->used->ring[h->last_used_idx % h->num];
		*ret_id = le32toh(e->id);
		*ret_len = le32toh(e->len);
	}
	h->last_used_idx++;
	return 0;
}

void hdrv_set_used_event(struct hdrv *h, int delta)
{
	if (!h->is_packed) {
		__atomic_store_n(&h->avail->ring[h->num], htole16((uint16_t)(h->last_used_idx + delta)),
				 __ATOMIC_SEQ_CST);
		return;
	}
	/* As Linux: off_wrap, then the flags that make it count. */
	__atomic_store_n(&h->driver_event->off_wrap,
			 htole16(hdrv_packed_pos_add(h, h->used_pos, delta)), __ATOMIC_SEQ_CST);
	__atomic_store_n(&h->driver_event->flags, htole16(VRING_PACKED_EVENT_FLAG_DESC),
			 __ATOMIC_SEQ_CST);
}

void hdrv_set_interrupts(struct hdrv *h, bool is_enabled)
{
	if (h->is_packed)
		__atomic_store_n(&h->driver_event->flags,
				 htole16(is_enabled ? VRING_PACKED_EVENT_FLAG_ENABLE :
					 VRING_PACKED_EVENT_FLAG_DISABLE), __ATOMIC_SEQ_CST);
	else
		__atomic_store_n(&h->avail->flags,
				 htole16(is_enabled ? 0 : VRING_AVAIL_F_NO_INTERRUPT),
				 __ATOMIC_SEQ_CST);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int hdrv_wait_used(struct hdrv *h, uint32_t *ret_id, uint32_t *ret_len, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = h->call_fd, .events = POLLIN };
		long left;
		eventfd_t v;

		if (hdrv_take_used(h, ret_id, ret_len) == 0)
			return 0;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* Without interrupts (suppressed), poll the ring every few ms. */
		if (poll(&pfd, 1, left < 5 ? (int)left : 5) > 0)
			eventfd_read(h->call_fd, &v);
	}
}

void hdrv_blk_req(struct hdrv *h, struct hreq *r, uint32_t type, uint64_t sector,
		  const void *data, uint32_t data_len)
{
	struct virtio_blk_outhdr *hdr;

	memset(r, 0, sizeof(*r));
	r->hdr_iova = hdrv_alloc(h, sizeof(*hdr));
	hdr = hdrv_ptr(h, r->hdr_iova);
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	r->data_len = data_len;
	if (data_len) {
		r->data_iova = hdrv_alloc(h, data_len);
		if (data)
			memcpy(hdrv_ptr(h, r->data_iova), data, data_len);
		else
			memset(hdrv_ptr(h, r->data_iova), 0xee, data_len);
	}
	r->status_iova = hdrv_alloc(h, 1);
	*(uint8_t *)hdrv_ptr(h, r->status_iova) = 0xff;
}

static bool type_writes_data(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

void hdrv_blk_submit(struct hdrv *h, struct hreq *r)
{
	hdrv_blk_chain(h, r);
	hdrv_publish(h, r->head);
}

void hdrv_blk_chain(struct hdrv *h, struct hreq *r)
{
	const struct virtio_blk_outhdr *hdr = hdrv_ptr(h, r->hdr_iova);
	bool is_in = type_writes_data(le32toh(hdr->type));
	struct hbuf bufs[3];
	unsigned int n = 0;

	bufs[n++] = (struct hbuf){ r->hdr_iova, sizeof(*hdr), false };
	if (r->data_len)
		bufs[n++] = (struct hbuf){ r->data_iova, r->data_len, is_in };
	bufs[n++] = (struct hbuf){ r->status_iova, 1, true };
	r->head = hdrv_chain(h, bufs, n);
}

uint8_t hdrv_status(struct hdrv *h, const struct hreq *r)
{
	return *(uint8_t *)hdrv_ptr(h, r->status_iova);
}

int hdrv_blk_do(struct hdrv *h, uint32_t type, uint64_t sector, void *data,
		uint32_t data_len, uint32_t *ret_len)
{
	struct hreq r;
	uint32_t id, len;
	int rc;

	hdrv_blk_req(h, &r, type, sector, data, data_len);
	hdrv_blk_submit(h, &r);
	rc = hdrv_wait_used(h, &id, &len, 5000);
	if (rc < 0)
		return rc;
	if (id != r.head)
		return -EPROTO;
	if (ret_len)
		*ret_len = len;
	if (data && type_writes_data(type))
		memcpy(data, hdrv_ptr(h, r.data_iova), data_len);
	return hdrv_status(h, &r);
}
