// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-blk-test: the data checks.  Each writes its own sectors (SEC_*),
 * reads them back into buffers prefilled with FILL_READ, and records what
 * the image must hold for the file comparisons after FLUSH.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>

#include "vhost-blk-test.h"

static void check_rw(struct vbt *t, uint64_t sector, uint32_t len, const char *where, uint64_t seed)
{
	progress(where);
	vdrv_arena_reset(&t->d);
	if (write_pattern(t, sector, &len, 1, seed, false) &&
	    read_compare(t, sector, &len, 1, seed, false))
		ok(t, "WRITE then READ of %u bytes at sector %llu (%s)", len,
		   (unsigned long long)sector, where);
	else
		fail(t, "WRITE/READ at sector %llu (%s): %s", (unsigned long long)sector, where, t->why);
}

static void check_flush_image(struct vbt *t)
{
	unsigned int nr;

	progress("flush");
	vdrv_arena_reset(&t->d);
	if (!flush_dev(t)) {
		fail(t, "FLUSH: %s", t->why);
		return;
	}
	ok(t, "FLUSH: status OK, used length 1%s", t->has_flush ? "" : " (FLUSH not negotiated)");
	if (t->img_fd < 0) {
		skip(t, "image file comparison: no --image");
		return;
	}
	if (image_matches(t, &nr))
		ok(t, "image file holds the written data after FLUSH (%u ranges)", nr);
	else
		fail(t, "image file after FLUSH: %s", t->why);
}

static void check_image_direct(struct vbt *t)
{
	uint32_t len = 4096;
	uint64_t seed = 0x1111;
	uint8_t *buf;

	progress("image direct");
	if (t->img_fd < 0 || !t->is_img_writable) {
		skip(t, "READ of data written to the image file: %s",
		     t->img_fd < 0 ? "no --image" : "image not writable");
		return;
	}
	buf = malloc(len);
	if (!buf) {
		fail(t, "READ of data written to the image file: out of memory");
		return;
	}
	pattern_fill(buf, len, seed);
	if (pwrite(t->img_fd, buf, len, SEC_IMAGE_DIRECT * 512) != (ssize_t)len) {
		fail(t, "writing the image file: %s", strerror(errno));
		free(buf);
		return;
	}
	free(buf);
	vdrv_arena_reset(&t->d);
	if (read_compare(t, SEC_IMAGE_DIRECT, &len, 1, seed, false))
		ok(t, "READ returns data written to the image file behind the device (sector %d)",
		   SEC_IMAGE_DIRECT);
	else
		fail(t, "READ of data written to the image file: %s", t->why);
	expect_set(t, SEC_IMAGE_DIRECT, len, seed);
}

static void check_get_id(struct vbt *t)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];
	struct breq r;
	uint8_t *buf;

	progress("get id");
	vdrv_arena_reset(&t->d);
	if (breq_init(t, &r, VIRTIO_BLK_T_GET_ID, 0) < 0 ||
	    !(buf = breq_data(t, &r, VIRTIO_BLK_ID_BYTES))) {
		fail(t, "GET_ID: %s", t->why);
		return;
	}
	if (!breq_do(t, &r, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES + 1)) {
		fail(t, "GET_ID: %s", t->why);
		return;
	}
	memcpy(id, buf, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = 0;
	if (t->o.serial) {
		char want[VIRTIO_BLK_ID_BYTES] = { 0 };

		memcpy(want, t->o.serial, strnlen(t->o.serial, VIRTIO_BLK_ID_BYTES));
		if (memcmp(want, buf, VIRTIO_BLK_ID_BYTES))
			fail(t, "GET_ID: '%s', expected '%s'", id, t->o.serial);
		else
			ok(t, "GET_ID: '%s' as given by --serial, 20 bytes, used length 21", id);
		return;
	}
	for (unsigned int i = 0; i < VIRTIO_BLK_ID_BYTES && id[i]; i++) {
		if (id[i] < 0x20 || id[i] > 0x7e) {
			fail(t, "GET_ID: byte %u is 0x%02x, not printable", i, (uint8_t)id[i]);
			return;
		}
	}
	ok(t, "GET_ID: '%s', 20 bytes, used length 21", id);
}

