// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The real data path (vq + blk + backend) against a real image, driven in
 * process by the harness driver.
 *
 * Every test keeps a model of what the image must hold and compares the whole
 * file with it (pread) at the end; with the null backend the model never
 * changes and reads must return zeroes.  Malformed chains each carry a WRITE
 * of a distinct pattern with the status byte preset to 0xff: they must come
 * back with used.len 0, the status byte and the image untouched, and the
 * queue must go on serving the next valid request.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <cmocka.h>

#include "hdrv.h"

#define IMAGE_BYTES (1u << 20)
#define IMAGE_SECTORS (IMAGE_BYTES / 512u)
#define IMAGE_FILL 0x5a
#define WAIT_MS 5000
#define QUIET_MS 200             /* how long "nothing happens" is watched */
#define BAD_SECTOR 8             /* where malformed chains try to write */
#define CHECK_SECTOR 200         /* where the valid request after them goes */
#define REGION_IOVA 0x40000000ULL  /* extra regions, far from the arena */
#define RW (MEM_READ | MEM_WRITE)

typedef struct virtio_blk_discard_write_zeroes dwz_seg;

struct fixture {
	char path[256];
	bool is_null;
	struct hdrv h;
	uint8_t model[IMAGE_BYTES];   /* what the image file must hold */
};

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_ro = { .queue_size = 64, .backend = "io_uring", .is_readonly = true };
static struct hdrv_opts o_null_ro = { .queue_size = 64, .backend = "null", .is_readonly = true };
static struct hdrv_opts o_uring_ev = { .queue_size = 128, .backend = "io_uring", .has_event_idx = true };
static struct hdrv_opts o_null_ev = { .queue_size = 128, .backend = "null", .has_event_idx = true };
static struct hdrv_opts o_uring_q128 = { .queue_size = 128, .backend = "io_uring" };
static struct hdrv_opts o_null_q128 = { .queue_size = 128, .backend = "null" };
static struct hdrv_opts o_uring_q512 = { .queue_size = 512, .backend = "io_uring" };
static struct hdrv_opts o_uring_q8 = { .queue_size = 8, .backend = "io_uring" };
static struct hdrv_opts o_null_q8 = { .queue_size = 8, .backend = "null" };
static struct hdrv_opts o_uring_q8_ev = { .queue_size = 8, .backend = "io_uring", .has_event_idx = true };

/*
 * The gate backend: like null (reads return zeroes, writes go nowhere), but
 * requests stay in flight until the test opens the gate.  Makes "a head
 * still in flight" deterministic.
 */
static int gate_fd = -1;              /* eventfd: written once to open the gate */
static unsigned int gate_nr_held;     /* requests queued so far (atomic) */

struct backend_queue {
	int kick_fd;
	bool is_open;
	unsigned int depth, nr_held;
	struct blk_req **held;
};

static int gate_queue_init(const struct image *img, int kick_fd, unsigned int depth,
			   struct backend_queue **ret_bq)
{
	struct backend_queue *bq = calloc(1, sizeof(*bq));

	(void)img;
	if (!bq)
		return -ENOMEM;
	bq->held = calloc(depth, sizeof(*bq->held));
	if (!bq->held) {
		free(bq);
		return -ENOMEM;
	}
	bq->kick_fd = kick_fd;
	bq->depth = depth;
	*ret_bq = bq;
	return 0;
}

static void gate_queue_exit(struct backend_queue *bq)
{
	if (bq)
		free(bq->held);
	free(bq);
}

static int gate_queue_req(struct backend_queue *bq, struct blk_req *req)
{
	if (bq->nr_held == bq->depth)
		return -EBUSY;
	if (req->op == BLK_OP_READ)
		for (unsigned int i = 0; i < req->nr_data_iov; i++)
			memset(req->data_iov[i].iov_base, 0, req->data_iov[i].iov_len);
	bq->held[bq->nr_held++] = req;
	__atomic_add_fetch(&gate_nr_held, 1, __ATOMIC_RELEASE);
	return 0;
}

static int gate_wait(struct backend_queue *bq, struct backend_event *evs, unsigned int max,
		     bool may_block)
{
	struct pollfd p[2] = { { .fd = bq->kick_fd, .events = POLLIN },
			       { .fd = gate_fd, .events = POLLIN } };
	unsigned int n = 0;
	eventfd_t v;

	if (bq->is_open && bq->nr_held)
		may_block = false;
	if (poll(p, 2, may_block ? -1 : 0) < 0 && errno != EINTR)
		return -errno;
	if ((p[0].revents & POLLIN) && eventfd_read(bq->kick_fd, &v) == 0)
		evs[n++] = (struct backend_event){ .type = BACKEND_EV_KICK };
	if (p[1].revents & POLLIN)
		bq->is_open = true;   /* the eventfd stays readable: the gate stays open */
	while (bq->is_open && bq->nr_held && n < max)
		evs[n++] = (struct backend_event){
			.type = BACKEND_EV_DONE, .req = bq->held[--bq->nr_held], .res = 0,
		};
	return (int)n;
}

static const struct backend_ops gate_ops = {
	.name = "gate",
	.queue_init = gate_queue_init,
	.queue_exit = gate_queue_exit,
	.queue_req = gate_queue_req,
	.wait = gate_wait,
};

static struct hdrv_opts o_gate_q8 = { .queue_size = 8, .backend = "null", .backend_ops = &gate_ops };
static struct hdrv_opts o_gate = { .queue_size = 64, .backend = "null", .backend_ops = &gate_ops };

static void gate_open(void)
{
	eventfd_write(gate_fd, 1);
}

