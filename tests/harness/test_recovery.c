// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crash recovery on the real data path: the queue's thread dies at every
 * store of its in-flight log in turn (built with VDB_CRASH_POINTS), and a
 * new queue resumes from the log, as a daemon restarted after kill -9 does.
 * Whatever the step, every request is completed exactly once, writes reach
 * the image, reads return the image's data, and the driver is interrupted.
 *
 * The memory path is the daemon's own (iotlb mode: an iotlb_view over a
 * memfd); the backend is io_uring on a real file.  HDRV_LAYOUT=packed runs
 * it all on a packed ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <cmocka.h>

#include "hdrv.h"
#include "virtio/journal.h"

#define QSIZE 32               /* room for every chain of a round (3 descriptors each) */
#define NR_WRITES 4
#define SECTORS_PER_REQ 8
#define IMAGE_BYTES (1024 * 1024)
#define IMAGE_FILL 0x5a
#define READ_SECTOR 512            /* never written: reads IMAGE_FILL */
#define WAIT_MS 5000

/* The crash: the queue thread ends at the crash_at-th store of its log. */
static bool is_packed;             /* HDRV_LAYOUT=packed */
static int crash_at;               /* 0: never */
static int nr_points;              /* stores seen since armed */
static bool has_crashed;

void journal_crash_point(void)
{
	if (!__atomic_load_n(&crash_at, __ATOMIC_ACQUIRE))
		return;
	if (__atomic_add_fetch(&nr_points, 1, __ATOMIC_ACQ_REL) !=
	    __atomic_load_n(&crash_at, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&has_crashed, true, __ATOMIC_RELEASE);
	pthread_exit(NULL);
}

static void arm(int at)
{
	__atomic_store_n(&nr_points, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&has_crashed, false, __ATOMIC_RELEASE);
	__atomic_store_n(&crash_at, at, __ATOMIC_RELEASE);
}

/* No crash from here on; the one that happened is handled. */
static void disarm(void)
{
	__atomic_store_n(&crash_at, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&has_crashed, false, __ATOMIC_RELEASE);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One round's requests: writes, a read, a flush, GET_ID, a malformed chain. */
struct round {
	struct hreq writes[NR_WRITES];
	struct hreq read, flush, get_id;
	uint16_t bad_head;
	unsigned int nr_heads;
	uint16_t heads[QSIZE];
	unsigned int seen[QSIZE];       /* used entries per head */
	uint32_t len[QSIZE];
};

static uint8_t pattern(unsigned int w, size_t i)
{
	return (uint8_t)(0x11 * (w + 1) + i % 251);
}

static void post_round(struct hdrv *h, struct round *rd)
{
	uint8_t buf[SECTORS_PER_REQ * 512];

	memset(rd, 0, sizeof(*rd));
	for (unsigned int w = 0; w < NR_WRITES; w++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(w, i);
		hdrv_blk_req(h, &rd->writes[w], VIRTIO_BLK_T_OUT, w * 2 * SECTORS_PER_REQ, buf,
			     sizeof(buf));
		hdrv_blk_chain(h, &rd->writes[w]);
		rd->heads[rd->nr_heads++] = rd->writes[w].head;
	}
	hdrv_blk_req(h, &rd->read, VIRTIO_BLK_T_IN, READ_SECTOR, NULL, sizeof(buf));
	hdrv_blk_chain(h, &rd->read);
	rd->heads[rd->nr_heads++] = rd->read.head;
	hdrv_blk_req(h, &rd->flush, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	hdrv_blk_chain(h, &rd->flush);
	rd->heads[rd->nr_heads++] = rd->flush.head;
	hdrv_blk_req(h, &rd->get_id, VIRTIO_BLK_T_GET_ID, 0, NULL, VIRTIO_BLK_ID_BYTES);
	hdrv_blk_chain(h, &rd->get_id);
	rd->heads[rd->nr_heads++] = rd->get_id.head;
	/* A malformed chain, returned with used.len 0. */
	if (h->is_packed) {
		/* No next links: a readable descriptor after a writable one. */
		rd->bad_head = hdrv_chain(h, (struct hbuf[]){
			{ rd->read.hdr_iova, 16, false }, { rd->read.status_iova, 1, true },
			{ rd->read.hdr_iova, 16, false } }, 3);
	} else {
		/* A chain whose next index is outside the table. */
		rd->bad_head = hdrv_alloc_desc(h);
		hdrv_set_desc(h, rd->bad_head, rd->read.hdr_iova, 16, VRING_DESC_F_NEXT,
			      QSIZE + 3);
	}
	rd->heads[rd->nr_heads++] = rd->bad_head;
	hdrv_publish_batch(h, rd->heads, rd->nr_heads);
}

/* Wait until @nr used entries are out or the queue thread crashed. */
static void wait_used_or_crash(struct hdrv *h, unsigned int nr)
{
	long deadline = now_ms() + WAIT_MS;

	while (now_ms() < deadline && hdrv_used_idx(h) < nr &&
	       !__atomic_load_n(&has_crashed, __ATOMIC_ACQUIRE))
		usleep(200);
}

/* Each head exactly once in the used ring, with what it should say. */
static void check_round(struct hdrv *h, struct round *rd, const char *image)
{
	uint8_t buf[SECTORS_PER_REQ * 512], want[SECTORS_PER_REQ * 512];
	uint16_t used = hdrv_used_idx(h);
	int fd;

	/* Nothing more comes: no request completes twice, even late. */
	usleep(20000);
	assert_int_equal(hdrv_used_idx(h), rd->nr_heads);
	for (uint16_t i = 0; i < used; i++) {
		uint32_t id, len;

		assert_int_equal(hdrv_take_used(h, &id, &len), 0);
		assert_true(id < QSIZE);
		rd->seen[id]++;
		rd->len[id] = len;
	}
	{
		uint32_t id, len;

		/* Nothing behind the last entry either: a flush cut short leaves no mark. */
		assert_int_equal(hdrv_take_used(h, &id, &len), -EAGAIN);
	}
	for (unsigned int i = 0; i < rd->nr_heads; i++)
		assert_int_equal(rd->seen[rd->heads[i]], 1);
	assert_int_equal(rd->len[rd->bad_head], 0);
	for (unsigned int w = 0; w < NR_WRITES; w++)
		assert_int_equal(hdrv_status(h, &rd->writes[w]), VIRTIO_BLK_S_OK);
	assert_int_equal(hdrv_status(h, &rd->read), VIRTIO_BLK_S_OK);
	assert_int_equal(hdrv_status(h, &rd->flush), VIRTIO_BLK_S_OK);
	assert_int_equal(hdrv_status(h, &rd->get_id), VIRTIO_BLK_S_OK);
	memset(want, IMAGE_FILL, sizeof(want));
	assert_memory_equal(hdrv_ptr(h, rd->read.data_iova), want, sizeof(want));
	assert_memory_equal(hdrv_ptr(h, rd->get_id.data_iova), "harness-serial-01234",
			    VIRTIO_BLK_ID_BYTES);
	fd = open(image, O_RDONLY);
	assert_true(fd >= 0);
	for (unsigned int w = 0; w < NR_WRITES; w++) {
		for (size_t i = 0; i < sizeof(want); i++)
			want[i] = pattern(w, i);
		assert_int_equal(pread(fd, buf, sizeof(buf),
				       (off_t)w * 2 * SECTORS_PER_REQ * 512), sizeof(buf));
		assert_memory_equal(buf, want, sizeof(want));
	}
	close(fd);
}

/* One round with the crash at store @at; returns true when it crashed. */
static bool crash_round(int at, bool has_event_idx)
{
	struct journal *log = calloc(1, journal_bytes(QSIZE));
	struct hdrv_opts o = {
		.queue_size = QSIZE, .is_iotlb = true, .log = log, .has_event_idx = has_event_idx,
		.is_packed = is_packed,
	};
	struct hdrv h;
	struct round rd;
	char image[256];
	bool has_crashed_now;
	eventfd_t v;

	assert_non_null(log);
	assert_int_equal(hdrv_make_image(image, sizeof(image), IMAGE_BYTES, IMAGE_FILL), 0);
	assert_int_equal(hdrv_start(&h, image, &o), 0);
	arm(at);
	post_round(&h, &rd);
	wait_used_or_crash(&h, rd.nr_heads);
	has_crashed_now = __atomic_load_n(&has_crashed, __ATOMIC_ACQUIRE);
	if (has_crashed_now) {
		disarm();
		/* Interrupts before the crash do not count: the new queue must send one. */
		eventfd_read(h.call_fd, &v);
		assert_int_equal(hdrv_restart(&h), 0);
		wait_used_or_crash(&h, rd.nr_heads);
		struct pollfd pfd = { .fd = h.call_fd, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	}
	disarm();
	check_round(&h, &rd, image);
	hdrv_stop(&h);
	unlink(image);
	free(log);
	return has_crashed_now;
}

static void crash_at_every_step(bool has_event_idx)
{
	int at;

	/* Until a round runs through without reaching the crash point. */
	for (at = 1; at < 2000 && crash_round(at, has_event_idx); at++)
		;
	print_message("crash points covered: %d\n", at - 1);
	/* Each request stores a few times: fewer points means the log is not on the path. */
	assert_true(at - 1 >= 8 * 4);
	assert_true(at < 2000);
}

static void test_crash_at_every_step(void **state)
{
	(void)state;
	crash_at_every_step(false);
}

static void test_crash_at_every_step_event_idx(void **state)
{
	(void)state;
	crash_at_every_step(true);
}

/* Two crashes in a row: the second queue dies too, the third finishes. */
static void test_crash_twice(void **state)
{
	struct journal *log = calloc(1, journal_bytes(QSIZE));
	struct hdrv_opts o = {
		.queue_size = QSIZE, .is_iotlb = true, .log = log, .is_packed = is_packed,
	};
	struct hdrv h;
	struct round rd;
	char image[256];

	(void)state;
	assert_int_equal(hdrv_make_image(image, sizeof(image), IMAGE_BYTES, IMAGE_FILL), 0);
	assert_int_equal(hdrv_start(&h, image, &o), 0);
	arm(7);
	post_round(&h, &rd);
	for (int n = 0; n < 2; n++) {
		wait_used_or_crash(&h, rd.nr_heads);
		assert_true(__atomic_load_n(&has_crashed, __ATOMIC_ACQUIRE));
		disarm();
		if (n == 0)
			arm(10);   /* the second queue crashes as well, a few stores in */
		assert_int_equal(hdrv_restart(&h), 0);
	}
	disarm();
	wait_used_or_crash(&h, rd.nr_heads);
	check_round(&h, &rd, image);
	hdrv_stop(&h);
	unlink(image);
	free(log);
}

/*
 * The daemon dies after its flush made the used entries visible, before
 * the log recorded the publish.  A driver that polls the ring (Linux's
 * poll queues, a VM's poll-mode driver) takes them meanwhile, reuses their
 * buffers and buffer IDs and makes new chains available in the slots they
 * freed: on a packed ring the next lap's descriptors now lie where the
 * used entries were.  The next daemon must know the flush was seen: run
 * neither chain again (their buffers hold other data now) and serve the
 * new ones.
 */
#define REUSE_QSIZE 8

static bool reuse_round(int at, int *ret_nr_reused)
{
	struct journal *log = calloc(1, journal_bytes(REUSE_QSIZE));
	struct hdrv_opts o = {
		.queue_size = REUSE_QSIZE, .is_iotlb = true, .log = log, .is_packed = is_packed,
	};
	uint8_t buf[SECTORS_PER_REQ * 512], want[SECTORS_PER_REQ * 512];
	struct hreq old[2], fresh[2];
	uint16_t heads[2];
	unsigned int nr_fresh_seen = 0, nr_seen;
	bool has_crashed_now;
	char image[256];
	struct hdrv h;
	int fd;

	assert_non_null(log);
	assert_int_equal(hdrv_make_image(image, sizeof(image), IMAGE_BYTES, IMAGE_FILL), 0);
	assert_int_equal(hdrv_start(&h, image, &o), 0);
	/* Two writes of 3 descriptors each: slots 0..5. */
	for (unsigned int w = 0; w < 2; w++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(w, i);
		hdrv_blk_req(&h, &old[w], VIRTIO_BLK_T_OUT, w * 2 * SECTORS_PER_REQ, buf,
			     sizeof(buf));
		hdrv_blk_chain(&h, &old[w]);
		heads[w] = old[w].head;
	}
	arm(at);
	hdrv_publish_batch(&h, heads, 2);
	wait_used_or_crash(&h, 2);
	has_crashed_now = __atomic_load_n(&has_crashed, __ATOMIC_ACQUIRE);
	disarm();
	nr_seen = has_crashed_now ? hdrv_used_idx(&h) : 0;
	if (nr_seen >= 1 && log->pending_used_idx != log->used_idx) {
		uint32_t id, len;
		unsigned int nr_old_left = 2 - nr_seen, nr_old_done = 0;

		/* The driver takes what it sees; their buffers and IDs go to new requests. */
		for (unsigned int k = 0; k < nr_seen; k++) {
			assert_int_equal(hdrv_take_used(&h, &id, &len), 0);
			for (unsigned int w = 0; w < 2; w++) {
				if (id != old[w].head)
					continue;
				assert_int_equal(hdrv_status(&h, &old[w]), VIRTIO_BLK_S_OK);
				memset(hdrv_ptr(&h, old[w].data_iova), 0xee, sizeof(buf));
			}
		}
		/* As many new writes as slots came back (a real driver counts its free slots). */
		for (unsigned int w = 0; w < nr_seen; w++) {
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = pattern(2 + w, i);
			hdrv_blk_req(&h, &fresh[w], VIRTIO_BLK_T_OUT, (2 + w) * 2 * SECTORS_PER_REQ,
				     buf, sizeof(buf));
			hdrv_blk_submit(&h, &fresh[w]);
		}
		assert_int_equal(hdrv_restart(&h), 0);
		for (unsigned int k = 0; k < nr_old_left + nr_seen; k++) {
			assert_int_equal(hdrv_wait_used(&h, &id, &len, WAIT_MS), 0);
			for (unsigned int f = 0; f < nr_seen; f++)
				nr_fresh_seen += id == fresh[f].head;
		}
		nr_old_done = nr_old_left + nr_seen - nr_fresh_seen;
		usleep(20000);
		assert_int_equal(hdrv_take_used(&h, &id, &len), -EAGAIN);
		assert_false(vq_is_broken(blk_queue_vq(h.q)));
		assert_int_equal(nr_fresh_seen, nr_seen);
		assert_int_equal(nr_old_done, nr_old_left);
		fd = open(image, O_RDONLY);
		assert_true(fd >= 0);
		for (unsigned int w = 0; w < 2 + nr_seen; w++) {
			if (w >= 2)
				assert_int_equal(hdrv_status(&h, &fresh[w - 2]), VIRTIO_BLK_S_OK);
			for (size_t i = 0; i < sizeof(want); i++)
				want[i] = pattern(w, i);
			assert_int_equal(pread(fd, buf, sizeof(buf),
					       (off_t)w * 2 * SECTORS_PER_REQ * 512), sizeof(buf));
			assert_memory_equal(buf, want, sizeof(want));
		}
		close(fd);
		(*ret_nr_reused)++;
	} else if (has_crashed_now) {
		assert_int_equal(hdrv_restart(&h), 0);
	}
	hdrv_stop(&h);
	unlink(image);
	free(log);
	return has_crashed_now;
}

static void test_flush_seen_and_slots_reused(void **state)
{
	int at, nr_reused = 0;

	(void)state;
	for (at = 1; at < 500 && reuse_round(at, &nr_reused); at++)
		;
	print_message("crash points: %d, with the flush seen and its slots reused: %d\n",
		      at - 1, nr_reused);
	assert_true(nr_reused >= 1);
}

/* A log of other rings is refused, not guessed at. */
static void test_resume_refuses_other_rings(void **state)
{
	struct journal *log = calloc(1, journal_bytes(QSIZE));
	struct hdrv_opts o = {
		.queue_size = QSIZE, .is_iotlb = true, .log = log, .is_packed = is_packed,
	};
	struct hdrv h;
	char image[256];

	(void)state;
	assert_int_equal(hdrv_make_image(image, sizeof(image), IMAGE_BYTES, IMAGE_FILL), 0);
	assert_int_equal(hdrv_start(&h, image, &o), 0);
	assert_int_equal(vq_layout(blk_queue_vq(h.q)),
			 is_packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT);
	assert_int_equal(hdrv_blk_do(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	blk_queue_stop(h.q);
	hdrv_join(&h);
	log->used_iova += 4096;
	assert_int_equal(hdrv_restart(&h), -EBADMSG);
	log->used_iova -= 4096;
	/* A used position neither published nor being published: a log of another life. */
	log->used_idx += 5;
	log->pending_used_idx = log->used_idx;
	assert_int_equal(hdrv_restart(&h), -EBADMSG);
	hdrv_stop(&h);
	unlink(image);
	free(log);
}

static void *exit_at_once(void *arg)
{
	pthread_exit(arg);
}

int main(void)
{
	const char *layout = getenv("HDRV_LAYOUT");
	pthread_t t;

	is_packed = layout && strcmp(layout, "packed") == 0;
	/*
	 * glibc loads libgcc_s (to unwind) at a process's first pthread_exit():
	 * here, before the queue threads' seccomp filter would refuse its mmap.
	 */
	if (pthread_create(&t, NULL, exit_at_once, NULL) == 0)
		pthread_join(t, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_at_every_step),
		cmocka_unit_test(test_crash_at_every_step_event_idx),
		cmocka_unit_test(test_crash_twice),
		cmocka_unit_test(test_resume_refuses_other_rings),
		cmocka_unit_test(test_flush_seen_and_slots_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