static void check_errors(struct vbt *t)
{
	enum where { AT_CAPACITY, BEFORE_CAPACITY, LAST_U64, INSIDE };
	static const struct {
		uint32_t type;
		enum where where;
		uint32_t len;
		uint8_t status;
		const char *what;
	} cases[] = {
		{ VIRTIO_BLK_T_IN, AT_CAPACITY, 512, VIRTIO_BLK_S_IOERR, "READ at the capacity" },
		{ VIRTIO_BLK_T_IN, BEFORE_CAPACITY, 1024, VIRTIO_BLK_S_IOERR, "READ across the end" },
		{ VIRTIO_BLK_T_OUT, AT_CAPACITY, 512, VIRTIO_BLK_S_IOERR, "WRITE at the capacity" },
		{ VIRTIO_BLK_T_IN, LAST_U64, 512, VIRTIO_BLK_S_IOERR, "READ at sector 2^64-1" },
		{ VIRTIO_BLK_T_IN, INSIDE, 100, VIRTIO_BLK_S_IOERR, "READ of 100 bytes" },
		{ 0x7f, INSIDE, 512, VIRTIO_BLK_S_UNSUPP, "unknown type 0x7f" },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct breq r[N], *rp[N];
	unsigned int nr_bad = 0, per = t->d.vq.num / 3 < N ? t->d.vq.num / 3 : N;

	progress("errors");
	vdrv_arena_reset(&t->d);
	for (unsigned int i = 0; i < N; i++) {
		uint64_t sector = cases[i].where == AT_CAPACITY ? t->capacity :
				  cases[i].where == BEFORE_CAPACITY ? t->capacity - 1 :
				  cases[i].where == LAST_U64 ? UINT64_MAX : 16;

		if (breq_init(t, &r[i], cases[i].type, sector) < 0 || !breq_data(t, &r[i], cases[i].len)) {
			fail(t, "error cases: %s", t->why);
			return;
		}
		rp[i] = &r[i];
	}
	/* Together, in as few batches as the ring allows: failures mixed in a batch. */
	for (unsigned int i = 0; i < N; i += per) {
		if (breq_run(t, rp + i, N - i < per ? N - i : per) < 0) {
			fail(t, "error cases: %s", t->why);
			return;
		}
	}
	for (unsigned int i = 0; i < N; i++) {
		uint8_t got = breq_status(t, &r[i]);

		if (got != cases[i].status) {
			fail(t, "%s: status %u, expected %u", cases[i].what, got, cases[i].status);
			nr_bad++;
		}
	}
	if (!nr_bad)
		ok(t, "%u bad requests in %u batch(es): out of range (at, across the end, at 2^64-1) and misaligned get IOERR, an unknown type UNSUPP",
		   (unsigned int)N, (N + per - 1) / per);
}

static void check_multi_seg(struct vbt *t)
{
	uint32_t wsegs[] = { 512, 1536, 4096, 512, 2048 };
	uint32_t rsegs[] = { 1024, 7680 };
	unsigned int nw = sizeof(wsegs) / sizeof(wsegs[0]);
	uint32_t max = t->seg_max < t->d.vq.num - 2u ? t->seg_max : t->d.vq.num - 2u;

	progress("multi segment");
	if (max < 2) {
		skip(t, "multi-segment requests: seg_max %u", t->seg_max);
		return;
	}
	if (nw > max) {
		/* Fold the tail into the last allowed segment. */
		for (unsigned int i = max; i < nw; i++)
			wsegs[max - 1] += wsegs[i];
		nw = max;
	}
	vdrv_arena_reset(&t->d);
	if (write_pattern(t, SEC_MULTI, wsegs, nw, 0x2222, false) &&
	    read_compare(t, SEC_MULTI, rsegs, 2, 0x2222, false))
		ok(t, "multi-segment: WRITE of 8704 bytes in %u buffers, READ back in 2 different ones", nw);
	else
		fail(t, "multi-segment: %s", t->why);
}

/* Legal but unusual framing: header split in two, header and data in one buffer, status with data. */
static void check_odd_layout(struct vbt *t)
{
	struct breq w, r;
	struct vdrv_buf b[3];
	uint64_t whdr, rdata;
	uint8_t *p;
	long long at;

	progress("odd layout");
	vdrv_arena_reset(&t->d);
	/* WRITE: [header + 512 bytes data] [status]. */
	if (breq_init(t, &w, VIRTIO_BLK_T_OUT, SEC_ODD) < 0 ||
	    !(whdr = vdrv_alloc(&t->d, 16 + 512, 16))) {
		fail(t, "odd layout: %s", t->why);
		return;
	}
	memcpy(vdrv_ptr(&t->d, whdr), vdrv_ptr(&t->d, w.hdr_off), 16);
	pattern_fill((uint8_t *)vdrv_ptr(&t->d, whdr) + 16, 512, 0x3333);
	b[0] = (struct vdrv_buf){ .off = whdr, .len = 16 + 512 };
	b[1] = (struct vdrv_buf){ .off = w.status_off, .len = 1, .is_dev_write = true };
	if (breq_run_layout(t, &w, b, 2) < 0 || !breq_done_as(t, &w, VIRTIO_BLK_S_OK, 1)) {
		fail(t, "odd layout WRITE (header and data in one buffer): %s", t->why);
		return;
	}
	expect_set(t, SEC_ODD, 512, 0x3333);
	/* READ: [8 bytes of header] [8 bytes of header] [512 bytes data + status]. */
	if (breq_init(t, &r, VIRTIO_BLK_T_IN, SEC_ODD) < 0 || !(rdata = vdrv_alloc(&t->d, 513, 16))) {
		fail(t, "odd layout: %s", t->why);
		return;
	}
	memset(vdrv_ptr(&t->d, rdata), FILL_READ, 513);
	b[0] = (struct vdrv_buf){ .off = r.hdr_off, .len = 8 };
	b[1] = (struct vdrv_buf){ .off = r.hdr_off + 8, .len = 8 };
	b[2] = (struct vdrv_buf){ .off = rdata, .len = 513, .is_dev_write = true };
	r.status_off = rdata + 512;
	if (breq_run_layout(t, &r, b, 3) < 0 || !breq_done_as(t, &r, VIRTIO_BLK_S_OK, 513)) {
		fail(t, "odd layout READ (split header, status after the data): %s", t->why);
		return;
	}
	p = vdrv_ptr(&t->d, rdata);
	at = pattern_diff(p, 512, 0x3333);
	if (at >= 0) {
		fail(t, "odd layout READ: data differs at byte %lld", at);
		return;
	}
	ok(t, "odd layouts: WRITE with header and data in one buffer, READ with a split header and the status byte after the data");
}

static void check_indirect(struct vbt *t)
{
	uint32_t wsegs[] = { 1024, 2048, 1024 };
	uint32_t rsegs[] = { 2048, 2048 };

	progress("indirect");
	if (!t->has_indirect) {
		skip(t, "indirect descriptors: INDIRECT_DESC not negotiated");
		return;
	}
	vdrv_arena_reset(&t->d);
	if (!write_pattern(t, SEC_INDIRECT, wsegs, 3, 0x4444, true) ||
	    !read_compare(t, SEC_INDIRECT, rsegs, 2, 0x4444, false)) {
		fail(t, "indirect WRITE (5-entry table), direct READ: %s", t->why);
		return;
	}
	if (!write_pattern(t, SEC_INDIRECT, rsegs, 2, 0x4445, false) ||
	    !read_compare(t, SEC_INDIRECT, wsegs, 3, 0x4445, true)) {
		fail(t, "direct WRITE, indirect READ (5-entry table): %s", t->why);
		return;
	}
	ok(t, "indirect descriptors: WRITE and READ through 4- and 5-entry tables agree with direct ones");
}

/* @n writes in one publish, then @n reads in one publish. */
static bool batch(struct vbt *t, unsigned int n, uint64_t first_sector, uint32_t len,
		  uint64_t seed0, bool mix_indirect)
{
	struct breq *r = calloc(n, sizeof(*r));
	struct breq **rp = calloc(n, sizeof(*rp));
	bool is_ok = false;

	if (!r || !rp) {
		why(t, "out of memory");
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		uint32_t type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

		vdrv_arena_reset(&t->d);
		for (unsigned int i = 0; i < n; i++) {
			uint8_t *p;

			rp[i] = &r[i];
			if (breq_init(t, &r[i], type, first_sector + i * (len / 512)) < 0 ||
			    !(p = breq_data(t, &r[i], len)))
				goto out;
			r[i].is_indirect = mix_indirect && (i & 1);
			if (!pass)
				pattern_fill(p, len, seed0 + i);
		}
		if (breq_run(t, rp, n) < 0)
			goto out;
		for (unsigned int i = 0; i < n; i++) {
			long long at;

			if (!breq_done_as(t, &r[i], VIRTIO_BLK_S_OK, pass ? len + 1 : 1)) {
				why_prefix(t, "%s %u of %u", pass ? "READ" : "WRITE", i, n);
				goto out;
			}
			if (!pass) {
				expect_set(t, r[i].sector, len, seed0 + i);
				continue;
			}
			at = pattern_diff(vdrv_ptr(&t->d, r[i].data[0].off), len, seed0 + i);
			if (at >= 0) {
				why(t, "READ %u of %u (sector %llu): data differs at byte %lld", i, n,
				    (unsigned long long)r[i].sector, at);
				goto out;
			}
		}
	}
	is_ok = true;
out:
	free(r);
	free(rp);
	return is_ok;
}

static void check_batch(struct vbt *t)
{
	unsigned int n = t->d.vq.num / 3 < 16 ? t->d.vq.num / 3 : 16;
	uint64_t kicks = t->d.vq.nr_kicks, calls = t->d.vq.nr_calls;

	progress("batch");
	if (batch(t, n, SEC_BATCH, 4096, 0x5500, t->has_indirect))
		ok(t, "batch: %u WRITEs in one publish, then %u READs in one publish%s (%llu kicks, %llu interrupts)",
		   n, n, t->has_indirect ? ", every other one indirect" : "",
		   (unsigned long long)(t->d.vq.nr_kicks - kicks),
		   (unsigned long long)(t->d.vq.nr_calls - calls));
	else
		fail(t, "batch of %u: %s", n, t->why);
}

static void check_large(struct vbt *t)
{
	uint32_t len = 512u << 10;

	progress("large");
	vdrv_arena_reset(&t->d);
	if (write_pattern(t, SEC_LARGE, &len, 1, 0x6666, false) &&
	    read_compare(t, SEC_LARGE, &len, 1, 0x6666, false))
		ok(t, "large: WRITE and READ of 512 KiB in one buffer each");
	else
		fail(t, "large (512 KiB): %s", t->why);
}

static void check_write_zeroes(struct vbt *t)
{
	struct virtio_blk_discard_write_zeroes *seg;
	uint32_t len = 4096;
	struct breq z;

	progress("write zeroes");
	if (!t->has_wz) {
		skip(t, "WRITE_ZEROES: not offered");
		return;
	}
	vdrv_arena_reset(&t->d);
	if (!write_pattern(t, SEC_WZ, &len, 1, 0x7777, false)) {
		fail(t, "WRITE_ZEROES: writing the pattern first: %s", t->why);
		return;
	}
	if (breq_init(t, &z, VIRTIO_BLK_T_WRITE_ZEROES, 0) < 0) {
		fail(t, "WRITE_ZEROES: %s", t->why);
		return;
	}
	/* The payload is device-readable, like a WRITE's data. */
	seg = (void *)breq_data(t, &z, sizeof(*seg));
	if (!seg) {
		fail(t, "WRITE_ZEROES: %s", t->why);
		return;
	}
	seg->sector = htole64(SEC_WZ);
	seg->num_sectors = htole32(len / 512);
	seg->flags = 0;
	if (!breq_do(t, &z, VIRTIO_BLK_S_OK, 1)) {
		fail(t, "WRITE_ZEROES: %s", t->why);
		return;
	}
	expect_set(t, SEC_WZ, len, 0);
	if (read_compare(t, SEC_WZ, &len, 1, 0, false))
		ok(t, "WRITE_ZEROES of 8 sectors: status OK, READ returns zeroes");
	else
		fail(t, "WRITE_ZEROES: %s", t->why);
}

/* More requests than twice the ring: descriptors and indices wrap around. */
static void check_wrap(struct vbt *t)
{
	unsigned int per = t->d.vq.num / 3 < 8 ? t->d.vq.num / 3 : 8;
	unsigned int total = 0, want = 2u * t->d.vq.num + 3, round = 0;
	uint16_t avail0 = t->d.vq.avail_idx;

	progress("wrap");
	while (total < want) {
		/* Sectors cycle through 64 slots; each round writes then reads @per of them. */
		uint64_t first = SEC_WRAP + (round * per) % 64 * 8;

		if (first + per * 8 > SEC_WRAP + 64 * 8)
			first = SEC_WRAP;
		if (!batch(t, per, first, 512, 0x10000 + round * 64, false)) {
			fail(t, "wrap-around after %u requests: %s", total, t->why);
			return;
		}
		total += 2 * per;
		round++;
		progress("wrap");
	}
	ok(t, "%u requests through a %u-entry ring in batches of %u (avail index %u -> %u)", total,
	   t->d.vq.num, per, avail0, t->d.vq.avail_idx);
}

/* The used index the device left in a memory's ring. */
static uint16_t used_idx_in(const struct vdrv_mem *m)
{
	const struct vring_used *u = (const void *)(m->host + VDRV_USED_OFF);

	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

/* After a stuck request: does the device still use the rings in the old memory? */
static void diagnose_remap(struct vbt *t, const struct vdrv_mem *old)
{
	uint16_t before = used_idx_in(old);
	long long deadline = now_ms() + 3000;

	/* Mirror the new descriptor table and avail ring into the old memory and kick. */
	memcpy(old->host + VDRV_DESC_OFF, t->d.mem.host + VDRV_DESC_OFF, VDRV_USED_OFF);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vdrv_kick(&t->d);
	while (now_ms() < deadline && used_idx_in(old) == before)
		usleep(10000);
	if (used_idx_in(old) != before)
		info("diagnosis: mirrored into the OLD memory, the request completed there (old used idx %u -> %u): the device still reads and writes the rings through the mapping it had before the IOTLB invalidate",
		     before, used_idx_in(old));
	else
		info("diagnosis: mirrored into the old memory, the request did not complete there either (old used idx %u)",
		     before);
}

static void check_remap(struct vbt *t)
{
	struct vdrv *d = &t->d;
	struct vdrv_mem old = d->mem, neu = { .fd = -1 };
	uint32_t len = 4096;
	uint64_t seed = 0x8888;
	uint16_t old_used;
	static uint8_t old_rings[VDRV_ARENA_OFF];

	progress("remap");
	if (vdrv_nr_inflight(d)) {
		fail(t, "remap: %u requests still in flight", vdrv_nr_inflight(d));
		return;
	}
	if (vdrv_mem_create(&neu, old.iova, old.bytes) < 0) {
		fail(t, "remap: second memfd: %s", strerror(errno));
		return;
	}
	memcpy(neu.host, old.host, old.bytes);
	/* Two messages, no batch: the device sees the whole range go away first. */
	if (vdrv_iotlb_invalidate(d, old.iova, old.bytes) < 0 ||
	    vdrv_iotlb_update(d, neu.iova, neu.bytes, neu.host, VHOST_ACCESS_RW) < 0) {
		fail(t, "remap: %s", vdrv_err(d));
		vdrv_mem_destroy(&neu);
		t->is_stuck = true;
		return;
	}
	d->mem = neu;
	vdrv_vq_rebind(d);
	/* Whatever the device still finds in the old memory is not our data. */
	memset(old.host + VDRV_ARENA_OFF, FILL_OLD, old.bytes - VDRV_ARENA_OFF);
	old_used = used_idx_in(&old);
	memcpy(old_rings, old.host, VDRV_ARENA_OFF);
	info("remap: IOTLB invalidate of 0x%llx+0x%zx, then update to a second memfd at the same IOVA",
	     (unsigned long long)old.iova, old.bytes);

	vdrv_arena_reset(d);
	if (!write_pattern(t, SEC_REMAP, &len, 1, seed, false)) {
		fail(t, "I/O after the IOTLB remap: %s", t->why);
		if (t->is_stuck)
			diagnose_remap(t, &old);
		goto out;
	}
	if (!flush_dev(t) || !read_compare(t, SEC_REMAP, &len, 1, seed, false)) {
		fail(t, "I/O after the IOTLB remap: %s", t->why);
		goto out;
	}
	/* The device must not have touched the old memory: rings or buffers. */
	if (used_idx_in(&old) != old_used) {
		fail(t, "after the remap the device advanced the used ring in the OLD memory (%u -> %u)",
		     old_used, used_idx_in(&old));
		goto out;
	}
	/* Packed rings are written back in place: no byte of the old rings may change. */
	for (unsigned int i = 0; i < VDRV_ARENA_OFF; i++) {
		if (old.host[i] != old_rings[i]) {
			fail(t, "after the remap the device wrote the OLD rings at offset 0x%x", i);
			goto out;
		}
	}
	for (uint64_t i = VDRV_ARENA_OFF; i < old.bytes; i++) {
		if (old.host[i] != FILL_OLD) {
			fail(t, "after the remap the device wrote into the OLD memory at offset 0x%llx",
			     (unsigned long long)i);
			goto out;
		}
	}
	ok(t, "after an IOTLB invalidate and a remap to new memory at the same IOVA, WRITE/FLUSH/READ use the new memory only");
out:
	/* The device may still hold the old memory; it goes when the device lets go. */
	munmap(old.host, old.bytes);
	close(old.fd);
}

static void check_final_image(struct vbt *t)
{
	unsigned int nr;

	progress("final flush");
	vdrv_arena_reset(&t->d);
	if (!flush_dev(t)) {
		fail(t, "final FLUSH: %s", t->why);
		return;
	}
	if (t->img_fd < 0)
		return;
	if (image_matches(t, &nr))
		ok(t, "image file matches every range written (%u) after a final FLUSH", nr);
	else
		fail(t, "image file at the end: %s", t->why);
}

static void check_readonly(struct vbt *t)
{
	uint32_t len = 512;
	struct breq w;

	progress("readonly");
	vdrv_arena_reset(&t->d);
	if (breq_init(t, &w, VIRTIO_BLK_T_OUT, 0) < 0 || !breq_data(t, &w, len) ||
	    !breq_do(t, &w, VIRTIO_BLK_S_IOERR, UINT32_MAX))
		fail(t, "WRITE to a read-only device: %s", t->why);
	else
		ok(t, "WRITE to a read-only device fails with IOERR");
}

void run_checks(struct vbt *t)
{
	uint64_t mid = (t->capacity / 2 + 8) & ~7ULL, last = t->capacity - 8;
	void (*const checks[])(struct vbt *) = {
		check_flush_image, check_image_direct, check_get_id, check_errors,
		check_multi_seg, check_odd_layout, check_indirect, check_batch, check_large,
		check_write_zeroes, check_wrap,
	};

	if (t->capacity < MIN_CAPACITY) {
		fail(t, "capacity %llu sectors: this tool needs at least %llu (8 MiB)",
		     (unsigned long long)t->capacity, MIN_CAPACITY);
		return;
	}
	if (t->is_ro) {
		check_readonly(t);
		info("read-only device: the data checks need a writable one");
		return;
	}
	check_rw(t, 0, 4096, "first", 0xa1);
	if (!t->is_stuck)
		check_rw(t, mid, 4096, "middle", 0xa2);
	if (!t->is_stuck)
		check_rw(t, last, 4096, "last", 0xa3);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && !t->is_stuck; i++)
		checks[i](t);
	if (!t->is_stuck && t->o.is_remap)
		check_remap(t);
	if (!t->is_stuck)
		check_final_image(t);
	if (t->is_stuck)
		info("a request never came back or the ring broke: later checks were not run");
}