/* Wait until the backend holds @n requests: they were popped and started. */
static void gate_wait_held(unsigned int n)
{
	struct timespec ms = { 0, 1000000L };

	for (int i = 0; i < WAIT_MS && __atomic_load_n(&gate_nr_held, __ATOMIC_ACQUIRE) < n; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(__atomic_load_n(&gate_nr_held, __ATOMIC_ACQUIRE), n);
}

static int setup(void **state)
{
	static struct fixture f;
	const struct hdrv_opts *o = *state;

	memset(&f, 0, sizeof(f));
	f.is_null = o->backend && strcmp(o->backend, "null") == 0;
	gate_nr_held = 0;
	gate_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (gate_fd < 0)
		return -1;
	memset(f.model, IMAGE_FILL, sizeof(f.model));
	if (hdrv_make_image(f.path, sizeof(f.path), IMAGE_BYTES, IMAGE_FILL) < 0)
		return -1;
	if (hdrv_start(&f.h, f.path, o) < 0) {
		hdrv_stop(&f.h);
		unlink(f.path);
		return -1;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gate_open();   /* requests the gate holds must end for the queue to stop */
	hdrv_stop(&f->h);
	unlink(f->path);
	close(gate_fd);
	gate_fd = -1;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 0x9e3779b9u;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static void read_image(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* The whole image file must be what the model says. */
static void check_image(struct fixture *f)
{
	static uint8_t buf[IMAGE_BYTES];

	read_image(f, 0, buf, sizeof(buf));
	assert_memory_equal(buf, f->model, sizeof(buf));
}

static void model_write(struct fixture *f, uint64_t sector, const void *data, size_t len)
{
	if (!f->is_null)
		memcpy(f->model + sector * 512, data, len);
}

static void model_zero(struct fixture *f, uint64_t sector, size_t len)
{
	if (!f->is_null)
		memset(f->model + sector * 512, 0, len);
}

/* What a READ of [sector, sector + len) must return. */
static const uint8_t *expected(struct fixture *f, uint64_t sector, size_t len)
{
	static const uint8_t zeroes[IMAGE_BYTES];

	assert_true(sector * 512 + len <= IMAGE_BYTES);
	return f->is_null ? zeroes : f->model + sector * 512;
}

static uint8_t *hptr(struct fixture *f, uint64_t iova)
{
	return hdrv_ptr(&f->h, iova);
}

static uint64_t put_hdr(struct fixture *f, uint32_t type, uint64_t sector)
{
	uint64_t iova = hdrv_alloc(&f->h, sizeof(struct virtio_blk_outhdr));
	struct virtio_blk_outhdr *hdr = hdrv_ptr(&f->h, iova);

	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	return iova;
}

/* A buffer holding @data, or 0xee bytes when @data is NULL. */
static uint64_t put_buf(struct fixture *f, const void *data, uint32_t len)
{
	uint64_t iova = hdrv_alloc(&f->h, len ? len : 1);

	if (data)
		memcpy(hptr(f, iova), data, len);
	else
		memset(hptr(f, iova), 0xee, len);
	return iova;
}

static uint64_t put_status(struct fixture *f)
{
	uint64_t iova = hdrv_alloc(&f->h, 1);

	*hptr(f, iova) = 0xff;
	return iova;
}

static uint64_t put_segs(struct fixture *f, const dwz_seg *segs, unsigned int nr)
{
	return put_buf(f, segs, nr * (uint32_t)sizeof(*segs));
}

static dwz_seg seg(uint64_t sector, uint32_t nr_sectors, uint32_t flags)
{
	return (dwz_seg){
		.sector = htole64(sector), .num_sectors = htole32(nr_sectors),
		.flags = htole32(flags),
	};
}

static void wait_used(struct fixture *f, uint16_t head, uint32_t *ret_len)
{
	uint32_t id, len;

	assert_int_equal(hdrv_wait_used(&f->h, &id, &len, WAIT_MS), 0);
	assert_int_equal(id, head);
	*ret_len = len;
}

/* Publish @bufs as one direct chain and wait for it; returns used.len. */
static uint32_t run_chain(struct fixture *f, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t head = hdrv_chain(&f->h, bufs, nr);
	uint32_t len;

	hdrv_publish(&f->h, head);
	wait_used(f, head, &len);
	return len;
}

static uint32_t run_indirect(struct fixture *f, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t head = hdrv_chain_indirect(&f->h, bufs, nr);
	uint32_t len;

	hdrv_publish(&f->h, head);
	wait_used(f, head, &len);
	return len;
}

static void wait_broken(struct fixture *f)
{
	struct timespec ms = { 0, 1000000L };

	for (int i = 0; i < WAIT_MS && !__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	assert_true(__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE));
}

/* Nothing more may show up on the used ring for a while. */
static void assert_no_used(struct fixture *f, int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	assert_int_equal(hdrv_used_idx(&f->h), f->h.last_used_idx);
}

static void do_write(struct fixture *f, uint64_t sector, const void *data, uint32_t len)
{
	uint32_t used_len = 0;

	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, sector, (void *)data, len, &used_len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, 1);
	model_write(f, sector, data, len);
}

static void do_read_check(struct fixture *f, uint64_t sector, uint32_t len)
{
	uint8_t *buf = malloc(len);
	uint32_t used_len = 0;

	assert_non_null(buf);
	memset(buf, 0xee, len);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_IN, sector, buf, len, &used_len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, len + 1);
	assert_memory_equal(buf, expected(f, sector, len), len);
	free(buf);
}

static int do_dwz(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
		  uint32_t *ret_len)
{
	uint64_t st = put_status(f);
	struct hbuf bufs[] = {
		{ put_hdr(f, type, 0), 16, false },
		{ put_segs(f, segs, nr), nr * 16u, false },
		{ st, 1, true },
	};

	*ret_len = run_chain(f, bufs, 3);
	return *hptr(f, st);
}

/* A valid WRITE + READ at CHECK_SECTOR is served, and the image is the model. */
static void assert_valid_served(struct fixture *f)
{
	uint8_t buf[4096];

	fill_pattern(buf, sizeof(buf), 0xc0ffee);
	do_write(f, CHECK_SECTOR, buf, sizeof(buf));
	do_read_check(f, CHECK_SECTOR, sizeof(buf));
	check_image(f);
}

/* ---- well-formed requests ----------------------------------------------- */

static void round_trip(struct fixture *f, uint64_t sector)
{
	uint8_t wbuf[4096];

	fill_pattern(wbuf, sizeof(wbuf), (uint32_t)sector + 1);
	do_write(f, sector, wbuf, sizeof(wbuf));
	check_image(f);
	do_read_check(f, sector, sizeof(wbuf));
}

static void test_rw_first_sector(void **state)
{
	round_trip(*state, 0);
}

static void test_rw_last_sectors(void **state)
{
	struct fixture *f = *state;

	round_trip(f, IMAGE_SECTORS - 8);
	/* The very last sector alone. */
	do_read_check(f, IMAGE_SECTORS - 1, 512);
}

static const uint32_t seg_sizes[8] = { 512, 1024, 4096, 8192, 1536, 2048, 512, 3584 };

static void test_multi_segment(void **state)
{
	struct fixture *f = *state;
	const uint64_t sector = 100;
	uint32_t total = 0, off = 0;
	struct hbuf bufs[10];
	uint64_t st;
	uint8_t *data;

	for (int i = 0; i < 8; i++)
		total += seg_sizes[i];
	data = malloc(total);
	assert_non_null(data);
	fill_pattern(data, total, 77);

	/* WRITE from 8 readable buffers. */
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_OUT, sector), 16, false };
	for (int i = 0; i < 8; i++) {
		bufs[1 + i] = (struct hbuf){ put_buf(f, data + off, seg_sizes[i]), seg_sizes[i], false };
		off += seg_sizes[i];
	}
	st = put_status(f);
	bufs[9] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 10), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, sector, data, total);
	check_image(f);

	/* READ into 8 writable buffers, sizes in the reverse order. */
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_IN, sector), 16, false };
	for (int i = 0; i < 8; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, NULL, seg_sizes[7 - i]), seg_sizes[7 - i], true };
	st = put_status(f);
	bufs[9] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 10), total + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	off = 0;
	for (int i = 0; i < 8; i++) {
		assert_memory_equal(hptr(f, bufs[1 + i].iova), expected(f, sector, total) + off,
				    bufs[1 + i].len);
		off += bufs[1 + i].len;
	}
	free(data);
}

