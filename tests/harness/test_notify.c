// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Notifications and the avail ring as a whole: event-idx in both directions
 * (avail_event asks for kicks, used_event suppresses interrupts), the
 * NO_INTERRUPT flag, a queue whose every slot is in flight (the device must
 * ask for kicks again when slots come back), and drivers that break the ring
 * (more chains than slots, a head published again while in flight, avail->idx
 * jumping by more than the queue size): the queue stops until reset.
 * Packed rings (HDRV_LAYOUT=packed): the same through the event suppression
 * structures; buffer IDs stand for heads.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring" };
static struct hdrv_opts o_aio = { .queue_size = 64, .backend = "aio" };
static struct hdrv_opts o_null = { .queue_size = 64, .backend = "null" };
static struct hdrv_opts o_uring_ev = { .queue_size = 128, .backend = "io_uring", .has_event_idx = true };
static struct hdrv_opts o_aio_ev = { .queue_size = 128, .backend = "aio", .has_event_idx = true };
static struct hdrv_opts o_null_ev = { .queue_size = 128, .backend = "null", .has_event_idx = true };
static struct hdrv_opts o_uring_q8 = { .queue_size = 8, .backend = "io_uring" };
static struct hdrv_opts o_aio_q8 = { .queue_size = 8, .backend = "aio" };
static struct hdrv_opts o_null_q8 = { .queue_size = 8, .backend = "null" };
static struct hdrv_opts o_uring_q8_ev = { .queue_size = 8, .backend = "io_uring", .has_event_idx = true };
static struct hdrv_opts o_aio_q8_ev = { .queue_size = 8, .backend = "aio", .has_event_idx = true };
static struct hdrv_opts o_gate_q8 = { .queue_size = 8, .backend = "null", .backend_ops = &gate_ops };
static struct hdrv_opts o_gate = { .queue_size = 64, .backend = "null", .backend_ops = &gate_ops };
static struct hdrv_opts o_uring_poll = { .queue_size = 64, .backend = "io_uring", .poll_us = 1000 };
static struct hdrv_opts o_uring_poll_ev = { .queue_size = 64, .backend = "io_uring", .poll_us = 1000,
					    .has_event_idx = true };

