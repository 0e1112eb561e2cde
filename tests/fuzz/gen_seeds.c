// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Seed corpora, one file per case:
 *
 *   gen_seeds vq DIR     fuzz_vq: the harness's catalogue of malformed chains
 *                        (tests/harness/test_malformed.c) and the well-formed
 *                        request types, in fuzz_vq's input format (fuzz_vq.h);
 *                        then the same on packed rings (pk-*), with the
 *                        packed ring's own faults
 *   gen_seeds ctrl DIR   fuzz_ctrl: short control-plane programs (the op
 *                        encoding is in fuzz_ctrl.c: LLVMFuzzerTestOneInput)
 *   gen_seeds state DIR  fuzz_state: state files of both versions with a split
 *                        and a packed queue in flight (input format in
 *                        fuzz_state.c; the target makes the checksum valid)
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_blk.h>

#include "fuzz_vq.h"
#include "virtio/journal.h"
#include "recovery/state.h"

#define R 1
#define W 2
#define RW 3
#define MAX_NUM 256

struct seed {
	struct fz_hdr h;
	uint16_t avail[2 * MAX_NUM + 2];
	struct fz_desc desc[MAX_NUM];
	uint8_t tnr[FZ_NR_TABLES];
	struct fz_desc table[FZ_NR_TABLES][FZ_MAX_TABLE];
	uint8_t mem[FZ_NR_REGIONS][FZ_MAX_REGION];
};

static struct seed s;
static const char *dir;
static unsigned int nr_written;

static unsigned int num(void)
{
	if (s.h.flags & FZ_F_PACKED)
		return s.h.queue_log2 < 9 ? 1u << s.h.queue_log2 : s.h.queue_log2;
	return 1u << (s.h.queue_log2 % 9);
}

static bool is_packed(void)
{
	return s.h.flags & FZ_F_PACKED;
}

static void region(unsigned int i, unsigned int perm, unsigned int len, bool is_adjacent)
{
	s.h.regions[i] = (struct fz_region){ perm, is_adjacent, (uint16_t)(len - 1) };
}

/* A queue of 16, regions 0 RW, 1 R, 2 W (4 KiB each), 3 a hole; nothing published. */
static void reset(void)
{
	memset(&s, 0, sizeof(s));
	s.h.queue_log2 = 4;
	s.h.flags = FZ_F_DISCARD | FZ_F_WZEROES;
	region(0, RW, 4096, false);
	region(1, R, 4096, false);
	region(2, W, 4096, false);
	region(3, 0, 4096, false);
}

static struct fz_desc d(unsigned int kind, unsigned int off, unsigned int len,
			unsigned int flags, unsigned int next)
{
	return (struct fz_desc){ (uint8_t)kind, (uint8_t)flags, (uint16_t)off, (uint16_t)len,
				 (uint16_t)next };
}

static void hdr(unsigned int reg, unsigned int off, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr o = { htole32(type), 0, htole64(sector) };

	memcpy(&s.mem[reg][off], &o, sizeof(o));
}

static void publish(unsigned int head)
{
	s.avail[s.h.nr_avail++] = (uint16_t)head;
}

static void emit(const char *name)
{
	char path[4096];
	FILE *f;
	unsigned int n = num();

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fwrite(&s.h, sizeof(s.h), 1, f);
	if (!is_packed())
		fwrite(s.avail, 2, s.h.nr_avail, f);
	fwrite(s.desc, sizeof(s.desc[0]), n, f);
	for (unsigned int t = 0; t < FZ_NR_TABLES; t++) {
		fwrite(&s.tnr[t], 1, 1, f);
		fwrite(s.table[t], sizeof(s.table[t][0]), s.tnr[t], f);
	}
	for (unsigned int i = 0; i < FZ_NR_REGIONS; i++)
		fwrite(s.mem[i], 1, 1u + s.h.regions[i].len % FZ_MAX_REGION, f);
	if (fclose(f)) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	nr_written++;
}