/* The 16-byte header split 4 + 4 + 8 over three descriptors. */
static void split_header(struct fixture *f, uint32_t type, uint64_t sector, struct hbuf *bufs)
{
	struct virtio_blk_outhdr hdr = {
		.type = htole32(type), .ioprio = 0, .sector = htole64(sector),
	};
	const uint8_t *p = (const uint8_t *)&hdr;

	bufs[0] = (struct hbuf){ put_buf(f, p, 4), 4, false };
	bufs[1] = (struct hbuf){ put_buf(f, p + 4, 4), 4, false };
	bufs[2] = (struct hbuf){ put_buf(f, p + 8, 8), 8, false };
}

static void test_split_header(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	struct hbuf bufs[5];
	uint64_t st;

	fill_pattern(data, sizeof(data), 5);
	split_header(f, VIRTIO_BLK_T_OUT, 40, bufs);
	bufs[3] = (struct hbuf){ put_buf(f, data, sizeof(data)), sizeof(data), false };
	st = put_status(f);
	bufs[4] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 5), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 40, data, sizeof(data));
	check_image(f);

	split_header(f, VIRTIO_BLK_T_IN, 40, bufs);
	bufs[3] = (struct hbuf){ put_buf(f, NULL, sizeof(data)), sizeof(data), true };
	st = put_status(f);
	bufs[4] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, 5), sizeof(data) + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, bufs[3].iova), expected(f, 40, sizeof(data)), sizeof(data));
}

/* Header and write data in one readable descriptor: 16 + 4096 bytes. */
static void test_header_shares_data_desc(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	uint64_t hdr = put_hdr(f, VIRTIO_BLK_T_OUT, 48);
	uint64_t st;

	fill_pattern(data, sizeof(data), 6);
	/* put_hdr and put_buf are consecutive 16-byte aligned allocations. */
	assert_int_equal(put_buf(f, data, sizeof(data)), hdr + 16);
	st = put_status(f);
	struct hbuf bufs[] = { { hdr, 16 + sizeof(data), false }, { st, 1, true } };

	assert_int_equal(run_chain(f, bufs, 2), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 48, data, sizeof(data));
	check_image(f);
}

/* The status byte is the last byte of the only writable descriptor, after the data. */
static void test_status_shares_data_desc(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8192];
	uint64_t buf;

	fill_pattern(data, sizeof(data), 7);
	do_write(f, 64, data, sizeof(data));

	buf = put_buf(f, NULL, 4096 + 1);
	struct hbuf one[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 64), 16, false },
		{ buf, 4096 + 1, true },
	};
	assert_int_equal(run_chain(f, one, 2), 4096 + 1);
	assert_memory_equal(hptr(f, buf), expected(f, 64, 4096), 4096);
	assert_int_equal(hptr(f, buf)[4096], VIRTIO_BLK_S_OK);

	/* Data over two writable descriptors, the status inside the second. */
	uint64_t a = put_buf(f, NULL, 2048), b = put_buf(f, NULL, 6144 + 1);
	struct hbuf two[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 64), 16, false },
		{ a, 2048, true },
		{ b, 6144 + 1, true },
	};
	assert_int_equal(run_chain(f, two, 3), 8192 + 1);
	assert_memory_equal(hptr(f, a), expected(f, 64, 8192), 2048);
	assert_memory_equal(hptr(f, b), expected(f, 64, 8192) + 2048, 6144);
	assert_int_equal(hptr(f, b)[6144], VIRTIO_BLK_S_OK);
	check_image(f);
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	uint8_t data[6144];
	uint64_t st;

	fill_pattern(data, sizeof(data), 8);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 500), 16, false },
		{ put_buf(f, data, 2048), 2048, false },
		{ put_buf(f, data + 2048, 4096), 4096, false },
		{ st, 1, true },
	};
	assert_int_equal(run_indirect(f, w, 4), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 500, data, sizeof(data));
	check_image(f);

	st = put_status(f);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 500), 16, false },
		{ put_buf(f, NULL, 4096), 4096, true },
		{ put_buf(f, NULL, 2048), 2048, true },
		{ st, 1, true },
	};
	assert_int_equal(run_indirect(f, r, 4), sizeof(data) + 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, r[1].iova), expected(f, 500, sizeof(data)), 4096);
	assert_memory_equal(hptr(f, r[2].iova), expected(f, 500, sizeof(data)) + 4096, 2048);
}

/* One descriptor over two adjacent IOVA regions backed by unrelated host memory. */
static void test_span_regions(void **state)
{
	struct fixture *f = *state;
	uint8_t *a = hdrv_add_region(&f->h, REGION_IOVA, 8192, RW);
	uint8_t *b = hdrv_add_region(&f->h, REGION_IOVA + 8192, 8192, RW);
	const uint64_t iova = REGION_IOVA + 8192 - 1024;
	uint8_t data[4096];
	uint64_t st;

	fill_pattern(data, sizeof(data), 9);
	memcpy(a + 8192 - 1024, data, 1024);
	memcpy(b, data + 1024, 3072);
	st = put_status(f);
	struct hbuf w[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, 300), 16, false },
		{ iova, 4096, false },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, w, 3), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 300, data, sizeof(data));
	check_image(f);

	/* READ: data and status in one writable descriptor across the boundary. */
	memset(a, 0xee, 8192);
	memset(b, 0xee, 8192);
	struct hbuf r[] = {
		{ put_hdr(f, VIRTIO_BLK_T_IN, 300), 16, false },
		{ iova, 4096 + 1, true },
	};
	assert_int_equal(run_chain(f, r, 2), 4096 + 1);
	assert_memory_equal(a + 8192 - 1024, expected(f, 300, 4096), 1024);
	assert_memory_equal(b, expected(f, 300, 4096) + 1024, 3072);
	assert_int_equal(b[3072], VIRTIO_BLK_S_OK);
	assert_int_equal(b[3073], 0xee);
	assert_int_equal(a[8192 - 1025], 0xee);
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	uint32_t len = 0;

	fill_pattern(data, sizeof(data), 10);
	do_write(f, 24, data, sizeof(data));
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	check_image(f);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	static const char serial[20] = "harness-serial-01234";
	uint8_t id[32];
	uint32_t len = 0;

	memset(id, 0xee, sizeof(id));
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_GET_ID, 0, id, 20, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(id, serial, 20);

	/* A short buffer gets the first bytes only, and nothing past it. */
	uint64_t buf = put_buf(f, NULL, 32), st = put_status(f);
	struct hbuf s[] = {
		{ put_hdr(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ buf, 10, true },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, s, 3), 11);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, buf), serial, 10);
	for (int i = 10; i < 32; i++)
		assert_int_equal(hptr(f, buf)[i], 0xee);

	/* A long buffer gets 20 bytes; used.len says so. */
	buf = put_buf(f, NULL, 32);
	st = put_status(f);
	struct hbuf l[] = {
		{ put_hdr(f, VIRTIO_BLK_T_GET_ID, 0), 16, false },
		{ buf, 32, true },
		{ st, 1, true },
	};
	assert_int_equal(run_chain(f, l, 3), 21);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_memory_equal(hptr(f, buf), serial, 20);
	for (int i = 20; i < 32; i++)
		assert_int_equal(hptr(f, buf)[i], 0xee);
	check_image(f);
}

