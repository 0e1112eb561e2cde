// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's real memory path: the queue reads driver memory through its
 * iotlb_view over a struct iotlb, regions come from a memfd through a fake
 * VDUSE_IOTLB_GET_FD, and the test plays UPDATE_IOTLB (hdrv_iotlb_update())
 * at the worst moments: between two buffers of one chain, while a request is
 * stuck in the backend, and from another thread all the time.
 *
 * munmap() is wrapped (-Wl,--wrap=munmap): an unmapped range becomes
 * PROT_NONE and is never handed out again, so a queue that touches memory it
 * has let go of crashes here instead of scribbling on whatever the next
 * mmap() put at the same address.
 *
 * Also the device's own failures (GET_FD failing, a backend that cannot
 * start): the driver must see IOERR, not a stale status byte.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hcommon.h"

int __wrap_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	return p == MAP_FAILED ? -1 : 0;
}

static struct hdrv_opts o_mem = { .queue_size = 64, .backend = "io_uring", .is_iotlb = true };
static struct hdrv_opts o_mem_gate = { .queue_size = 64, .backend_ops = &gate_ops,
				       .is_iotlb = true };

#define PAGE 4096u
#define A_IOVA REGION_IOVA                   /* header and status */
#define B_IOVA (REGION_IOVA + 0x100000)      /* data */
#define REGION_BYTES (16 * PAGE)
#define DATA_BYTES 4096u

/* Two regions, each its own IOTLB entry: headers and status in A, data in B. */
struct layout {
	uint8_t *a, *b;
};

static struct layout add_regions(struct fixture *f)
{
	struct layout l = {
		hdrv_add_region(&f->h, A_IOVA, REGION_BYTES, RW),
		hdrv_add_region(&f->h, B_IOVA, REGION_BYTES, RW),
	};
	return l;
}

/* Request @slot's header, data and status, at fixed places in A and B. */
static uint64_t hdr_iova(unsigned int slot) { return A_IOVA + slot * 64; }
static uint64_t status_iova(unsigned int slot) { return A_IOVA + slot * 64 + 32; }
static uint64_t data_iova(unsigned int slot) { return B_IOVA + slot * (uint64_t)DATA_BYTES; }

static uint16_t build(struct fixture *f, const struct layout *l, unsigned int slot,
		      uint32_t type, uint64_t sector, const void *data)
{
	struct virtio_blk_outhdr *hdr = (void *)(l->a + slot * 64);
	bool is_read = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct hbuf bufs[] = {
		{ hdr_iova(slot), 16, false },
		{ data_iova(slot), DATA_BYTES, is_read },
		{ status_iova(slot), 1, true },
	};

	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	l->a[slot * 64 + 32] = 0xff;
	if (data)
		memcpy(l->b + slot * DATA_BYTES, data, DATA_BYTES);
	else
		memset(l->b + slot * DATA_BYTES, 0xee, DATA_BYTES);
	return hdrv_chain(&f->h, bufs, 3);
}

/* Run request @slot to completion; returns its status byte, used.len in *ret_len. */
static uint8_t run(struct fixture *f, const struct layout *l, unsigned int slot, uint32_t type,
		   uint64_t sector, const void *data, uint32_t *ret_len)
{
	uint16_t head = build(f, l, slot, type, sector, data);

	hdrv_publish(&f->h, head);
	wait_used(f, head, ret_len);
	return l->a[slot * 64 + 32];
}