/* The harness's "bad WRITE": header at R0+0, 512 bytes at R0+512, status at R0+2048. */
static void bad_write(unsigned int d0, unsigned int d1, unsigned int d2)
{
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	memset(&s.mem[0][512], 0xba, 512);
	s.mem[0][2048] = 0xff;
	s.desc[d0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, d1);
	s.desc[d1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, d2);
	s.desc[d2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
}

/* Packed: the list in slots 0 .. @n - 1 (its ID the last one's next), from the start. */
static void pk_avail(unsigned int n)
{
	s.h.flags |= FZ_F_PACKED;
	s.h.last_avail_idx = 0x8000;
	s.h.nr_avail = (uint8_t)n;
}

static void valid_requests(bool is_pk)
{
	const char *pfx = is_pk ? "pk-" : "";
	char name[64];

	static const struct { const char *name; uint32_t type; unsigned int data; bool is_write; } rw[] = {
		{ "ok-write", VIRTIO_BLK_T_OUT, 1024, false },
		{ "ok-read", VIRTIO_BLK_T_IN, 1024, true },
		{ "ok-flush", VIRTIO_BLK_T_FLUSH, 0, false },
		{ "ok-get-id", VIRTIO_BLK_T_GET_ID, 20, true },
		{ "ok-unsupported", 99, 0, false },
		{ "ok-read-past-end", VIRTIO_BLK_T_IN, 4096, true },
	};

	for (size_t k = 0; k < sizeof(rw) / sizeof(rw[0]); k++) {
		unsigned int n = 0;

		reset();
		hdr(1, 0, rw[k].type, strcmp(rw[k].name, "ok-read-past-end") ? 16 : 2046);
		s.desc[n] = d(FZ_K_REGION1, 0, 16, FZ_D_NEXT, n + 1);
		n++;
		if (rw[k].data) {
			s.desc[n] = rw[k].is_write ?
				d(FZ_K_REGION2, 0, rw[k].data, FZ_D_NEXT | FZ_D_WRITE, n + 1) :
				d(FZ_K_REGION1, 512, rw[k].data, FZ_D_NEXT, n + 1);
			n++;
		}
		s.desc[n] = d(FZ_K_REGION2, 4095, 1, FZ_D_WRITE, 0);
		if (is_pk)
			pk_avail(n + 1);
		else
			publish(0);
		snprintf(name, sizeof(name), "%s%s", pfx, rw[k].name);
		emit(name);
	}

	/* DISCARD and WRITE_ZEROES (with UNMAP) of two segments each. */
	for (int k = 0; k < 2; k++) {
		struct virtio_blk_discard_write_zeroes seg[2] = {
			{ htole64(0), htole32(8), htole32(k ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0) },
			{ htole64(100), htole32(16), 0 },
		};

		reset();
		hdr(1, 0, k ? VIRTIO_BLK_T_WRITE_ZEROES : VIRTIO_BLK_T_DISCARD, 0);
		memcpy(&s.mem[1][16], seg, sizeof(seg));
		s.desc[0] = d(FZ_K_REGION1, 0, 16 + sizeof(seg), FZ_D_NEXT, 1);
		s.desc[1] = d(FZ_K_REGION2, 0, 1, FZ_D_WRITE, 0);
		if (is_pk)
			pk_avail(2);
		else
			publish(0);
		snprintf(name, sizeof(name), "%s%s", pfx, k ? "ok-write-zeroes" : "ok-discard");
		emit(name);
	}

	/* An indirect READ whose data spans two adjacent regions, with EVENT_IDX. */
	reset();
	s.h.flags |= FZ_F_EVENT_IDX;
	region(0, RW, 256, false);
	region(1, RW, 4096, true);
	hdr(2, 0, VIRTIO_BLK_T_IN, 4);
	s.h.regions[2].perm = RW;
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION2, 0, 16, FZ_D_NEXT, 1);
	s.table[0][1] = d(FZ_K_REGION0, 0, 1024, FZ_D_NEXT | FZ_D_WRITE, 2);
	s.table[0][2] = d(FZ_K_REGION2, 100, 1, FZ_D_WRITE, 0);
	s.desc[5] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	if (is_pk) {
		s.desc[0] = s.desc[5];
		s.desc[0].next = 5;
		s.desc[5] = (struct fz_desc){ 0 };
		pk_avail(1);
		s.h.flags |= FZ_F_EVENT_IDX;
	} else {
		publish(5);
	}
	snprintf(name, sizeof(name), "%s%s", pfx, "ok-indirect-read-split");
	emit(name);

	/*
	 * A READ of 4 GiB + 512 bytes into the huge region 3: 0xffffffff + 513
	 * bytes of data, then the status (used.len must be 4 GiB + 513).
	 */
	reset();
	s.h.flags |= FZ_F_HUGE;
	region(3, RW, 4096, false);
	hdr(1, 0, VIRTIO_BLK_T_IN, 1000);
	s.desc[0] = d(FZ_K_REGION1, 0, 16, FZ_D_NEXT, 1);
	s.desc[1] = d(FZ_K_REGION3, 0, 0xffff, FZ_D_NEXT | FZ_D_WRITE | FZ_D_HUGE_LEN, 2);
	s.desc[2] = d(FZ_K_REGION3, 0, 513, FZ_D_NEXT | FZ_D_WRITE, 3);
	s.desc[3] = d(FZ_K_REGION2, 0, 1, FZ_D_WRITE, 0);
	if (is_pk)
		pk_avail(4);
	else
		publish(0);
	snprintf(name, sizeof(name), "%s%s", pfx, "huge-read");
	emit(name);
	if (is_pk)
		return;

	/* A batch: WRITE, READ, FLUSH on heads 3, 7, 11, resuming at avail index 65534. */
	reset();
	s.h.last_avail_idx = 65534;
	s.h.results = 0x24;
	hdr(0, 0, VIRTIO_BLK_T_OUT, 0);
	hdr(0, 16, VIRTIO_BLK_T_IN, 0);
	hdr(0, 32, VIRTIO_BLK_T_FLUSH, 0);
	s.desc[3] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 4);
	s.desc[4] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 5);
	s.desc[5] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[7] = d(FZ_K_REGION0, 16, 16, FZ_D_NEXT, 8);
	s.desc[8] = d(FZ_K_REGION2, 0, 512, FZ_D_NEXT | FZ_D_WRITE, 9);
	s.desc[9] = d(FZ_K_REGION2, 512, 1, FZ_D_WRITE, 0);
	s.desc[11] = d(FZ_K_REGION0, 32, 16, FZ_D_NEXT, 12);
	s.desc[12] = d(FZ_K_REGION0, 2049, 1, FZ_D_WRITE, 0);
	publish(3);
	publish(7);
	publish(11);
	emit("ok-batch-wrap");
}