static void expect_rw_status(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len,
			     uint8_t status)
{
	uint8_t *buf = malloc(len ? len : 1);
	uint32_t used_len = 0;

	assert_non_null(buf);
	fill_pattern(buf, len, (uint32_t)sector ^ type);
	if (type == VIRTIO_BLK_T_IN)
		memset(buf, 0xee, len);
	assert_int_equal(hdrv_blk_do(&f->h, type, sector, buf, len, &used_len), status);
	if (status != VIRTIO_BLK_S_OK) {
		/* No data for the driver: used.len covers the status byte only. */
		assert_int_equal(used_len, 1);
		if (type == VIRTIO_BLK_T_IN)
			for (uint32_t i = 0; i < len; i++)
				assert_int_equal(buf[i], 0xee);
	}
	free(buf);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;

	expect_rw_status(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 1, 1024, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS, 512, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, 1024, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS, 512, VIRTIO_BLK_S_IOERR);
	/* sector + nr_sectors wraps around 2^64. */
	expect_rw_status(f, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, 4096, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, UINT64_MAX, 512, VIRTIO_BLK_S_IOERR);
	/* sector << 9 wraps, sector + nr_sectors does not. */
	expect_rw_status(f, VIRTIO_BLK_T_OUT, (UINT64_MAX >> 9) + 1, 512, VIRTIO_BLK_S_IOERR);
	check_image(f);
	assert_valid_served(f);
}

static void test_unknown_type(void **state)
{
	struct fixture *f = *state;
	const uint32_t types[] = { 0x99, VIRTIO_BLK_T_SCSI_CMD, VIRTIO_BLK_T_SECURE_ERASE,
				   VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		expect_rw_status(f, types[i], BAD_SECTOR, 512, VIRTIO_BLK_S_UNSUPP);
	check_image(f);
	assert_valid_served(f);
}

static void test_unaligned_length(void **state)
{
	struct fixture *f = *state;

	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 1000, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 513, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, BAD_SECTOR, 1000, VIRTIO_BLK_S_IOERR);
	expect_rw_status(f, VIRTIO_BLK_T_IN, BAD_SECTOR, 511, VIRTIO_BLK_S_IOERR);
	check_image(f);
	assert_valid_served(f);
}

static void test_readonly(void **state)
{
	struct fixture *f = *state;
	dwz_seg s = seg(BAD_SECTOR, 8, 0);
	uint32_t len = 0;

	expect_rw_status(f, VIRTIO_BLK_T_OUT, BAD_SECTOR, 4096, VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	check_image(f);
	/* Reading and flushing still work. */
	do_read_check(f, BAD_SECTOR, 4096);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len), VIRTIO_BLK_S_OK);
	check_image(f);
}

/* Can the image's filesystem punch holes?  Probed on a scratch file beside it. */
static bool can_punch_holes(struct fixture *f)
{
	char path[sizeof(f->path) + 8];
	uint8_t buf[8192];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s.probe", f->path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
	close(fd);
	unlink(path);
	return ok;
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	const uint64_t sector = 64;          /* 32 KiB: 4 KiB aligned */
	uint8_t data[16384];
	dwz_seg s = seg(sector, 16, 0);      /* the first 8 KiB */
	struct stat before, after;
	uint32_t len = 0;
	int fd, status;

	fill_pattern(data, sizeof(data), 11);
	do_write(f, sector, data, sizeof(data));
	check_image(f);
	if (!f->is_null && !can_punch_holes(f)) {
		assert_int_equal(do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len), VIRTIO_BLK_S_UNSUPP);
		check_image(f);
		print_message("the image's filesystem cannot punch holes: discard not checked\n");
		skip();
	}
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(fstat(fd, &before), 0);

	status = do_dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1, &len);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	model_zero(f, sector, 8192);
	do_read_check(f, sector, sizeof(data));
	check_image(f);
	if (!f->is_null) {
		/* The range is a hole in the file now, and the blocks went away. */
		assert_int_equal(fstat(fd, &after), 0);
		assert_true(after.st_blocks + 16 <= before.st_blocks);
		assert_int_equal(lseek(fd, (off_t)sector * 512, SEEK_HOLE), (off_t)sector * 512);
		assert_int_equal(lseek(fd, (off_t)sector * 512, SEEK_DATA), (off_t)(sector + 16) * 512);
	}
	close(fd);
}

static void write_zeroes(struct fixture *f, uint32_t flags)
{
	const uint64_t sector = 72;
	uint8_t data[16384];
	dwz_seg s[2] = { seg(sector + 1, 7, flags), seg(sector + 16, 12, flags) };
	uint32_t len = 0;

	fill_pattern(data, sizeof(data), 12 + flags);
	do_write(f, sector, data, sizeof(data));
	assert_int_equal(do_dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	model_zero(f, sector + 1, 7 * 512);
	model_zero(f, sector + 16, 12 * 512);
	do_read_check(f, sector, sizeof(data));
	check_image(f);
}

static void test_write_zeroes(void **state)
{
	write_zeroes(*state, 0);
}

static void test_write_zeroes_unmap(void **state)
{
	write_zeroes(*state, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
}

/* DISCARD / WRITE_ZEROES the device must refuse, leaving the data alone. */
static void dwz_refused(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
			uint8_t status)
{
	uint32_t len = 0;

	assert_int_equal(do_dwz(f, type, segs, nr, &len), status);
	assert_int_equal(len, 1);
}

static void test_dwz_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t data[16384];
	dwz_seg s[BLK_MAX_DWZ_SEG + 1];

	fill_pattern(data, sizeof(data), 13);
	do_write(f, 64, data, sizeof(data));

	s[0] = seg(64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_UNSUPP);
	s[0] = seg(64, 8, 2);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_UNSUPP);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_UNSUPP);
	s[0] = seg(64, 8, 0x80000000u | VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_UNSUPP);
	/* One bad segment spoils the request: nothing is done, not even the good one. */
	s[0] = seg(64, 8, 0);
	s[1] = seg(80, 8, 4);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2, VIRTIO_BLK_S_UNSUPP);
	/* More segments than max_write_zeroes_seg. */
	for (unsigned int i = 0; i <= BLK_MAX_DWZ_SEG; i++)
		s[i] = seg(64 + i, 1, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, BLK_MAX_DWZ_SEG + 1, VIRTIO_BLK_S_UNSUPP);
	/* Out of range, also wrapping around 2^64. */
	s[0] = seg(IMAGE_SECTORS - 4, 8, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
	s[0] = seg(UINT64_MAX - 2, 8, 0);
	dwz_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
	check_image(f);

	/* Exactly max_write_zeroes_seg segments is fine. */
	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG; i++)
		s[i] = seg(64 + 2 * i, 1, 0);
	dwz_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, BLK_MAX_DWZ_SEG, VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < BLK_MAX_DWZ_SEG; i++)
		model_zero(f, 64 + 2 * i, 512);
	do_read_check(f, 64, sizeof(data));
	check_image(f);
}