static void write_read_check(struct fixture *f, const struct layout *l, uint64_t sector,
			     uint32_t seed)
{
	uint8_t data[DATA_BYTES];
	uint32_t len;

	fill_pattern(data, sizeof(data), seed);
	assert_int_equal(run(f, l, 0, VIRTIO_BLK_T_OUT, sector, data, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	model_write(f, sector, data, sizeof(data));
	assert_int_equal(run(f, l, 1, VIRTIO_BLK_T_IN, sector, NULL, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, DATA_BYTES + 1);
	assert_memory_equal(l->b + DATA_BYTES, data, DATA_BYTES);
}

/* ---- defect 1: an update between two buffers of one chain ---------------- */

static bool is_armed;

/* When the queue looks up the data buffer (in B), the driver remaps A. */
static void update_a_before_b(struct hdrv *h, uint64_t iova)
{
	if (iova < B_IOVA || iova >= B_IOVA + REGION_BYTES ||
	    !__atomic_exchange_n(&is_armed, false, __ATOMIC_ACQ_REL))
		return;
	hdrv_iotlb_update(h, A_IOVA, A_IOVA + REGION_BYTES - 1);
}

static void test_update_between_buffers(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);

	__atomic_store_n(&f->h.on_lookup, update_a_before_b, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < 20; i++) {
		/*
		 * The header (in A) is translated, then A is remapped while B is
		 * looked up: the header's mapping must outlive the request.
		 */
		__atomic_store_n(&is_armed, true, __ATOMIC_RELEASE);
		write_read_check(f, &l, 8 * i, 100 + i);
		assert_false(__atomic_load_n(&is_armed, __ATOMIC_ACQUIRE));
	}
	__atomic_store_n(&f->h.on_lookup, NULL, __ATOMIC_RELEASE);
	check_image(f);
	/* Nothing in flight: no retired mapping is left behind. */
	assert_int_equal(iotlb_view_nr_retired(&f->h.view), 0);
}

/* ---- defect 4: remaps behind a request stuck in the backend -------------- */

static void test_remap_storm_behind_stuck_request(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	uint16_t stuck = build(f, &l, 0, VIRTIO_BLK_T_IN, 0, NULL);
	unsigned int most = 0;
	uint32_t len;

	hdrv_publish(&f->h, stuck);
	gate_wait_held(1);
	for (unsigned int i = 0; i < 1000; i++) {
		unsigned int n;

		hdrv_iotlb_update(&f->h, 0, UINT64_MAX);
		/* Descriptors 0..2 belong to the stuck chain: skip them. */
		if (f->h.next_desc < 3)
			f->h.next_desc = 3;
		/* GET_ID is answered without the backend: it completes past the stuck one. */
		assert_int_equal(run(f, &l, 1, VIRTIO_BLK_T_GET_ID, 0, NULL,
				     &len), VIRTIO_BLK_S_OK);
		assert_int_equal(len, VIRTIO_BLK_ID_BYTES + 1);
		n = hdrv_nr_device_maps(&f->h);
		if (n > most)
			most = n;
	}
	/* The rings (arena), the stuck chain's A and B, today's A and B: a few, not 1000. */
	assert_true(most <= 8);
	gate_open();
	wait_used(f, stuck, &len);
	assert_int_equal(l.a[32], VIRTIO_BLK_S_OK);
	assert_int_equal(iotlb_view_nr_retired(&f->h.view), 0);
}

/* ---- updates racing pops and completions from another thread ------------- */

struct racer {
	struct hdrv *h;
	bool is_done;
	unsigned long nr_updates;
};

static void *race_updates(void *arg)
{
	struct racer *r = arg;
	unsigned int seed = 1;

	while (!__atomic_load_n(&r->is_done, __ATOMIC_ACQUIRE)) {
		switch (rand_r(&seed) % 4) {
		case 0:
			hdrv_iotlb_update(r->h, A_IOVA, A_IOVA + REGION_BYTES - 1);
			break;
		case 1:
			hdrv_iotlb_update(r->h, B_IOVA + PAGE, B_IOVA + PAGE);
			break;
		case 2:
			/* The rings too: the queue translates them again. */
			hdrv_iotlb_update(r->h, HDRV_ARENA_IOVA, HDRV_ARENA_IOVA);
			break;
		default:
			hdrv_iotlb_update(r->h, 0, UINT64_MAX);
			break;
		}
		r->nr_updates++;
		if (rand_r(&seed) % 2)
			sched_yield();
	}
	return NULL;
}

static void test_updates_race_requests(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	struct racer r = { .h = &f->h };
	const char *env = getenv("VDB_RACE_ROUNDS");
	unsigned int rounds = env ? (unsigned int)atoi(env) : 2000;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, race_updates, &r), 0);
	for (unsigned int i = 0; i < rounds; i++)
		write_read_check(f, &l, 8 * (i % 200), i);
	__atomic_store_n(&r.is_done, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(r.nr_updates > 0);
	check_image(f);
	assert_int_equal(iotlb_view_nr_retired(&f->h.view), 0);
	assert_true(hdrv_nr_device_maps(&f->h) <= 4);
}

/* ---- a reset while the backend is stalled ---------------------------------- */


static bool is_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Abandon the queue with what the gate holds; returns its quiet eventfd. */
static int abandon(struct fixture *f)
{
	struct timespec ms = { 0, 1000000L };
	int quiet = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(quiet >= 0);
	blk_queue_set_quiet_fd(f->h.q, quiet);
	blk_queue_stop(f->h.q);
	blk_queue_abandon(f->h.q);
	for (int i = 0; i < WAIT_MS && !blk_queue_has_let_go(f->h.q); i++)
		nanosleep(&ms, NULL);
	assert_true(blk_queue_has_let_go(f->h.q));
	return quiet;
}

/*
 * The driver resets while a READ is stuck in the backend (a hung image): the
 * queue lets go of the rings at once, and when the READ finally completes
 * neither its data nor its status nor a used entry reaches driver memory,
 * which the driver may have reused by then.
 */
static void test_abandon_stalled_request(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	uint16_t used_before, head;

	__atomic_store_n(&gate_late_fill, 0xab, __ATOMIC_RELEASE);
	head = build(f, &l, 0, VIRTIO_BLK_T_IN, 0, NULL);
	hdrv_publish(&f->h, head);
	gate_wait_held(1);
	used_before = hdrv_used_idx(&f->h);
	close(abandon(f));
	/* The backend comes back: the thread ends, having touched nothing of the driver's. */
	gate_open();
	assert_int_equal(hdrv_join(&f->h), 0);
	assert_int_equal(hdrv_used_idx(&f->h), used_before);
	assert_int_equal(l.a[32], 0xff);
	for (unsigned int k = 0; k < DATA_BYTES; k++)
		assert_int_equal(l.b[k], 0xee);
}

/*
 * The next start of the queue may serve once no abandoned request can change
 * the image any more: a stalled WRITE keeps it waiting, a stalled READ not.
 */
static void test_abandoned_write_keeps_queue_quiet(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	uint8_t data[DATA_BYTES];
	int quiet;

	fill_pattern(data, sizeof(data), 3);
	hdrv_publish(&f->h, build(f, &l, 0, VIRTIO_BLK_T_IN, 0, NULL));
	hdrv_publish(&f->h, build(f, &l, 1, VIRTIO_BLK_T_OUT, 8, data));
	gate_wait_held(2);
	quiet = abandon(f);
	assert_false(is_readable(quiet));
	gate_open();
	assert_int_equal(hdrv_join(&f->h), 0);
	assert_true(is_readable(quiet));
	close(quiet);
}

static void test_abandoned_read_does_not(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	int quiet;

	hdrv_publish(&f->h, build(f, &l, 0, VIRTIO_BLK_T_IN, 0, NULL));
	gate_wait_held(1);
	quiet = abandon(f);
	assert_true(is_readable(quiet));
	gate_open();
	assert_int_equal(hdrv_join(&f->h), 0);
	close(quiet);
}

/* ---- defect 7: the device's own failures reach the driver as IOERR ------- */

static void test_device_fault_gets_ioerr(void **state)
{
	struct fixture *f = fixture_get(state);
	struct layout l = add_regions(f);
	uint8_t data[DATA_BYTES];
	uint32_t len;

	fill_pattern(data, sizeof(data), 7);
	/* The daemon cannot map the data buffer (out of fds): IOERR, nothing written. */
	hdrv_fail_get_fd(&f->h, B_IOVA, B_IOVA + REGION_BYTES - 1, -EMFILE);
	assert_int_equal(run(f, &l, 0, VIRTIO_BLK_T_OUT, 16, data, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(run(f, &l, 1, VIRTIO_BLK_T_IN, 16, NULL, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(QSTAT(f, nr_device_faults), 2);
	assert_int_equal(QSTAT(f, nr_bad_chains), 0);
	check_image(f);
	/* The status byte itself out of reach: nothing better than used.len 0. */
	hdrv_fail_get_fd(&f->h, A_IOVA, A_IOVA + REGION_BYTES - 1, -EMFILE);
	hdrv_iotlb_update(&f->h, A_IOVA, A_IOVA);   /* so that A is fetched again */
	assert_int_equal(run(f, &l, 2, VIRTIO_BLK_T_OUT, 16, data, &len), 0xff);
	assert_int_equal(len, 0);
	assert_int_equal(QSTAT(f, nr_device_faults), 3);
	/* A driver fault stays the driver's: an unmapped buffer is a bad chain. */
	hdrv_fail_get_fd(&f->h, 0, 0, 0);
	{
		struct hbuf bad[] = {
			{ hdr_iova(3), 16, false }, { 0x7000000000ULL, DATA_BYTES, false },
			{ status_iova(3), 1, true },
		};
		l.a[3 * 64 + 32] = 0xff;
		assert_int_equal(run_chain(f, bad, 3), 0);
		assert_int_equal(QSTAT(f, nr_bad_chains), 1);
	}
	/* The device recovered: the same write goes through. */
	write_read_check(f, &l, 16, 7);
	check_image(f);
}

/* A backend that cannot start its queue (io_uring refused, out of memory...). */
static int failing_queue_init(const struct image *img, int kick_fd, unsigned int depth,
			      struct backend_queue **ret_bq)
{
	(void)img;
	(void)kick_fd;
	(void)depth;
	(void)ret_bq;
	return -ENOMEM;
}

/* The queue serves on through the null backend: its calls. */
static const struct sandbox_syscall failing_syscalls[] = {
	FD_IMAGE_SYSCALLS,
};

static const struct backend_ops failing_ops = {
	.name = "failing",
	.syscalls = failing_syscalls,
	.nr_syscalls = sizeof(failing_syscalls) / sizeof(failing_syscalls[0]),
	.queue_init = failing_queue_init,
};

static struct hdrv_opts o_failing = { .queue_size = 64, .backend_ops = &failing_ops };

static void test_backend_setup_failure_gets_ioerr(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[512] = { 1 };
	uint32_t len;

	/* The queue still answers: every I/O fails with IOERR instead of hanging. */
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, 0, data, sizeof(data), &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_IN, 0, data, sizeof(data), &len),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &len),
			 VIRTIO_BLK_S_IOERR);
	/* What needs no backend is still answered. */
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_GET_ID, 0, data, VIRTIO_BLK_ID_BYTES,
				     &len), VIRTIO_BLK_S_OK);
	assert_int_equal(QSTAT(f, nr_device_faults), 3);
	check_image(f);
}

