// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The driver remaps its memory while the queue runs (a VM's IOTLB update):
 * the queue must translate its rings again, touch no ring while they are
 * unmapped, and hold completions that arrive meanwhile until they are back.
 * Memory the queue must not touch is made PROT_NONE: an access crashes the
 * test.
 */
#include <endian.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hcommon.h"

static struct hdrv_opts o_uring = { .queue_size = 64, .backend = "io_uring", .is_movable = true };
static struct hdrv_opts o_gate = { .queue_size = 64, .backend_ops = &gate_ops, .is_movable = true };

#define PAGE 4096u

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Make @head available without kicking. */
static void place(struct fixture *f, uint16_t head)
{
	hdrv_place(&f->h, head);
}

static void kick(struct fixture *f)
{
	eventfd_write(f->h.kick_fd, 1);
}

/* A WRITE of @data at @sector, built in the arena but not published. */
static uint16_t build_write(struct fixture *f, uint64_t sector, const void *data, uint32_t len,
			    uint64_t *ret_status)
{
	*ret_status = put_status(f);
	struct hbuf b[] = {
		{ put_hdr(f, VIRTIO_BLK_T_OUT, sector), 16, false },
		{ put_buf(f, data, len), len, false },
		{ *ret_status, 1, true },
	};
	return hdrv_chain(&f->h, b, 3);
}

/* The driver takes all its memory away; the queue must not touch it. */
static void hide_arena(struct fixture *f)
{
	struct hmem *hm = &f->h.hm;

	__atomic_store_n(&hm->nr_regions, 0, __ATOMIC_RELAXED);
	hmem_moved(hm);
	assert_int_equal(mprotect(f->h.arena, f->h.arena_bytes, PROT_NONE), 0);
}

static void show_arena(struct fixture *f)
{
	struct hmem *hm = &f->h.hm;

	assert_int_equal(mprotect(f->h.arena, f->h.arena_bytes, PROT_READ | PROT_WRITE), 0);
	__atomic_store_n(&hm->nr_regions, 1, __ATOMIC_RELAXED);
	hmem_moved(hm);
}

static void test_unmapped_rings_are_left_alone(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[4096];
	uint64_t st;
	uint32_t len;
	uint16_t head;

	do_write(f, 16, (fill_pattern(data, sizeof(data), 1), data), sizeof(data));
	fill_pattern(data, sizeof(data), 2);
	head = build_write(f, 40, data, sizeof(data), &st);
	place(f, head);
	hide_arena(f);
	kick(f);
	sleep_ms(QUIET_MS);            /* a ring access now would crash */
	assert_true(vq_is_unmapped(hvq(f)));
	assert_int_equal(QSTAT(f, nr_reqs), 1);
	show_arena(f);
	kick(f);
	wait_used(f, head, &len);
	assert_int_equal(len, 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_false(vq_is_unmapped(hvq(f)));
	assert_true(QSTAT(f, nr_remaps) >= 2);
	model_write(f, 40, data, sizeof(data));
	check_image(f);
}

static void test_completion_waits_for_the_rings(void **state)
{
	struct fixture *f = fixture_get(state);
	uint8_t data[512];
	uint64_t st;
	uint32_t len;
	uint16_t head;

	fill_pattern(data, sizeof(data), 3);
	head = build_write(f, 8, data, sizeof(data), &st);
	place(f, head);
	kick(f);
	gate_wait_held(1);             /* in flight in the backend */
	hide_arena(f);
	kick(f);                       /* the queue wakes, finds its rings gone */
	sleep_ms(QUIET_MS / 2);
	gate_open();                   /* the request completes while unmapped */
	sleep_ms(QUIET_MS);            /* status or used entry written now would crash */
	assert_int_equal(blk_queue_nr_deferred(f->h.q), 1);
	show_arena(f);
	kick(f);
	wait_used(f, head, &len);
	assert_int_equal(len, 1);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_queue_nr_deferred(f->h.q), 0);
}

/*
 * The rings' memory moves to other host pages at the same IOVA; the old pages
 * become PROT_NONE.  The queue must read the new rings.
 */
static void test_rings_follow_moved_memory(void **state)
{
	struct fixture *f = fixture_get(state);
	struct hdrv *h = &f->h;
	size_t bytes = h->arena_bytes;
	uint8_t *old = h->arena, *map, *new;
	uint8_t data[4096];
	uint64_t st;
	uint32_t len;
	uint16_t head;

	do_write(f, 4, (fill_pattern(data, sizeof(data), 4), data), sizeof(data));
	/* Same layout as hdrv's arena, guard pages included, so teardown can free it. */
	map = mmap(NULL, bytes + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	new = map + PAGE;
	assert_int_equal(mprotect(new, bytes, PROT_READ | PROT_WRITE), 0);
	memcpy(new, old, bytes);
	__atomic_store_n(&h->hm.regions[0].host, new, __ATOMIC_RELEASE);
	h->arena = new;
	hdrv_rings_moved(h);
	hmem_moved(&h->hm);
	assert_int_equal(mprotect(old, bytes, PROT_NONE), 0);

	fill_pattern(data, sizeof(data), 5);
	head = build_write(f, 64, data, sizeof(data), &st);
	place(f, head);
	kick(f);
	wait_used(f, head, &len);
	assert_int_equal(*hptr(f, st), VIRTIO_BLK_S_OK);
	model_write(f, 64, data, sizeof(data));
	do_read_check(f, 64, sizeof(data));
	check_image(f);
	munmap(old - PAGE, bytes + 2 * PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_unmapped_rings_are_left_alone, o_uring),
		T(test_completion_waits_for_the_rings, o_gate),
		T(test_rings_follow_moved_memory, o_uring),
	};

	return hc_run("remap", tests, sizeof(tests) / sizeof(tests[0]));
}