/* 32 WRITEs published one by one, then 32 READs in one avail->idx store. */
static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	enum { N = 32, LEN = 4096 };
	uint64_t st[N], buf[N];
	uint16_t heads[N];
	bool seen[N];

	for (int i = 0; i < N; i++) {
		uint8_t data[LEN];

		fill_pattern(data, LEN, 100 + i);
		st[i] = put_status(f);
		struct hbuf b[] = {
			{ put_hdr(f, VIRTIO_BLK_T_OUT, 16 + 24 * i), 16, false },
			{ put_buf(f, data, LEN), LEN, false },
			{ st[i], 1, true },
		};
		heads[i] = hdrv_chain(&f->h, b, 3);
		model_write(f, 16 + 24 * i, data, LEN);
		hdrv_publish(&f->h, heads[i]);
	}
	memset(seen, 0, sizeof(seen));
	for (int k = 0; k < N; k++) {
		uint32_t id, len;
		int i;

		assert_int_equal(hdrv_wait_used(&f->h, &id, &len, WAIT_MS), 0);
		for (i = 0; i < N && heads[i] != id; i++)
			;
		assert_true(i < N);
		assert_false(seen[i]);
		seen[i] = true;
		assert_int_equal(len, 1);
		assert_int_equal(*hptr(f, st[i]), VIRTIO_BLK_S_OK);
	}
	check_image(f);

	for (int i = 0; i < N; i++) {
		st[i] = put_status(f);
		buf[i] = put_buf(f, NULL, LEN);
		struct hbuf b[] = {
			{ put_hdr(f, VIRTIO_BLK_T_IN, 16 + 24 * i), 16, false },
			{ buf[i], LEN, true },
			{ st[i], 1, true },
		};
		heads[i] = hdrv_chain(&f->h, b, 3);
	}
	hdrv_publish_batch(&f->h, heads, N);
	memset(seen, 0, sizeof(seen));
	for (int k = 0; k < N; k++) {
		uint32_t id, len;
		int i;

		assert_int_equal(hdrv_wait_used(&f->h, &id, &len, WAIT_MS), 0);
		for (i = 0; i < N && heads[i] != id; i++)
			;
		assert_true(i < N);
		assert_false(seen[i]);
		seen[i] = true;
		assert_int_equal(len, LEN + 1);
		assert_int_equal(*hptr(f, st[i]), VIRTIO_BLK_S_OK);
		assert_memory_equal(hptr(f, buf[i]), expected(f, 16 + 24 * i, LEN), LEN);
	}
	assert_no_used(f, 0);
}

static void test_event_idx_round_trip(void **state)
{
	struct fixture *f = *state;
	uint16_t avail_event;

	round_trip(f, 0);
	round_trip(f, IMAGE_SECTORS - 8);
	test_many_in_flight(state);
	/* The device asked to be kicked for the next entry it has not seen. */
	avail_event = le16toh(__atomic_load_n((uint16_t *)&f->h.used->ring[f->h.num],
					      __ATOMIC_RELAXED));
	assert_int_equal(avail_event, f->h.avail_idx);
	assert_valid_served(f);
}

/*
 * All of the queue's slots in flight (indirect chains take one descriptor
 * each), then a further request: the device must have asked for kicks again
 * once the slots came back, or this driver (which honours suppression) stalls.
 */
static void publish_full_queue(struct fixture *f, uint16_t *heads, uint64_t *st, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t data[1024];

		fill_pattern(data, sizeof(data), 300 + i);
		st[i] = put_status(f);
		struct hbuf b[] = {
			{ put_hdr(f, VIRTIO_BLK_T_OUT, 400 + 2 * i), 16, false },
			{ put_buf(f, data, sizeof(data)), sizeof(data), false },
			{ st[i], 1, true },
		};
		heads[i] = hdrv_chain_indirect(&f->h, b, 3);
		model_write(f, 400 + 2 * i, data, sizeof(data));
	}
}

static void collect(struct fixture *f, const uint16_t *heads, const uint64_t *st, unsigned int n)
{
	uint32_t mask = 0;

	for (unsigned int k = 0; k < n; k++) {
		uint32_t id, len;
		unsigned int i;

		assert_int_equal(hdrv_wait_used(&f->h, &id, &len, WAIT_MS), 0);
		for (i = 0; i < n && heads[i] != id; i++)
			;
		assert_true(i < n);
		assert_false(mask & (1u << i));
		mask |= 1u << i;
		assert_int_equal(len, 1);
		assert_int_equal(*hptr(f, st[i]), VIRTIO_BLK_S_OK);
	}
}

static void test_full_queue_then_more(void **state)
{
	struct fixture *f = *state;
	uint16_t heads[8];
	uint64_t st[8];

	assert_int_equal(f->h.num, 8);
	for (int round = 0; round < 3; round++) {
		publish_full_queue(f, heads, st, 8);
		hdrv_publish_batch(&f->h, heads, 8);
		collect(f, heads, st, 8);
		check_image(f);
		assert_valid_served(f);
	}
}

/*
 * Eight requests hold all eight slots (the gate keeps them in flight); a
 * ninth chain can only reuse a head in flight.
 */
static void test_more_chains_than_queue(void **state)
{
	struct fixture *f = *state;
	uint16_t heads[8];
	uint64_t st[8];

	publish_full_queue(f, heads, st, 8);
	hdrv_publish_batch(&f->h, heads, 8);
	gate_wait_held(8);
	hdrv_publish(&f->h, heads[3]);
	eventfd_write(f->h.kick_fd, 1);   /* the device did not ask for it: kick anyway */
	wait_broken(f);
	assert_no_used(f, 0);
	gate_open();
	collect(f, heads, st, 8);
	assert_no_used(f, QUIET_MS);
	check_image(f);
}

/* A head published again while the request it names is still in flight. */
static void test_duplicate_head_in_flight(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	struct hreq r;
	uint32_t len;

	fill_pattern(data, sizeof(data), 801);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 16, data, sizeof(data));
	hdrv_blk_submit(&f->h, &r);
	gate_wait_held(1);
	hdrv_publish(&f->h, r.head);
	eventfd_write(f->h.kick_fd, 1);
	wait_broken(f);
	gate_open();
	wait_used(f, r.head, &len);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(__atomic_load_n(&gate_nr_held, __ATOMIC_ACQUIRE), 1);
	check_image(f);
}

/* ---- notifications ----------------------------------------------------- */

/* Like hdrv_wait_used(), but without touching the call eventfd. */
static void take_used_quietly(struct fixture *f, uint16_t head, uint32_t want_len)
{
	struct timespec ms = { 0, 1000000L };
	struct vring_used_elem *e;

	for (int i = 0; i < WAIT_MS && hdrv_used_idx(&f->h) == f->h.last_used_idx; i++)
		nanosleep(&ms, NULL);
	assert_int_not_equal(hdrv_used_idx(&f->h), f->h.last_used_idx);
	e = &f->h.used->ring[f->h.last_used_idx % f->h.num];
	assert_int_equal(le32toh(e->id), head);
	assert_int_equal(le32toh(e->len), want_len);
	f->h.last_used_idx++;
}

static bool call_signalled(struct fixture *f, int ms)
{
	struct timespec one = { 0, 1000000L };
	eventfd_t v;

	for (int i = 0; i <= ms; i++) {
		if (eventfd_read(f->h.call_fd, &v) == 0)
			return true;
		assert_int_equal(errno, EAGAIN);
		nanosleep(&one, NULL);
	}
	return false;
}

