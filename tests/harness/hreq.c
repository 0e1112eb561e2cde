// SPDX-License-Identifier: GPL-2.0-or-later
/* Building virtio-blk requests in the arena and running them; see hcommon.h. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hcommon.h"

uint8_t *hptr(struct fixture *f, uint64_t iova)
{
	return hdrv_ptr(&f->h, iova);
}

uint64_t put_hdr(struct fixture *f, uint32_t type, uint64_t sector)
{
	uint64_t iova = hdrv_alloc(&f->h, sizeof(struct virtio_blk_outhdr));
	struct virtio_blk_outhdr *hdr = hdrv_ptr(&f->h, iova);

	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	return iova;
}

static void fill_buf(struct fixture *f, uint64_t iova, const void *data, uint32_t len)
{
	if (data)
		memcpy(hptr(f, iova), data, len);
	else
		memset(hptr(f, iova), 0xee, len);
}

uint64_t put_buf(struct fixture *f, const void *data, uint32_t len)
{
	uint64_t iova = hdrv_alloc(&f->h, len ? len : 1);

	fill_buf(f, iova, data, len);
	return iova;
}

uint64_t put_buf_at(struct fixture *f, const void *data, uint32_t len, uint64_t align,
		    uint64_t skew)
{
	uint64_t iova = hdrv_alloc_aligned(&f->h, len ? len : 1, align, skew);

	fill_buf(f, iova, data, len);
	return iova;
}

uint64_t put_status(struct fixture *f)
{
	uint64_t iova = hdrv_alloc(&f->h, 1);

	*hptr(f, iova) = 0xff;
	return iova;
}

uint64_t put_segs(struct fixture *f, const dwz_seg *segs, unsigned int nr)
{
	return put_buf(f, segs, nr * (uint32_t)sizeof(*segs));
}

dwz_seg seg(uint64_t sector, uint32_t nr_sectors, uint32_t flags)
{
	return (dwz_seg){
		.sector = htole64(sector), .num_sectors = htole32(nr_sectors),
		.flags = htole32(flags),
	};
}

/* ---- running them ------------------------------------------------------- */

void wait_used(struct fixture *f, uint16_t head, uint32_t *ret_len)
{
	uint32_t id, len;

	assert_int_equal(hdrv_wait_used(&f->h, &id, &len, WAIT_MS), 0);
	assert_int_equal(id, head);
	*ret_len = len;
}

uint32_t run_chain(struct fixture *f, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t head = hdrv_chain(&f->h, bufs, nr);
	uint32_t len;

	hdrv_publish(&f->h, head);
	wait_used(f, head, &len);
	return len;
}

uint32_t run_indirect(struct fixture *f, const struct hbuf *bufs, unsigned int nr)
{
	uint16_t head = hdrv_chain_indirect(&f->h, bufs, nr);
	uint32_t len;

	hdrv_publish(&f->h, head);
	wait_used(f, head, &len);
	return len;
}

void wait_broken(struct fixture *f)
{
	struct timespec ms = { 0, 1000000L };

	for (int i = 0; i < WAIT_MS && !vq_is_broken(hvq(f)); i++)
		nanosleep(&ms, NULL);
	assert_true(vq_is_broken(hvq(f)));
}

void assert_no_used(struct fixture *f, int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	assert_int_equal(hdrv_used_idx(&f->h), f->h.last_used_idx);
}

unsigned int wait_one_of(struct fixture *f, const uint16_t *heads, bool *seen, unsigned int n,
			 uint32_t *ret_len)
{
	uint32_t id;
	unsigned int i;

	assert_int_equal(hdrv_wait_used(&f->h, &id, ret_len, WAIT_MS), 0);
	for (i = 0; i < n && heads[i] != id; i++)
		;
	assert_true(i < n);
	assert_false(seen[i]);
	seen[i] = true;
	return i;
}

void collect(struct fixture *f, const uint16_t *heads, const uint64_t *st, unsigned int n,
	     uint32_t want_len)
{
	bool *seen = calloc(n, sizeof(*seen));

	assert_non_null(seen);
	for (unsigned int k = 0; k < n; k++) {
		uint32_t len;
		unsigned int i = wait_one_of(f, heads, seen, n, &len);

		assert_int_equal(len, want_len);
		assert_int_equal(*hptr(f, st[i]), VIRTIO_BLK_S_OK);
	}
	free(seen);
}

void do_write(struct fixture *f, uint64_t sector, const void *data, uint32_t len)
{
	uint32_t used_len = 0;

	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, sector, (void *)data, len, &used_len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used_len, 1);
	model_write(f, sector, data, len);
}

void do_read_check(struct fixture *f, uint64_t sector, uint32_t len)
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

int do_dwz(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
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

void expect_rw_status(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len,
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

void assert_valid_served(struct fixture *f)
{
	uint8_t buf[4096];

	fill_pattern(buf, sizeof(buf), 0xc0ffee);
	do_write(f, CHECK_SECTOR, buf, sizeof(buf));
	do_read_check(f, CHECK_SECTOR, sizeof(buf));
	check_image(f);
}

void round_trip(struct fixture *f, uint64_t sector)
{
	uint8_t wbuf[4096];

	fill_pattern(wbuf, sizeof(wbuf), (uint32_t)sector + 1);
	do_write(f, sector, wbuf, sizeof(wbuf));
	check_image(f);
	do_read_check(f, sector, sizeof(wbuf));
}

void many_in_flight(struct fixture *f)
{
	enum { N = 32, LEN = 4096 };
	uint64_t st[N], buf[N];
	uint16_t heads[N];

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
	collect(f, heads, st, N, 1);
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
	collect(f, heads, st, N, LEN + 1);
	for (int i = 0; i < N; i++)
		assert_memory_equal(hptr(f, buf[i]), expected(f, 16 + 24 * i, LEN), LEN);
	assert_no_used(f, 0);
}