/* ---- defect 6: accept what was advertised, whatever the ring size -------- */

static struct hdrv_opts o_small_ring = { .queue_size = 2, .advertised_queue_size = 64,
					 .backend = "io_uring" };

static void test_small_ring_takes_advertised_segments(void **state)
{
	struct fixture *f = fixture_get(state);
	enum { NR_DATA = 16, SEG = 512 };
	struct hbuf bufs[NR_DATA + 2];
	uint8_t data[NR_DATA * SEG];
	uint64_t status = put_status(f);
	uint32_t len;

	/* A WRITE of 16 segments in an indirect table: legal with seg_max 62. */
	fill_pattern(data, sizeof(data), 5);
	bufs[0] = (struct hbuf){ put_hdr(f, VIRTIO_BLK_T_OUT, 32), 16, false };
	for (unsigned int i = 0; i < NR_DATA; i++)
		bufs[1 + i] = (struct hbuf){ put_buf(f, data + i * SEG, SEG), SEG, false };
	bufs[NR_DATA + 1] = (struct hbuf){ status, 1, true };
	len = run_indirect(f, bufs, NR_DATA + 2);
	assert_int_equal(len, 1);
	assert_int_equal(*hptr(f, status), VIRTIO_BLK_S_OK);
	model_write(f, 32, data, sizeof(data));
	check_image(f);
	assert_int_equal(QSTAT(f, nr_bad_chains), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_update_between_buffers, o_mem),
		T(test_remap_storm_behind_stuck_request, o_mem_gate),
		T(test_updates_race_requests, o_mem),
		T(test_abandon_stalled_request, o_mem_gate),
		T(test_abandoned_write_keeps_queue_quiet, o_mem_gate),
		T(test_abandoned_read_does_not, o_mem_gate),
		T(test_device_fault_gets_ioerr, o_mem),
		T(test_backend_setup_failure_gets_ioerr, o_failing),
		T(test_small_ring_takes_advertised_segments, o_small_ring),
	};

	return hc_run("memory", tests, sizeof(tests) / sizeof(tests[0]));
}