static void write_quietly(struct fixture *f, uint64_t sector, uint32_t seed)
{
	uint8_t data[2048];
	struct hreq r;

	fill_pattern(data, sizeof(data), seed);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, sector, data, sizeof(data));
	hdrv_blk_submit(&f->h, &r);
	take_used_quietly(f, r.head, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	model_write(f, sector, data, sizeof(data));
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	__atomic_store_n(&f->h.avail->ring[f->h.num], htole16(v), __ATOMIC_SEQ_CST);
}

static void test_event_idx_suppresses_interrupts(void **state)
{
	struct fixture *f = *state;
	eventfd_t v;

	/* The first used entry after start may always interrupt. */
	assert_valid_served(f);
	eventfd_read(f->h.call_fd, &v);

	/* used_event far ahead: used entries appear, interrupts do not. */
	set_used_event(f, (uint16_t)(f->h.last_used_idx + 100));
	for (int i = 0; i < 3; i++)
		write_quietly(f, 16 + 4 * i, 400 + i);
	assert_false(call_signalled(f, 100));
	check_image(f);

	/* used_event just passed (also across a wrap of the difference). */
	set_used_event(f, (uint16_t)(f->h.last_used_idx - 1));
	write_quietly(f, 40, 410);
	assert_false(call_signalled(f, 100));

	/* used_event at the next entry: exactly that one interrupts. */
	set_used_event(f, f->h.last_used_idx);
	write_quietly(f, 48, 411);
	assert_true(call_signalled(f, WAIT_MS));
	check_image(f);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	eventfd_t v;

	assert_valid_served(f);
	eventfd_read(f->h.call_fd, &v);

	__atomic_store_n(&f->h.avail->flags, htole16(VRING_AVAIL_F_NO_INTERRUPT), __ATOMIC_SEQ_CST);
	for (int i = 0; i < 3; i++)
		write_quietly(f, 16 + 4 * i, 500 + i);
	assert_false(call_signalled(f, 100));

	__atomic_store_n(&f->h.avail->flags, 0, __ATOMIC_SEQ_CST);
	write_quietly(f, 40, 510);
	assert_true(call_signalled(f, WAIT_MS));
	check_image(f);
}

/* ---- malformed chains --------------------------------------------------- */

/* The pieces of a WRITE of a distinct pattern at BAD_SECTOR, status preset 0xff. */
struct bad {
	uint64_t hdr, data, status;
};

static void bad_init(struct fixture *f, struct bad *b)
{
	uint8_t data[512];

	fill_pattern(data, sizeof(data), 0xbad);
	b->hdr = put_hdr(f, VIRTIO_BLK_T_OUT, BAD_SECTOR);
	b->data = put_buf(f, data, sizeof(data));
	b->status = put_status(f);
}

/*
 * The chain at @head came back with used.len 0 for @err (VQ_ERR_NONE: the
 * chain was fine for the ring but not as a request), its status byte and the
 * image are untouched, and the queue serves the next request.
 */
static void assert_rejected(struct fixture *f, uint16_t head, const uint8_t *status,
			    enum vq_err err)
{
	uint32_t len = 0xdead;

	wait_used(f, head, &len);
	assert_int_equal(len, 0);
	assert_int_equal(*status, 0xff);
	assert_int_equal(f->h.q.stats.nr_bad_chains, 1);
	if (err != VQ_ERR_NONE)
		assert_string_equal(vq_err_str(f->h.q.vq.last_err), vq_err_str(err));
	check_image(f);
	assert_valid_served(f);
	assert_false(__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE));
}

static void publish_bad(struct fixture *f, uint16_t head, const uint8_t *status, enum vq_err err)
{
	hdrv_publish(&f->h, head);
	assert_rejected(f, head, status, err);
}

static void test_bad_loop(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint16_t d[5];

	bad_init(f, &b);
	for (int i = 0; i < 5; i++)
		d[i] = hdrv_alloc_desc(&f->h);
	/* Zero-length descriptors in the cycle: without the bound the walk never ends. */
	hdrv_set_desc(&f->h, d[0], b.hdr, 16, VRING_DESC_F_NEXT, d[1]);
	hdrv_set_desc(&f->h, d[1], b.data, 512, VRING_DESC_F_NEXT, d[2]);
	hdrv_set_desc(&f->h, d[2], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	hdrv_set_desc(&f->h, d[3], b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[4]);
	hdrv_set_desc(&f->h, d[4], b.status, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	publish_bad(f, d[0], hptr(f, b.status), VQ_ERR_LOOP);
}

/* A cycle of non-empty buffers ends at the table size, before the slot's iovecs run out. */
static void test_bad_loop_nonempty(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint16_t d[4];

	assert_true(f->h.q.iov_per_req > f->h.num);
	bad_init(f, &b);
	for (int i = 0; i < 4; i++)
		d[i] = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, d[0], b.hdr, 16, VRING_DESC_F_NEXT, d[1]);
	hdrv_set_desc(&f->h, d[1], b.data, 512, VRING_DESC_F_NEXT, d[2]);
	hdrv_set_desc(&f->h, d[2], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[3]);
	hdrv_set_desc(&f->h, d[3], b.status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d[2]);
	publish_bad(f, d[0], hptr(f, b.status), VQ_ERR_LOOP);
}

static void test_bad_loop_indirect(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint64_t t;
	uint16_t head;

	bad_init(f, &b);
	t = hdrv_alloc(&f->h, 5 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);
	tab[0] = (struct vring_desc){ htole64(b.hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b.data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(2) };
	tab[2] = (struct vring_desc){ htole64(b.status), htole32(1),
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(3) };
	tab[3] = (struct vring_desc){ htole64(b.status), 0,
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(4) };
	tab[4] = (struct vring_desc){ htole64(b.status), 0,
				      htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(3) };
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, t, 5 * 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_LOOP);
}

static void test_bad_next_range(void **state)
{
	struct fixture *f = *state;
	const uint16_t nexts[] = { 64, 0xffff };

	for (size_t k = 0; k < 2; k++) {
		struct bad b;
		uint16_t d0 = hdrv_alloc_desc(&f->h), d1 = hdrv_alloc_desc(&f->h);

		bad_init(f, &b);
		hdrv_set_desc(&f->h, d0, b.hdr, 16, VRING_DESC_F_NEXT, d1);
		hdrv_set_desc(&f->h, d1, b.data, 512, VRING_DESC_F_NEXT, nexts[k]);
		f->h.q.stats.nr_bad_chains = 0;
		publish_bad(f, d0, hptr(f, b.status), VQ_ERR_NEXT_RANGE);
	}
}

/* In an indirect table the limit is the table's size, not the queue's. */
static void test_bad_next_range_indirect(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint64_t t;
	uint16_t head;

	bad_init(f, &b);
	t = hdrv_alloc(&f->h, 3 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);
	tab[0] = (struct vring_desc){ htole64(b.hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b.data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(3) };
	tab[2] = (struct vring_desc){ htole64(b.status), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, t, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_NEXT_RANGE);
}

/* A head outside the table names nothing: skipped, no used entry, the next one served. */
static void test_bad_head_range(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	struct hreq r;
	uint16_t heads[3];
	uint32_t len;

	fill_pattern(data, sizeof(data), 600);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 96, data, sizeof(data));
	struct hbuf b[] = {
		{ r.hdr_iova, 16, false }, { r.data_iova, sizeof(data), false }, { r.status_iova, 1, true },
	};
	heads[0] = 64;
	heads[1] = 0xffff;
	heads[2] = hdrv_chain(&f->h, b, 3);
	hdrv_publish_batch(&f->h, heads, 3);
	wait_used(f, heads[2], &len);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	model_write(f, 96, data, sizeof(data));
	assert_no_used(f, 50);
	assert_int_equal(f->h.q.vq.last_err, VQ_ERR_HEAD_RANGE);
	assert_int_equal(f->h.q.vq.nr_bad_chains, 2);
	check_image(f);
	assert_valid_served(f);
}

static void test_bad_addr_overflow(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ UINT64_MAX - 255, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_ADDR_OVERFLOW);
}

