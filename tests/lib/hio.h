/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef TESTS_HIO_H
#define TESTS_HIO_H

/*
 * Blocking requests and their checks, for the tests that play the driver
 * (tests/harness/hdrv.h) against a backend's real server: test_rbd (a Ceph
 * cluster) and test_nbd (qemu-nbd, nbdkit).  Each call fails the running
 * cmocka test when what it expects does not happen.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdrv.h"

/* hio_fill() - @len bytes of a pseudo-random stream of @seed's (no period within a request). */
void hio_fill(uint8_t *buf, size_t len, unsigned int seed);

/* hio_write_ok() - a WRITE of @data at @sector that must come back OK. */
void hio_write_ok(struct hdrv *h, uint64_t sector, const void *data, uint32_t len);

/* hio_read_expect() - a READ at @sector that must come back OK with @want, used.len and all. */
void hio_read_expect(struct hdrv *h, uint64_t sector, const void *want, uint32_t len);

/* hio_dwz() - a DISCARD or WRITE_ZEROES (@type) of one range; the status byte. */
int hio_dwz(struct hdrv *h, uint32_t type, uint64_t sector, uint32_t nr_sectors,
	    bool may_unmap);

/*
 * What the server holds, checked by the test's own client: @want at @off
 * (bytes); @ctx is the test's (an URI, a handle).
 */
typedef void hio_check_fn(void *ctx, uint64_t off, const void *want, size_t len);

/* hio_round_trip() - a WRITE of @len bytes of @seed's pattern, @check, a READ back. */
void hio_round_trip(struct hdrv *h, uint64_t sector, uint32_t len, unsigned int seed,
		    hio_check_fn *check, void *ctx);

/*
 * hio_multi_segment() - a WRITE at @sector from @nr buffers of @sizes (at
 * most 32) filled with @seed's pattern, @check, and a READ back into
 * buffers of the same sizes in the reverse order.
 */
void hio_multi_segment(struct hdrv *h, uint64_t sector, const uint32_t *sizes, int nr,
		       unsigned int seed, hio_check_fn *check, void *ctx);

/*
 * hio_many_in_flight() - @nr 4 KiB WRITEs at @sector, 8 sectors apart, all
 * in flight at once (3 descriptors each), then each checked.
 */
void hio_many_in_flight(struct hdrv *h, uint64_t sector, unsigned int nr, hio_check_fn *check,
			void *ctx);

/*
 * hio_wait_req() - wait up to @ms for @r, submitted already, to come back;
 * a READ's data is then at hdrv_ptr(h, r->data_iova).  Returns its status
 * byte, or -ETIMEDOUT.
 */
int hio_wait_req(struct hdrv *h, const struct hreq *r, int ms);

/* hio_do_slow() - submit a request and hio_wait_req() it; a READ's data is copied to @data. */
int hio_do_slow(struct hdrv *h, uint32_t type, uint64_t sector, void *data, uint32_t len,
		int ms);

/* hio_count_lines() - how many lines of the file @path contain @what. */
int hio_count_lines(const char *path, const char *what);

/* hio_show_file() - copy the file @path (a log a test kept) to stderr, for the record. */
void hio_show_file(const char *path);

#endif