static void malformed(void)
{
	/* test_bad_loop: zero-length descriptors in the cycle. */
	reset();
	bad_write(0, 1, 2);
	s.desc[2].flags |= FZ_D_NEXT;
	s.desc[2].next = 3;
	s.desc[3] = d(FZ_K_REGION0, 2048, 0, FZ_D_WRITE | FZ_D_NEXT, 4);
	s.desc[4] = d(FZ_K_REGION0, 2048, 0, FZ_D_WRITE | FZ_D_NEXT, 3);
	publish(0);
	emit("bad-loop");

	/* test_bad_loop_nonempty */
	reset();
	bad_write(0, 1, 2);
	s.desc[2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE | FZ_D_NEXT, 3);
	s.desc[3] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE | FZ_D_NEXT, 2);
	publish(0);
	emit("bad-loop-nonempty");

	/* test_bad_loop_indirect */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[1] = 5;
	s.table[1][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[1][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 2);
	s.table[1][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE | FZ_D_NEXT, 3);
	s.table[1][3] = d(FZ_K_REGION0, 2048, 0, FZ_D_WRITE | FZ_D_NEXT, 4);
	s.table[1][4] = d(FZ_K_REGION0, 2048, 0, FZ_D_WRITE | FZ_D_NEXT, 3);
	s.desc[0] = d(FZ_K_TABLE, 1, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	publish(0);
	emit("bad-loop-indirect");

	/* test_bad_next_range: next = queue size, next = 0xffff */
	reset();
	bad_write(0, 1, 2);
	s.desc[1].next = 16;
	bad_write(4, 5, 6);
	s.desc[5].next = 0xffff;
	publish(0);
	publish(4);
	emit("bad-next-range");

	/* test_bad_next_range_indirect: next 3 in a table of 3 */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[0][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 3);
	s.table[0][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[0] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	publish(0);
	emit("bad-next-range-indirect");

	/* test_bad_head_range: heads 16 and 0xffff are skipped, the valid one served */
	reset();
	bad_write(0, 1, 2);
	publish(16);
	publish(0xffff);
	publish(0);
	emit("bad-head-range");

	/* test_bad_addr_overflow */
	reset();
	bad_write(0, 1, 2);
	s.desc[1] = d(FZ_K_TOP, 255, 512, FZ_D_NEXT, 2);
	publish(0);
	emit("bad-addr-overflow");

	/* test_bad_unmapped: into the hole region 3 */
	reset();
	bad_write(0, 1, 2);
	s.desc[1] = d(FZ_K_REGION3, 0, 512, FZ_D_NEXT, 2);
	publish(0);
	emit("bad-unmapped");

	/* test_bad_partly_mapped: runs past the end of region 0 */
	reset();
	bad_write(0, 1, 2);
	s.desc[1] = d(FZ_K_REGION0, 4096 - 256, 512, FZ_D_NEXT, 2);
	publish(0);
	emit("bad-partly-mapped");

	/* test_bad_write_to_readonly_region: the status in region 1 (R) */
	reset();
	bad_write(0, 1, 2);
	s.desc[2] = d(FZ_K_REGION1, 100, 1, FZ_D_WRITE, 0);
	publish(0);
	emit("bad-write-to-readonly");

	/* test_bad_read_from_writeonly_region: the data in region 2 (W) */
	reset();
	bad_write(0, 1, 2);
	s.desc[1] = d(FZ_K_REGION2, 0, 512, FZ_D_NEXT, 2);
	publish(0);
	emit("bad-read-from-writeonly");

	/* test_bad_nested_indirect */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[0][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 2);
	s.table[0][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.tnr[1] = 1;
	s.table[1][0] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	s.desc[0] = d(FZ_K_TABLE, 1, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	publish(0);
	emit("bad-nested-indirect");

	/* test_bad_indirect_len: 40, 0, 49 bytes */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[0][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 2);
	s.table[0][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[0] = d(FZ_K_TABLE, 0, 40, FZ_D_INDIRECT, 0);
	s.desc[1] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT, 0);
	s.desc[2] = d(FZ_K_TABLE, 0, 49, FZ_D_INDIRECT, 0);
	publish(0);
	publish(1);
	publish(2);
	emit("bad-indirect-len");

	/* test_bad_indirect_too_large: queue size + 1 entries */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[2] = 17;
	s.table[2][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[2][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 2);
	for (unsigned int i = 2; i < 16; i++)
		s.table[2][i] = d(FZ_K_REGION0, 512, 0, FZ_D_NEXT, i + 1);
	s.table[2][16] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[0] = d(FZ_K_TABLE, 2, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	publish(0);
	emit("bad-indirect-too-large");

	/* test_bad_indirect_with_next */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 1);
	s.table[0][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 2);
	s.table[0][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[0] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN | FZ_D_NEXT, 1);
	s.desc[1] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	publish(0);
	emit("bad-indirect-with-next");

	/* test_bad_read_after_write */
	reset();
	bad_write(0, 1, 2);
	s.desc[1] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE | FZ_D_NEXT, 2);
	s.desc[2] = d(FZ_K_REGION0, 512, 512, 0, 0);
	publish(0);
	emit("bad-read-after-write");

	/* The same after a zero-length writable buffer (spec: still a readable after a writable). */
	reset();
	bad_write(0, 1, 3);
	s.desc[1] = d(FZ_K_REGION0, 2048, 0, FZ_D_WRITE | FZ_D_NEXT, 2);
	s.desc[2] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 3);
	publish(0);
	emit("bad-read-after-empty-write");

	/*
	 * test_bad_too_many_segments: with a queue of 16 a request holds 30
	 * iovecs; buffers that each span two adjacent regions take two.
	 */
	reset();
	region(0, RW, 256, false);
	region(1, R, 4096, true);
	region(2, W, 256, false);
	region(3, W, 256, true);
	hdr(1, 256, VIRTIO_BLK_T_OUT, 0);
	s.desc[0] = d(FZ_K_REGION1, 256, 16, FZ_D_NEXT, 1);
	for (unsigned int i = 1; i < 15; i++)
		s.desc[i] = d(FZ_K_REGION0, 0, 512, FZ_D_NEXT, i + 1);
	s.desc[15] = d(FZ_K_REGION2, 255, 2, FZ_D_WRITE, 0);
	publish(0);
	emit("bad-too-many-segments");

	/* test_bad_no_status: nothing device-writable */
	reset();
	bad_write(0, 1, 2);
	s.desc[2].flags = 0;
	publish(0);
	emit("bad-no-status");

	/* test_bad_short_header: 4 + 8 readable bytes */
	reset();
	bad_write(0, 1, 2);
	s.desc[0] = d(FZ_K_REGION0, 0, 4, FZ_D_NEXT, 1);
	s.desc[1] = d(FZ_K_REGION0, 4, 8, FZ_D_NEXT, 2);
	publish(0);
	emit("bad-short-header");

	/* test_notify's broken avail ring: avail->idx moved by more than the queue size */
	reset();
	bad_write(0, 1, 2);
	publish(0);
	s.h.idx_skew = 0x90;
	emit("bad-avail-idx");
}

/*
 * fuzz_ctrl programs.  Byte 0: bit 0 two queues, bit 1 no EVENT_IDX, bit 2
 * read-only; bytes 1-2: per queue size/ready/ring placement (0: 16, ready,
 * good rings); then ops: 0 SET_STATUS sel (0 DRIVER_OK, 1 reset, 2
 * FEATURES_OK), 1 POST queue type(0 IN 1 OUT 2 FLUSH 3 GET_ID 4 bad)
 * sectors sector(2) shape, 2 WAIT ms, 3 GET_VQ_STATE index, 4 UPDATE_IOTLB
 * sel, 5 REMAP sel, 6 odd message sel.
 */
#define S_OK 0, 0
#define S_RESET 0, 1
#define POST(q, t, n, sec, shape) 1, q, t, n, (sec) & 0xff, (sec) >> 8, shape
#define WAIT(ms) 2, ms
#define STATE(i) 3, i
#define IOTLB(sel) 4, sel
#define REMAP(sel) 5, sel
#define ODD(sel) 6, sel

static const uint8_t ctrl_basic[] = {
	0, 0, 0, S_OK, POST(0, 0, 1, 0, 0), WAIT(9), STATE(0), POST(0, 1, 2, 10, 0), WAIT(9),
	S_RESET, STATE(0), STATE(0xff),
};
static const uint8_t ctrl_two_queues[] = {
	1, 0, 0, S_OK, POST(0, 1, 8, 100, 0), POST(1, 0, 8, 100, 1), POST(0, 2, 0, 0, 0),
	POST(1, 3, 0, 0, 0), WAIT(20), STATE(0), STATE(1), S_RESET, STATE(1), S_OK,
	POST(1, 0, 1, 2047, 0), WAIT(9), STATE(1), S_RESET,
};
static const uint8_t ctrl_remap_bufs[] = {
	0, 0, 0, S_OK, POST(0, 0, 1, 0, 0), REMAP(1 | (1 << 3)), POST(0, 0, 1, 0, 0),
	POST(0, 1, 1, 0, 0), WAIT(9), REMAP(1 | (2 << 3)), POST(0, 1, 1, 0, 0), REMAP(1),
	POST(0, 0, 1, 0, 0), REMAP(0), POST(0, 0, 4, 8, 1), WAIT(20), S_RESET,
};
static const uint8_t ctrl_rings_unmapped[] = {
	1, 0, 0, S_OK, POST(0, 1, 1, 0, 0), REMAP(2), POST(0, 0, 1, 0, 0), POST(1, 0, 1, 0, 0),
	WAIT(5), STATE(0), REMAP(0), WAIT(20), STATE(0), REMAP(2), S_RESET, REMAP(0), S_OK,
	POST(0, 0, 1, 0, 0), WAIT(9),
};
static const uint8_t ctrl_invalidate[] = {
	0, 2, 0, S_OK, POST(0, 0, 8, 0, 0), POST(0, 1, 8, 8, 1), IOTLB(0), POST(0, 0, 8, 16, 0),
	IOTLB(1), POST(0, 3, 0, 0, 1), IOTLB(2), IOTLB(3), WAIT(20), STATE(0),
};
static const uint8_t ctrl_small_maps[] = {
	1, 0, 0, REMAP(3), S_OK, POST(0, 0, 8, 0, 0), POST(1, 1, 8, 0, 1), POST(0, 0, 8, 0, 0),
	WAIT(20), REMAP(3), POST(1, 0, 8, 0, 0), WAIT(20), S_RESET,
};
static const uint8_t ctrl_bad_config[] = {
	1, 4, 0x10, S_OK, STATE(0), STATE(1), S_RESET, S_OK,
};
static const uint8_t ctrl_malformed[] = {
	0, 0, 0, S_OK, POST(0, 1, 1, 0, 2), POST(0, 0, 1, 0, 3), POST(0, 1, 1, 0, 4),
	POST(0, 0, 1, 0, 5), WAIT(9), POST(0, 0, 1, 3000, 0), POST(0, 4, 0, 0, 0), WAIT(9),
	POST(0, 1, 1, 0, 6), WAIT(5), STATE(0), S_RESET, S_OK, POST(0, 0, 1, 0, 0), WAIT(9),
};
static const uint8_t ctrl_odd[] = {
	0, 0, 0, ODD(1), ODD(0), ODD(14), S_OK, ODD(3), STATE(5), STATE(0xff), S_RESET,
};
static const uint8_t ctrl_readonly_before_ok[] = {
	4, 0, 8, POST(0, 1, 1, 0, 0), POST(0, 0, 1, 0, 0), 0, 2, S_OK, WAIT(9), S_RESET,
};

static void write_file(const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	nr_written++;
}

#define CTRL(name) write_file("ctrl-" #name, ctrl_##name, sizeof(ctrl_##name))

static void ctrl_programs(void)
{
	CTRL(basic);
	CTRL(two_queues);
	CTRL(remap_bufs);
	CTRL(rings_unmapped);
	CTRL(invalidate);
	CTRL(small_maps);
	CTRL(bad_config);
	CTRL(malformed);
	CTRL(odd);
	CTRL(readonly_before_ok);
}

/* Packed rings: lists across the end, batches out of order, odd sizes, their own faults. */
static void packed(void)
{
	/* WRITE, READ, FLUSH as IDs 3, 7, 11 in slots 14, 15, 0 .. 4, 5, 6: across the end. */
	reset();
	pk_avail(7);
	s.h.last_avail_idx = 0x8000 | 14;
	s.h.results = 0x24;
	hdr(0, 0, VIRTIO_BLK_T_OUT, 0);
	hdr(0, 16, VIRTIO_BLK_T_IN, 0);
	hdr(0, 32, VIRTIO_BLK_T_FLUSH, 0);
	s.desc[14] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 0);
	s.desc[15] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.desc[0] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 3);
	s.desc[1] = d(FZ_K_REGION0, 16, 16, FZ_D_NEXT, 0);
	s.desc[2] = d(FZ_K_REGION2, 0, 512, FZ_D_NEXT | FZ_D_WRITE, 0);
	s.desc[3] = d(FZ_K_REGION2, 512, 1, FZ_D_WRITE, 7);
	s.desc[4] = d(FZ_K_REGION0, 32, 16, FZ_D_NEXT, 0);
	s.desc[5] = d(FZ_K_REGION0, 2049, 1, FZ_D_WRITE, 11);
	emit("pk-ok-batch-wrap");
	/* The same completed late and out of order, with EVENT_IDX. */
	s.h.regions[0].is_adjacent = 0x5b;
	s.h.flags |= FZ_F_EVENT_IDX;
	s.h.used_event = 3;
	emit("pk-ok-batch-late");
	/* Eight FLUSHes (two slots each) on a ring of 100 from 97, completed late. */
	reset();
	pk_avail(8);
	s.h.queue_log2 = 100;
	s.h.last_avail_idx = 0x8000 | 97;
	s.h.regions[0].is_adjacent = 0x33;
	hdr(1, 0, VIRTIO_BLK_T_FLUSH, 0);
	for (unsigned int k = 0; k < 8; k++) {
		s.desc[(97 + 2 * k) % 100] = d(FZ_K_REGION1, 0, 16, FZ_D_NEXT, 0);
		s.desc[(98 + 2 * k) % 100] = d(FZ_K_REGION2, k, 1, FZ_D_WRITE, 10 + k);
	}
	s.h.nr_avail = 16;
	emit("pk-ok-size-100");
	/* Lap 0, 12 slots already in flight: the next list of 5 overruns the ring. */
	reset();
	bad_write(0, 1, 2);
	pk_avail(8);
	s.h.last_avail_idx = 0;
	s.h.idx_skew = 0x80 | 12;
	s.desc[3] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 0);
	s.desc[4] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.desc[5] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.desc[6] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.desc[7] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 1);
	emit("pk-bad-ring-overrun");
	/* NEXT on every slot: the list never ends. */
	reset();
	pk_avail(16);
	for (unsigned int i = 0; i < 16; i++)
		s.desc[i] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 0);
	emit("pk-bad-endless");
	/* A buffer ID of the queue size. */
	reset();
	bad_write(0, 1, 2);
	pk_avail(3);
	s.desc[2].next = 16;
	emit("pk-bad-head-range");
	/* The head marked used for this lap. */
	reset();
	bad_write(0, 1, 2);
	pk_avail(3);
	s.desc[0].flags |= FZ_D_PK_USED;
	emit("pk-bad-flags");
	/* A later descriptor written for the other lap. */
	reset();
	bad_write(0, 1, 2);
	pk_avail(3);
	s.desc[1].flags |= FZ_D_PK_FLIP;
	emit("pk-bad-wrap");
	/* A direct descriptor, then an indirect one. */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 1;
	s.table[0][0] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.desc[0] = d(FZ_K_REGION0, 0, 16, FZ_D_NEXT, 0);
	s.desc[1] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	pk_avail(2);
	emit("pk-bad-indirect-in-chain");
	s.desc[0] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN | FZ_D_NEXT, 0);
	s.desc[1] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	emit("pk-bad-indirect-next");
	/* Nested tables; a table of 40 bytes; a readable entry after a writable one. */
	reset();
	hdr(0, 0, VIRTIO_BLK_T_OUT, 8);
	s.tnr[0] = 3;
	s.table[0][0] = d(FZ_K_REGION0, 0, 16, 0, 0);
	s.table[0][1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.table[0][2] = d(FZ_K_REGION0, 2048, 1, FZ_D_WRITE, 0);
	s.tnr[1] = 1;
	s.table[1][0] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	s.desc[0] = d(FZ_K_TABLE, 1, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 0);
	s.desc[1] = d(FZ_K_TABLE, 0, 40, FZ_D_INDIRECT, 1);
	s.desc[2] = d(FZ_K_TABLE, 0, 0, FZ_D_INDIRECT | FZ_D_TABLE_LEN, 2);
	pk_avail(3);
	emit("pk-ok-indirect-nested-len");
	s.table[0][1].flags |= FZ_D_WRITE;
	s.table[0][2].flags &= (uint8_t)~FZ_D_WRITE;
	emit("pk-bad-indirect-read-after-write");
	/* Buffers unmapped, overflowing, writable in read-only memory. */
	reset();
	bad_write(0, 1, 2);
	bad_write(3, 4, 5);
	bad_write(6, 7, 8);
	s.desc[1] = d(FZ_K_REGION3, 0, 512, FZ_D_NEXT, 0);
	s.desc[4] = d(FZ_K_TOP, 255, 512, FZ_D_NEXT, 0);
	s.desc[8] = d(FZ_K_REGION1, 100, 1, FZ_D_WRITE, 1);
	pk_avail(9);
	emit("pk-bad-buffers");
	/* The device accepts two buffers per list (seg_max): three are too many. */
	s.desc[1] = d(FZ_K_REGION0, 512, 512, FZ_D_NEXT, 0);
	s.h.idx_skew = 0x40 | 1;
	emit("pk-bad-too-many-segments");
	/* The driver's event offset outside the ring; and one a lap away. */
	reset();
	bad_write(0, 1, 2);
	pk_avail(3);
	s.h.flags |= FZ_F_EVENT_IDX;
	s.h.used_event = 17;
	emit("pk-bad-event-offset");
	s.h.used_event = 0x81;
	emit("pk-event-next-lap");
	/* A status buffer inside the ring itself: the device writes into its own ring. */
	s.h.used_event = 0;
	s.desc[2] = d(FZ_K_RING, 16 * 5 + 3, 1, FZ_D_WRITE, 0);
	emit("pk-status-in-ring");
}