static void test_bad_unmapped(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ 0x1000, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* The buffer starts mapped but runs past the end of the arena. */
static void test_bad_partly_mapped(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	struct hbuf bufs[3];
	uint64_t end = HDRV_ARENA_IOVA + f->h.arena_bytes;

	bad_init(f, &b);
	memset(hptr(f, end - 256), 0xab, 256);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ end - 256, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* A device-writable descriptor (the status) in a region the device may only read. */
static void test_bad_write_to_readonly_region(void **state)
{
	struct fixture *f = *state;
	uint8_t *ro = hdrv_add_region(&f->h, REGION_IOVA, 4096, MEM_READ);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	ro[100] = 0xff;
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	bufs[2] = (struct hbuf){ REGION_IOVA + 100, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), ro + 100, VQ_ERR_FAULT);
}

/* A device-readable descriptor (the data) in a region the device may only write. */
static void test_bad_read_from_writeonly_region(void **state)
{
	struct fixture *f = *state;
	uint8_t *wo = hdrv_add_region(&f->h, REGION_IOVA, 4096, MEM_WRITE);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	memcpy(wo, hptr(f, b.data), 512);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ REGION_IOVA, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_FAULT);
}

/* A valid indirect table for the bad WRITE: header, data, status. */
static uint64_t bad_table(struct fixture *f, const struct bad *b)
{
	uint64_t t = hdrv_alloc(&f->h, 3 * 16);
	struct vring_desc *tab = hdrv_ptr(&f->h, t);

	tab[0] = (struct vring_desc){ htole64(b->hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	tab[1] = (struct vring_desc){ htole64(b->data), htole32(512), htole16(VRING_DESC_F_NEXT), htole16(2) };
	tab[2] = (struct vring_desc){ htole64(b->status), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	return t;
}

static void test_bad_nested_indirect(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint64_t inner, outer;
	uint16_t head;

	bad_init(f, &b);
	inner = bad_table(f, &b);
	outer = hdrv_alloc(&f->h, 16);
	*(struct vring_desc *)hdrv_ptr(&f->h, outer) = (struct vring_desc){
		htole64(inner), htole32(3 * 16), htole16(VRING_DESC_F_INDIRECT), 0,
	};
	head = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, head, outer, 16, VRING_DESC_F_INDIRECT, 0);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_NESTED_INDIRECT);
}

static void test_bad_indirect_len(void **state)
{
	struct fixture *f = *state;
	const uint32_t lens[] = { 40, 0, 3 * 16 + 1 };

	for (size_t k = 0; k < 3; k++) {
		struct bad b;
		uint16_t head;

		bad_init(f, &b);
		head = hdrv_alloc_desc(&f->h);
		hdrv_set_desc(&f->h, head, bad_table(f, &b), lens[k], VRING_DESC_F_INDIRECT, 0);
		f->h.q.stats.nr_bad_chains = 0;
		publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_LEN);
	}
}

/* A table of queue size + 1 entries (a well-formed chain otherwise). */
static void test_bad_indirect_too_large(void **state)
{
	struct fixture *f = *state;
	const unsigned int n = f->h.num + 1u;
	struct hbuf *bufs = calloc(n, sizeof(*bufs));
	struct bad b;
	uint16_t head;

	assert_non_null(bufs);
	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	for (unsigned int i = 2; i < n - 1; i++)
		bufs[i] = (struct hbuf){ b.data, 0, false };
	bufs[n - 1] = (struct hbuf){ b.status, 1, true };
	head = hdrv_chain_indirect(&f->h, bufs, n);
	free(bufs);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_LEN);
}

static void test_bad_indirect_with_next(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	uint16_t head, other;

	bad_init(f, &b);
	head = hdrv_alloc_desc(&f->h);
	other = hdrv_alloc_desc(&f->h);
	hdrv_set_desc(&f->h, other, b.status, 1, VRING_DESC_F_WRITE, 0);
	hdrv_set_desc(&f->h, head, bad_table(f, &b), 3 * 16,
		      VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, other);
	publish_bad(f, head, hptr(f, b.status), VQ_ERR_INDIRECT_NEXT);
}

static void test_bad_read_after_write(void **state)
{
	struct fixture *f = *state;
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.status, 1, true };
	bufs[2] = (struct hbuf){ b.data, 512, false };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_READ_AFTER_WRITE);
}

/* Queue of 512: seg_max is 254, a slot holds 270 iovecs; 300 data descriptors do not fit. */
static void test_bad_too_many_segments(void **state)
{
	struct fixture *f = *state;
	enum { NR_DATA = 300 };
	struct hbuf bufs[NR_DATA + 2];
	uint8_t data[512];
	struct bad b;

	assert_int_equal(f->h.num, 512);
	assert_true(NR_DATA + 2 > f->h.q.iov_per_req);
	bad_init(f, &b);
	fill_pattern(data, sizeof(data), 0xbad);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	for (int i = 0; i < NR_DATA; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, data, 512), 512, false };
	bufs[NR_DATA + 1] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, NR_DATA + 2), hptr(f, b.status),
		    VQ_ERR_TOO_MANY_SEGS);
}

/* What the device advertises (seg_max data segments) must work. */
static void test_seg_max_segments(void **state)
{
	struct fixture *f = *state;
	const unsigned int nr = blk_seg_max(f->h.num);
	struct hbuf *bufs = calloc(nr + 2, sizeof(*bufs));
	uint8_t *data = malloc(nr * 512);
	uint64_t st;

	assert_non_null(bufs);
	assert_non_null(data);
	fill_pattern(data, nr * 512, 700);
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_OUT, 1000), 16, false };
	for (unsigned int i = 0; i < nr; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, data + i * 512, 512), 512, false };
	st = put_status(f);
	bufs[nr + 1] = (struct hbuf){ st, 1, true };
	assert_int_equal(run_chain(f, bufs, nr + 2), 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 1000, data, nr * 512);
	check_image(f);
	do_read_check(f, 1000, nr * 512);
	free(bufs);
	free(data);
}

/*
 * A valid READ first, so that the slot the bad request lands in held a status
 * pointer; that byte is reset to 0xff and must stay so.
 */
