// SPDX-License-Identifier: GPL-2.0-or-later
/* Blocking requests and their checks for the tests against real servers (hio.h). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "hio.h"

/* A xorshift stream: no period a request could hide a misplaced piece behind. */
void hio_fill(uint8_t *buf, size_t len, unsigned int seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 56);
	}
}

void hio_write_ok(struct hdrv *h, uint64_t sector, const void *data, uint32_t len)
{
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_OUT, sector, (void *)data, len, NULL),
			 VIRTIO_BLK_S_OK);
}

void hio_read_expect(struct hdrv *h, uint64_t sector, const void *want, uint32_t len)
{
	uint8_t *got = malloc(len);
	uint32_t used = 0;

	assert_non_null(got);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_IN, sector, got, len, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, len + 1);
	assert_memory_equal(got, want, len);
	free(got);
}

int hio_dwz(struct hdrv *h, uint32_t type, uint64_t sector, uint32_t nr_sectors,
	    bool may_unmap)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector), .num_sectors = htole32(nr_sectors),
		.flags = htole32(may_unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0),
	};

	return hdrv_blk_do(h, type, 0, &seg, sizeof(seg), NULL);
}

/* A chain of a header, @nr buffers of @sizes (device-writable for a READ) and a status byte. */
static uint64_t publish_segments(struct hdrv *h, uint32_t type, uint64_t sector,
				 const uint32_t *sizes, int nr, struct hbuf *bufs)
{
	struct virtio_blk_outhdr *hdr;
	uint64_t st;

	bufs[0] = (struct hbuf){ hdrv_alloc(h, sizeof(*hdr)), sizeof(*hdr), false };
	hdr = hdrv_ptr(h, bufs[0].iova);
	*hdr = (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(sector) };
	for (int i = 0; i < nr; i++)
		bufs[1 + i] = (struct hbuf){ hdrv_alloc(h, sizes[i]), sizes[i],
					     type == VIRTIO_BLK_T_IN };
	st = hdrv_alloc(h, 1);
	*(uint8_t *)hdrv_ptr(h, st) = 0xff;
	bufs[1 + nr] = (struct hbuf){ st, 1, true };
	return st;
}

void hio_round_trip(struct hdrv *h, uint64_t sector, uint32_t len, unsigned int seed,
		    hio_check_fn *check, void *ctx)
{
	uint8_t *data = malloc(len);

	assert_non_null(data);
	hio_fill(data, len, seed);
	hio_write_ok(h, sector, data, len);
	check(ctx, sector * 512, data, len);
	hio_read_expect(h, sector, data, len);
	free(data);
}

void hio_many_in_flight(struct hdrv *h, uint64_t sector, unsigned int nr, hio_check_fn *check,
			void *ctx)
{
	struct hreq r[32];
	uint8_t data[4096];
	uint32_t id, used;

	assert_true(nr <= 32 && 3 * nr <= h->num);
	for (unsigned int i = 0; i < nr; i++) {
		hio_fill(data, sizeof(data), 100 + i);
		hdrv_blk_req(h, &r[i], VIRTIO_BLK_T_OUT, sector + 8 * i, data, sizeof(data));
		hdrv_blk_submit(h, &r[i]);
	}
	for (unsigned int i = 0; i < nr; i++)
		assert_int_equal(hdrv_wait_used(h, &id, &used, 5000), 0);
	for (unsigned int i = 0; i < nr; i++) {
		assert_int_equal(hdrv_status(h, &r[i]), VIRTIO_BLK_S_OK);
		hio_fill(data, sizeof(data), 100 + i);
		check(ctx, (sector + 8 * i) * 512, data, sizeof(data));
	}
}

void hio_multi_segment(struct hdrv *h, uint64_t sector, const uint32_t *sizes, int nr,
		       unsigned int seed, hio_check_fn *check, void *ctx)
{
	uint32_t reversed[32], total = 0, off = 0, used = 0, id = 0;
	struct hbuf bufs[34];
	uint8_t *data;
	uint64_t st;

	assert_true(nr > 0 && nr <= 32);
	for (int i = 0; i < nr; i++) {
		total += sizes[i];
		reversed[i] = sizes[nr - 1 - i];
	}
	data = malloc(total);
	assert_non_null(data);
	hio_fill(data, total, seed);
	st = publish_segments(h, VIRTIO_BLK_T_OUT, sector, sizes, nr, bufs);
	for (int i = 0; i < nr; i++) {
		memcpy(hdrv_ptr(h, bufs[1 + i].iova), data + off, sizes[i]);
		off += sizes[i];
	}
	hdrv_publish(h, hdrv_chain(h, bufs, (unsigned int)nr + 2));
	assert_int_equal(hdrv_wait_used(h, &id, &used, 5000), 0);
	assert_int_equal(*(uint8_t *)hdrv_ptr(h, st), VIRTIO_BLK_S_OK);
	check(ctx, sector * 512, data, total);

	st = publish_segments(h, VIRTIO_BLK_T_IN, sector, reversed, nr, bufs);
	hdrv_publish(h, hdrv_chain(h, bufs, (unsigned int)nr + 2));
	assert_int_equal(hdrv_wait_used(h, &id, &used, 5000), 0);
	assert_int_equal(used, total + 1);
	assert_int_equal(*(uint8_t *)hdrv_ptr(h, st), VIRTIO_BLK_S_OK);
	off = 0;
	for (int i = 0; i < nr; i++) {
		assert_memory_equal(hdrv_ptr(h, bufs[1 + i].iova), data + off, reversed[i]);
		off += reversed[i];
	}
	free(data);
}

int hio_wait_req(struct hdrv *h, const struct hreq *r, int ms)
{
	uint32_t id, used;
	int rc = hdrv_wait_used(h, &id, &used, ms);

	return rc < 0 ? rc : hdrv_status(h, r);
}

int hio_do_slow(struct hdrv *h, uint32_t type, uint64_t sector, void *data, uint32_t len,
		int ms)
{
	struct hreq r;
	int rc;

	hdrv_blk_req(h, &r, type, sector, data, len);
	hdrv_blk_submit(h, &r);
	rc = hio_wait_req(h, &r, ms);
	if (rc >= 0 && data && type == VIRTIO_BLK_T_IN)
		memcpy(data, hdrv_ptr(h, r.data_iova), len);
	return rc;
}

int hio_count_lines(const char *path, const char *what)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

void hio_show_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}