/*
 * A state file of @version for one queue of @qs descriptors, its log active
 * on a ring of @num in @layout with three chains in flight (packed: with
 * their copies), behind fuzz_state's knobs (fix checksum, name and boot
 * id, sizes; check against the header's identity).
 */
static void state_seed(const char *name, uint32_t version, uint16_t qs, uint16_t num,
		       uint8_t layout, uint16_t used_idx)
{
	uint64_t sec = version == 1 ? journal_bytes_v1(qs) : journal_bytes(qs);
	size_t knobs = 3 + sizeof(struct vdb_identity), file = sizeof(struct vdb_state_header) + sec;
	uint8_t *buf = calloc(1, knobs + file);
	/* Built where its types are aligned, then copied behind the knobs. */
	struct vdb_state_header *h = aligned_alloc(64, (file + 63) & ~(size_t)63);
	struct journal *log;

	if (!buf || !h)
		exit(1);
	memset(h, 0, file);
	buf[0] = 0x1f;
	buf[1] = (uint8_t)used_idx;
	buf[2] = (uint8_t)(used_idx >> 8);
	memcpy(h->magic, VDB_STATE_MAGIC, 8);
	h->version = version;
	h->header_bytes = sizeof(*h);
	h->id = (struct vdb_identity){ .capacity_sectors = 2048, .block_size = 512,
				       .nr_queues = 1, .queue_size = qs,
				       .features = layout ? 1ULL << 34 : 0 };
	log = (struct journal *)(h + 1);
	log->is_active = 1;
	log->num = num;
	log->layout = layout;
	log->avail_idx = layout ? (uint16_t)(0x8000 | 6) : 3;
	log->pop_seq = layout ? 3 : 0;
	log->used_idx = log->pending_used_idx = layout ? 0x8000 : 0;
	for (uint16_t i = 0; i < 3; i++) {
		log->heads[i * 2] = JOURNAL_TAKEN | i;
		/* Version 1 has no room for copies: its packed seed claims a layout it cannot hold. */
		if (!layout || version < 2)
			continue;
		journal_chains(log, qs)[i * 2] = (uint32_t)(i * 2) | 2u << 16;
		journal_pool(log, qs)[i * 2] = (struct vring_packed_desc){
			.addr = 0x1000, .len = 16, .id = (uint16_t)(i * 2 + 1), .flags = 1 };
		journal_pool(log, qs)[i * 2 + 1] = (struct vring_packed_desc){
			.addr = 0x2000, .len = 1, .id = JOURNAL_POOL_END, .flags = 2 };
	}
	memcpy(buf + knobs, h, file);
	write_file(name, buf, knobs + file);
	free(h);
	free(buf);
}

static void state_files(void)
{
	state_seed("state-v2-split", 2, 8, 8, 0, 0);
	state_seed("state-v2-packed", 2, 8, 8, 1, 0x8000);
	state_seed("state-v2-packed-odd-ring", 2, 16, 6, 1, 0x8000);
	state_seed("state-v1-split", 1, 8, 8, 0, 0);
	state_seed("state-v1-packed", 1, 8, 8, 1, 0x8000);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "vq") && strcmp(argv[1], "ctrl") &&
			  strcmp(argv[1], "state"))) {
		fprintf(stderr, "usage: gen_seeds vq|ctrl|state DIR\n");
		return 2;
	}
	dir = argv[2];
	if (strcmp(argv[1], "vq") == 0) {
		valid_requests(false);
		malformed();
		valid_requests(true);
		packed();
	} else if (strcmp(argv[1], "state") == 0) {
		state_files();
	} else {
		ctrl_programs();
	}
	printf("gen_seeds: %u seeds in %s\n", nr_written, dir);
	return 0;
}