static uint8_t *prime_slot(struct fixture *f)
{
	struct hreq r;
	uint32_t len;

	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_IN, 0, NULL, 512);
	hdrv_blk_submit(&f->h, &r);
	wait_used(f, r.head, &len);
	assert_int_equal(len, 513);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	*hptr(f, r.status_iova) = 0xff;
	return hptr(f, r.status_iova);
}

/* Nothing device-writable: no place for a status byte. */
static void test_bad_no_status(void **state)
{
	struct fixture *f = *state;
	uint8_t *old = prime_slot(f);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 16, false };
	bufs[1] = (struct hbuf){ b.data, 512, false };
	bufs[2] = (struct hbuf){ b.status, 1, false };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_NONE);
	assert_int_equal(*old, 0xff);
}

/* Only 12 readable bytes (4 + 8): no complete header. */
static void test_bad_short_header(void **state)
{
	struct fixture *f = *state;
	uint8_t *old = prime_slot(f);
	struct bad b;
	struct hbuf bufs[3];

	bad_init(f, &b);
	bufs[0] = (struct hbuf){ b.hdr, 4, false };
	bufs[1] = (struct hbuf){ b.hdr + 4, 8, false };
	bufs[2] = (struct hbuf){ b.status, 1, true };
	publish_bad(f, hdrv_chain(&f->h, bufs, 3), hptr(f, b.status), VQ_ERR_NONE);
	assert_int_equal(*old, 0xff);
}

/* avail->idx jumps by more than the queue size: the ring is nonsense, the queue stops. */
static void test_bad_avail_idx(void **state)
{
	struct fixture *f = *state;
	struct hreq r;

	hdrv_publish_idx(&f->h, (uint16_t)(f->h.num + 1));
	assert_no_used(f, QUIET_MS);
	assert_true(__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE));

	/* Stopped until reset: a valid request is not served. */
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, BAD_SECTOR, NULL, 512);
	hdrv_blk_submit(&f->h, &r);
	eventfd_write(f->h.kick_fd, 1);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(hdrv_status(&f->h, &r), 0xff);
	check_image(f);
}

/*
 * One head published twice in one avail->idx store: the second pop finds it
 * in flight (the backend reports completions only when the loop waits, after
 * the whole batch is popped), which only a broken driver can cause.
 */
static void test_bad_duplicate_head(void **state)
{
	struct fixture *f = *state;
	uint8_t data[4096];
	struct hreq r, later;
	uint16_t heads[2];
	uint32_t len;

	fill_pattern(data, sizeof(data), 800);
	hdrv_blk_req(&f->h, &r, VIRTIO_BLK_T_OUT, 16, data, sizeof(data));
	struct hbuf b[] = {
		{ r.hdr_iova, 16, false }, { r.data_iova, sizeof(data), false }, { r.status_iova, 1, true },
	};
	heads[0] = heads[1] = hdrv_chain(&f->h, b, 3);
	hdrv_publish_batch(&f->h, heads, 2);
	/* The first one was started and completes. */
	wait_used(f, heads[0], &len);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_status(&f->h, &r), VIRTIO_BLK_S_OK);
	model_write(f, 16, data, sizeof(data));
	assert_no_used(f, QUIET_MS);
	assert_true(__atomic_load_n(&f->h.q.vq.is_broken, __ATOMIC_ACQUIRE));

	hdrv_blk_req(&f->h, &later, VIRTIO_BLK_T_OUT, BAD_SECTOR, NULL, 512);
	hdrv_blk_submit(&f->h, &later);
	eventfd_write(f->h.kick_fd, 1);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(hdrv_status(&f->h, &later), 0xff);
	check_image(f);
}

#define T(fn, o) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &(o))

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rw_first_sector, o_uring),
		T(test_rw_first_sector, o_null),
		T(test_rw_last_sectors, o_uring),
		T(test_rw_last_sectors, o_null),
		T(test_multi_segment, o_uring),
		T(test_multi_segment, o_null),
		T(test_split_header, o_uring),
		T(test_split_header, o_null),
		T(test_header_shares_data_desc, o_uring),
		T(test_status_shares_data_desc, o_uring),
		T(test_status_shares_data_desc, o_null),
		T(test_indirect, o_uring),
		T(test_indirect, o_null),
		T(test_span_regions, o_uring),
		T(test_span_regions, o_null),
		T(test_flush, o_uring),
		T(test_flush, o_null),
		T(test_get_id, o_uring),
		T(test_get_id, o_null),
		T(test_out_of_range, o_uring),
		T(test_out_of_range, o_null),
		T(test_unknown_type, o_uring),
		T(test_unknown_type, o_null),
		T(test_unaligned_length, o_uring),
		T(test_unaligned_length, o_null),
		T(test_readonly, o_uring_ro),
		T(test_readonly, o_null_ro),
		T(test_discard, o_uring),
		T(test_discard, o_null),
		T(test_write_zeroes, o_uring),
		T(test_write_zeroes, o_null),
		T(test_write_zeroes_unmap, o_uring),
		T(test_write_zeroes_unmap, o_null),
		T(test_dwz_refused, o_uring),
		T(test_dwz_refused, o_null),
		T(test_many_in_flight, o_uring_q128),
		T(test_many_in_flight, o_null_q128),
		T(test_event_idx_round_trip, o_uring_ev),
		T(test_event_idx_round_trip, o_null_ev),
		T(test_full_queue_then_more, o_uring_q8),
		T(test_full_queue_then_more, o_null_q8),
		T(test_full_queue_then_more, o_uring_q8_ev),
		T(test_more_chains_than_queue, o_gate_q8),
		T(test_duplicate_head_in_flight, o_gate),
		T(test_event_idx_suppresses_interrupts, o_uring_ev),
		T(test_event_idx_suppresses_interrupts, o_null_ev),
		T(test_no_interrupt_flag, o_uring),
		T(test_no_interrupt_flag, o_null),
		T(test_seg_max_segments, o_uring_q512),
		T(test_bad_loop, o_uring),
		T(test_bad_loop_nonempty, o_uring),
		T(test_bad_loop_indirect, o_uring),
		T(test_bad_next_range, o_uring),
		T(test_bad_next_range_indirect, o_uring),
		T(test_bad_head_range, o_uring),
		T(test_bad_addr_overflow, o_uring),
		T(test_bad_unmapped, o_uring),
		T(test_bad_partly_mapped, o_uring),
		T(test_bad_write_to_readonly_region, o_uring),
		T(test_bad_read_from_writeonly_region, o_uring),
		T(test_bad_nested_indirect, o_uring),
		T(test_bad_indirect_len, o_uring),
		T(test_bad_indirect_too_large, o_uring),
		T(test_bad_indirect_with_next, o_uring),
		T(test_bad_read_after_write, o_uring),
		T(test_bad_too_many_segments, o_uring_q512),
		T(test_bad_no_status, o_uring),
		T(test_bad_no_status, o_null),
		T(test_bad_short_header, o_uring),
		T(test_bad_short_header, o_null),
		T(test_bad_avail_idx, o_uring),
		T(test_bad_duplicate_head, o_uring),
		T(test_bad_duplicate_head, o_null),
	};

	return cmocka_run_group_tests_name("datapath", tests, NULL, NULL);
}