/* CPU time the queue's thread has used, in milliseconds. */
static long queue_cpu_ms(struct fixture *f)
{
	struct timespec ts;
	clockid_t cid;

	assert_int_equal(pthread_getcpuclockid((pthread_t)f->h.thread, &cid), 0);
	assert_int_equal(clock_gettime(cid, &ts), 0);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A driver that answers each interrupt at once, from the interrupt itself
 * (hdrv's on_notify hook, in the queue thread): it takes the used entry and
 * submits the next 4 KiB write before the queue goes on.  No scheduling
 * delay can make it late for the queue's watch.
 */
static struct {
	struct fixture *f;
	struct hreq r;             /* the write in flight */
	uint64_t sector;
	uint8_t data[4096];
	unsigned int left;         /* writes still to complete */
	bool has_failed;
	bool is_done;              /* stored with release by the queue thread */
	pthread_mutex_t lock;      /* the driver's state: the first submit races the hook */
} bb;

static void bb_submit(unsigned int i)
{
	/* With EVENT_IDX: an interrupt for the next used entry, as Linux asks. */
	hdrv_set_used_event(&bb.f->h, 0);
	bb.sector = (i * 8) % (IMAGE_SECTORS - 8);
	fill_pattern(bb.data, sizeof(bb.data), 500 + i);
	hdrv_blk_req(&bb.f->h, &bb.r, VIRTIO_BLK_T_OUT, bb.sector, bb.data, sizeof(bb.data));
	hdrv_blk_submit(&bb.f->h, &bb.r);
}

static void bb_on_notify(struct hdrv *h)
{
	uint32_t id, len;

	pthread_mutex_lock(&bb.lock);
	while (!bb.is_done && hdrv_take_used(h, &id, &len) == 0) {
		if (id != bb.r.head || hdrv_status(h, &bb.r) != VIRTIO_BLK_S_OK)
			bb.has_failed = true;
		model_write(bb.f, bb.sector, bb.data, sizeof(bb.data));
		if (--bb.left)
			bb_submit(bb.left);
		else
			__atomic_store_n(&bb.is_done, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&bb.lock);
}

static void writes_back_to_back(struct fixture *f, unsigned int nr)
{
	struct timespec ms = { 0, 1000000L };

	bb = (typeof(bb)){ .f = f, .left = nr, .lock = PTHREAD_MUTEX_INITIALIZER };
	__atomic_store_n(&f->h.on_notify, bb_on_notify, __ATOMIC_RELEASE);
	pthread_mutex_lock(&bb.lock);
	bb_submit(nr);
	pthread_mutex_unlock(&bb.lock);
	for (int i = 0; i < WAIT_MS && !__atomic_load_n(&bb.is_done, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	__atomic_store_n(&f->h.on_notify, NULL, __ATOMIC_RELEASE);
	pthread_mutex_lock(&bb.lock);      /* the hook's last run is over */
	pthread_mutex_unlock(&bb.lock);
	assert_true(__atomic_load_n(&bb.is_done, __ATOMIC_ACQUIRE));
	assert_false(bb.has_failed);
	check_image(f);
}

/*
 * --poll-us: a driver that submits again right after each completion finds
 * the queue watching its ring, with kicks off, so it need not kick; once the
 * driver stops, the queue stops watching and sleeps (no CPU while idle).
 */
static void test_busy_poll(void **state)
{
	struct fixture *f = fixture_get(state);
	struct timespec idle = { 0, 500000000L };
	long cpu0;

	writes_back_to_back(f, 200);
	assert_true(qstats(f).nr_poll_hits > 0);
	assert_true(f->h.nr_kicks_suppressed > 0);
	/* Idle: a window that only opened after work has closed by now. */
	nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	cpu0 = queue_cpu_ms(f);
	nanosleep(&idle, NULL);
	assert_true(queue_cpu_ms(f) - cpu0 < 50);
	/* Asleep, it is woken by a kick as before. */
	round_trip(f, 16);
	assert_valid_served(f);
}

static void test_event_idx_round_trip(void **state)
{
	struct fixture *f = fixture_get(state);
	uint16_t avail_event, flags;

	round_trip(f, 0);
	round_trip(f, IMAGE_SECTORS - 8);
	many_in_flight(f);
	/* The device asked to be kicked for the next entry it has not seen. */
	if (f->h.is_packed) {
		/* Packed: kicks enabled, or DESC at the driver's next slot. */
		flags = le16toh(__atomic_load_n(&f->h.device_event->flags, __ATOMIC_RELAXED));
		avail_event = le16toh(__atomic_load_n(&f->h.device_event->off_wrap,
						      __ATOMIC_RELAXED));
		assert_true(flags == VRING_PACKED_EVENT_FLAG_ENABLE ||
			    (flags == VRING_PACKED_EVENT_FLAG_DESC && avail_event == f->h.avail_pos));
	} else {
		avail_event = le16toh(__atomic_load_n((uint16_t *)&f->h.used->ring[f->h.num],
						      __ATOMIC_RELAXED));
		assert_int_equal(avail_event, f->h.avail_idx);
	}
	assert_valid_served(f);
}

/* Like hdrv_wait_used(), but without touching the call eventfd. */
static void take_used_quietly(struct fixture *f, uint16_t head, uint32_t want_len)
{
	struct timespec ms = { 0, 1000000L };
	uint32_t id, len;
	int r = -EAGAIN;

	for (int i = 0; i < WAIT_MS && (r = hdrv_take_used(&f->h, &id, &len)) < 0; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(r, 0);
	assert_int_equal(id, head);
	assert_int_equal(len, want_len);
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

static void test_event_idx_suppresses_interrupts(void **state)
{
	struct fixture *f = fixture_get(state);
	eventfd_t v;

	/* The first used entry after start may always interrupt. */
	assert_valid_served(f);
	eventfd_read(f->h.call_fd, &v);

	/* used_event far ahead: used entries appear, interrupts do not. */
	hdrv_set_used_event(&f->h, 100);
	for (int i = 0; i < 3; i++)
		write_quietly(f, 16 + 4 * i, 400 + i);
	assert_false(call_signalled(f, 100));
	check_image(f);

	/* used_event just passed (also across a wrap of the difference). */
	hdrv_set_used_event(&f->h, -1);
	write_quietly(f, 40, 410);
	assert_false(call_signalled(f, 100));

	/* used_event at the next entry: exactly that one interrupts. */
	hdrv_set_used_event(&f->h, 0);
	write_quietly(f, 48, 411);
	assert_true(call_signalled(f, WAIT_MS));
	check_image(f);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = fixture_get(state);
	eventfd_t v;

	assert_valid_served(f);
	eventfd_read(f->h.call_fd, &v);

	hdrv_set_interrupts(&f->h, false);   /* split: NO_INTERRUPT; packed: DISABLE */
	for (int i = 0; i < 3; i++)
		write_quietly(f, 16 + 4 * i, 500 + i);
	assert_false(call_signalled(f, 100));

	hdrv_set_interrupts(&f->h, true);
	write_quietly(f, 40, 510);
	assert_true(call_signalled(f, WAIT_MS));
	check_image(f);
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

static void test_full_queue_then_more(void **state)
{
	struct fixture *f = fixture_get(state);
	uint16_t heads[8];
	uint64_t st[8];

	assert_int_equal(f->h.num, 8);
	for (int round = 0; round < 3; round++) {
		publish_full_queue(f, heads, st, 8);
		hdrv_publish_batch(&f->h, heads, 8);
		collect(f, heads, st, 8, 1);
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
	struct fixture *f = fixture_get(state);
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
	collect(f, heads, st, 8, 1);
	assert_no_used(f, QUIET_MS);
	check_image(f);
}

/* A head published again while the request it names is still in flight. */
static void test_duplicate_head_in_flight(void **state)
{
	struct fixture *f = fixture_get(state);
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
	assert_int_equal(gate_held(), 1);
	check_image(f);
}

/* avail->idx jumps by more than the queue size: the ring is nonsense, the queue stops. */
static void test_bad_avail_idx(void **state)
{
	struct fixture *f = fixture_get(state);
	struct hreq r;

	/* Packed rings have no index to jump: their ring errors are in test_malformed. */
	hc_require_split(f, "avail->idx jumps");
	hdrv_publish_idx(&f->h, (uint16_t)(f->h.num + 1));
	assert_no_used(f, QUIET_MS);
	assert_true(vq_is_broken(hvq(f)));

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
	struct fixture *f = fixture_get(state);
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
	assert_true(vq_is_broken(hvq(f)));

	hdrv_blk_req(&f->h, &later, VIRTIO_BLK_T_OUT, BAD_SECTOR, NULL, 512);
	hdrv_blk_submit(&f->h, &later);
	eventfd_write(f->h.kick_fd, 1);
	assert_no_used(f, QUIET_MS);
	assert_int_equal(hdrv_status(&f->h, &later), 0xff);
	check_image(f);
}

#define T3(fn, sfx) T(fn, o_uring##sfx), T(fn, o_aio##sfx), T(fn, o_null##sfx)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T3(test_event_idx_round_trip, _ev),
		T3(test_event_idx_suppresses_interrupts, _ev),
		T3(test_no_interrupt_flag, ),
		T3(test_full_queue_then_more, _q8),
		T(test_full_queue_then_more, o_uring_q8_ev),
		T(test_full_queue_then_more, o_aio_q8_ev),
		T(test_more_chains_than_queue, o_gate_q8),
		T(test_duplicate_head_in_flight, o_gate),
		T(test_busy_poll, o_uring_poll),
		T(test_busy_poll, o_uring_poll_ev),
		T3(test_bad_avail_idx, ),
		T3(test_bad_duplicate_head, ),
	};

	return hc_run("notify", tests, sizeof(tests) / sizeof(tests[0]));
}
