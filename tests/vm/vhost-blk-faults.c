// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-blk-test: fault injection a VMM can cause (tests/vm/guest/faults.sh).
 *
 * --reset-stall: a VM that reboots while its storage hangs.  READs go to
 * sectors the image stalls (a dm-delay target), then the driver resets the
 * device without waiting for them, as QEMU does on a reboot.  The kernel
 * waits at most its message timeout (30 s) for the daemon to answer the
 * reset and marks the device broken for good when it does not.  The reset
 * must come back within a budget; then the device is set up again in fresh
 * memory at the same IOVA and must serve I/O; and once the stall ends, none
 * of the abandoned READs may land in either memory or on the new ring.
 *
 * --remap-storm: many IOTLB remaps while the device works.  Each round puts
 * WRITEs in flight, maps and unmaps a second memory region meanwhile (two
 * IOTLB updates the daemon must follow under load), waits, reads back and
 * compares, and then moves all guest memory to a fresh memfd at the same
 * IOVA.  The caller counts the daemon's fds, mappings and RSS around it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>

#include "vhost-blk-test.h"

#define NR_STALLED 4
#define SEED_STALL 0xd1a1
#define SEED_FAST 0xfa57
#define STORM_BATCH 8
#define STORM_SLOTS 128                  /* 4 KiB slots at SEC_STORM */
#define SCRATCH_BYTES (1u << 20)

static const uint32_t len4k = 4096;

/* The used index a memory's ring holds. */
static uint16_t used_idx_of(const struct vdrv_mem *m)
{
	const struct vring_used *u = (const void *)(m->host + VDRV_USED_OFF);

	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

/* First byte in [from, to) of @m that is not FILL_OLD, or -1. */
static long long first_touched(const struct vdrv_mem *m, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		if (m->host[i] != FILL_OLD)
			return (long long)i;
	return -1;
}

/* Submit @n READs of 4 KiB at @sector..., return how many completed within @ms. */
static int stalled_reads(struct vbt *t, struct breq *rd, unsigned int n, int ms)
{
	struct breq *rp[NR_STALLED];
	struct vdrv_used u;
	long long end;
	unsigned int nr_done = 0;

	for (unsigned int i = 0; i < n; i++) {
		rp[i] = &rd[i];
		if (breq_init(t, &rd[i], VIRTIO_BLK_T_IN, t->o.stall_sector + 8 * i) < 0 ||
		    !breq_data(t, &rd[i], len4k))
			return -ENOSPC;
	}
	if (breq_submit(t, rp, n) < 0)
		return -ENOSPC;
	end = now_ms() + ms;
	while (now_ms() < end) {
		usleep(20000);
		while (vdrv_get_used(&t->d, &u) > 0)
			nr_done++;
	}
	return (int)nr_done;
}

static int drop_page_cache(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	sync();
	r = write(fd, "3", 1) == 1 ? 0 : -1;
	close(fd);
	return r;
}

void run_reset_stall(struct vbt *t)
{
	struct vdrv *d = &t->d;
	struct breq rd[NR_STALLED];
	struct vdrv_mem old;
	uint64_t stray_end;
	uint16_t old_used;
	uint8_t status = 0xff;
	long long t0, dt, at;
	int r, nr_done;

	progress("reset-stall: data");
	vdrv_arena_reset(d);
	if (!write_pattern(t, t->o.stall_sector, &len4k, 1, SEED_STALL, false) ||
	    !write_pattern(t, t->o.fast_sector, &len4k, 1, SEED_FAST, false) || !flush_dev(t)) {
		fail(t, "reset-stall: writing the patterns first (writes must not stall): %s", t->why);
		t->is_stuck = true;
		return;
	}
	/*
	 * An image served through the page cache would answer the READs from
	 * the pages the WRITEs left there: drop them (the FLUSH made them clean).
	 */
	if (!t->o.is_direct_dma && drop_page_cache() < 0) {
		fail(t, "reset-stall: dropping the page cache: %s", strerror(errno));
		return;
	}
	ok(t, "patterns written at sectors %llu (stalled for reads) and %llu",
	   (unsigned long long)t->o.stall_sector, (unsigned long long)t->o.fast_sector);

	progress("reset-stall: READs");
	vdrv_arena_reset(d);
	nr_done = stalled_reads(t, rd, NR_STALLED, 1000);
	if (nr_done != 0) {
		fail(t, "reset-stall: %d of %u READs at sector %llu came back within 1 s: the image does not stall",
		     nr_done, NR_STALLED, (unsigned long long)t->o.stall_sector);
		t->is_stuck = true;
		return;
	}
	ok(t, "%u READs at sector %llu in flight, none back after 1 s: the backend stalls",
	   NR_STALLED, (unsigned long long)t->o.stall_sector);
	stray_end = d->arena_next;

	/* What QEMU does when the VM reboots: reset, without waiting for I/O. */
	progress("reset-stall: reset");
	t0 = now_ms();
	r = vdrv_set_status(d, 0);
	dt = now_ms() - t0;
	if (vdrv_get_status(d, &status) < 0)
		status = 0xff;
	info("reset with %u READs stalled: ioctl returned %d after %lld ms, status now 0x%02x",
	     NR_STALLED, r, dt, status);
	if (r == 0 && status == 0 && dt <= t->o.reset_budget_ms)
		ok(t, "reset answered in %lld ms (budget %d ms) while %u READs waited on the backend",
		   dt, t->o.reset_budget_ms, NR_STALLED);
	else
		fail(t, "reset with %u READs waiting on a stalled backend: %lld ms (budget %d ms), %s, status 0x%02x%s",
		     NR_STALLED, dt, t->o.reset_budget_ms, r < 0 ? vdrv_err(d) : "ioctl ok", status,
		     dt >= 29000 ? ": the kernel's 30 s message timeout ran out, the device is broken" : "");

	/* Set up again like a rebooted VM: fresh memory at the same IOVA. */
	progress("reset-stall: set up again");
	old = d->mem;
	d->mem = (struct vdrv_mem){ .fd = -1 };
	old_used = used_idx_of(&old);
	memset(old.host + VDRV_ARENA_OFF, FILL_OLD, old.bytes - VDRV_ARENA_OFF);
	vdrv_vq_forget(d);
	if (vdrv_iotlb_invalidate(d, old.iova, old.bytes) < 0) {
		fail(t, "after the reset: unmapping the old memory: %s", vdrv_err(d));
		t->is_stuck = true;
		goto out;
	}
	if (!setup_start(t)) {
		fail(t, "after the reset the device cannot be set up again (broken?)");
		t->is_stuck = true;
		goto out;
	}
	/* Where the stalled READs' buffers were, the new memory holds FILL_OLD. */
	memset(d->mem.host + VDRV_ARENA_OFF, FILL_OLD, stray_end - VDRV_ARENA_OFF);
	d->arena_next = stray_end;

	progress("reset-stall: fresh I/O");
	if (!read_compare(t, t->o.fast_sector, &len4k, 1, SEED_FAST, false) ||
	    !write_pattern(t, t->o.fast_sector + 8, &len4k, 1, SEED_FAST + 1, false) ||
	    !read_compare(t, t->o.fast_sector + 8, &len4k, 1, SEED_FAST + 1, false)) {
		fail(t, "after the reset, I/O outside the stall: %s", t->why);
		goto out;
	}
	ok(t, "after the reset and a new setup: READ outside the stall returns the old data, WRITE+READ work");

	if (!t->o.stall_end_cmd) {
		skip(t, "no --stall-end: the abandoned READs were not watched");
		goto out;
	}
	progress("reset-stall: end the stall");
	r = system(t->o.stall_end_cmd);
	if (r != 0) {
		fail(t, "--stall-end '%s' exited %d", t->o.stall_end_cmd, r);
		goto out;
	}
	sleep(2);
	if (vdrv_used_idx(d) != d->vq.last_used)
		fail(t, "once the stall ended, %u used entries appeared on the new ring that nobody asked for",
		     (uint16_t)(vdrv_used_idx(d) - d->vq.last_used));
	else if ((at = first_touched(&d->mem, VDRV_ARENA_OFF, stray_end)) >= 0)
		fail(t, "once the stall ended, the device wrote into the NEW memory at offset 0x%llx, where an abandoned READ's buffer had been",
		     at);
	else if (used_idx_of(&old) != old_used)
		fail(t, "once the stall ended, the device advanced the used ring in the OLD memory (%u -> %u)",
		     old_used, used_idx_of(&old));
	else if ((at = first_touched(&old, VDRV_ARENA_OFF, old.bytes)) >= 0 && !t->o.is_direct_dma)
		fail(t, "once the stall ended, the device wrote into the OLD memory at offset 0x%llx", at);
	else if (at >= 0)
		/*
		 * O_DIRECT pinned the READ buffers' pages when it was submitted:
		 * the late data goes to them, wherever the daemon maps them now.
		 */
		ok(t, "O_DIRECT image: the abandoned READs' late data reached the pages they pinned "
		   "(OLD memory, first at offset 0x%llx), as documented", at);
	else
		ok(t, "the stall ended: none of the %u abandoned READs landed on the new ring or in either memory",
		   NR_STALLED);

	progress("reset-stall: read the stalled sector");
	if (read_compare(t, t->o.stall_sector, &len4k, 1, SEED_STALL, false))
		ok(t, "the once stalled sector %llu holds its data", (unsigned long long)t->o.stall_sector);
	else
		fail(t, "reading the once stalled sector: %s", t->why);
out:
	munmap(old.host, old.bytes);
	close(old.fd);
}

/* Move all guest memory to a fresh memfd at the same IOVA (nothing in flight). */
static int remap_all(struct vbt *t)
{
	struct vdrv *d = &t->d;
	struct vdrv_mem neu = { .fd = -1 };
	int r = vdrv_mem_create(&neu, d->mem.iova, d->mem.bytes);

	if (r < 0) {
		why(t, "memfd: %s", strerror(-r));
		return r;
	}
	/* The arena starts over each round: only the rings need copying. */
	memcpy(neu.host, d->mem.host, VDRV_ARENA_OFF);
	if (vdrv_iotlb_invalidate(d, d->mem.iova, d->mem.bytes) < 0 ||
	    vdrv_iotlb_update(d, neu.iova, neu.bytes, neu.host, VHOST_ACCESS_RW) < 0) {
		why(t, "%s", vdrv_err(d));
		vdrv_mem_destroy(&neu);
		return -EIO;
	}
	vdrv_mem_destroy(&d->mem);
	d->mem = neu;
	vdrv_vq_rebind(d);
	return 0;
}

/* One round: WRITEs in flight while @scratch is mapped and unmapped, then READ back. */
static bool storm_round(struct vbt *t, unsigned int round, struct vdrv_mem *scratch,
			uint64_t scratch_iova)
{
	struct breq r[STORM_BATCH], *rp[STORM_BATCH];
	struct vdrv *d = &t->d;

	for (int pass = 0; pass < 2; pass++) {
		vdrv_arena_reset(d);
		for (unsigned int i = 0; i < STORM_BATCH; i++) {
			unsigned int n = round * STORM_BATCH + i;
			uint8_t *p;

			rp[i] = &r[i];
			if (breq_init(t, &r[i], pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
				      SEC_STORM + (uint64_t)(n % STORM_SLOTS) * 8) < 0 ||
			    !(p = breq_data(t, &r[i], len4k)))
				return false;
			if (!pass)
				pattern_fill(p, len4k, 0x900000 + n);
		}
		if (breq_submit(t, rp, STORM_BATCH) < 0)
			return false;
		if (!pass && scratch_iova &&
		    (vdrv_iotlb_update(d, scratch_iova, scratch->bytes, scratch->host, VHOST_ACCESS_RW) < 0 ||
		     vdrv_iotlb_invalidate(d, scratch_iova, scratch->bytes) < 0)) {
			why(t, "mapping a second region while WRITEs are in flight: %s", vdrv_err(d));
			return false;
		}
		if (breq_wait(t, rp, STORM_BATCH) < 0)
			return false;
		for (unsigned int i = 0; i < STORM_BATCH; i++) {
			unsigned int n = round * STORM_BATCH + i;
			long long at;

			if (!breq_done_as(t, &r[i], VIRTIO_BLK_S_OK, pass ? len4k + 1 : 1)) {
				why_prefix(t, "%s %u of round %u", pass ? "READ" : "WRITE", i, round);
				return false;
			}
			if (!pass) {
				expect_set(t, r[i].sector, len4k, 0x900000 + n);
				continue;
			}
			at = pattern_diff(vdrv_ptr(d, r[i].data[0].off), len4k, 0x900000 + n);
			if (at >= 0) {
				why(t, "round %u: READ at sector %llu differs at byte %lld", round,
				    (unsigned long long)r[i].sector, at);
				return false;
			}
		}
	}
	return true;
}

void run_remap_storm(struct vbt *t)
{
	struct vdrv *d = &t->d;
	struct vdrv_mem scratch = { .fd = -1 };
	uint64_t scratch_iova = d->mem.iova + d->mem.bytes + (1u << 20);
	unsigned int nr = t->o.remap_storm, done = 0, nr_images;
	long long t0 = now_ms();

	if (t->capacity < SEC_STORM + STORM_SLOTS * 8) {
		fail(t, "remap storm: capacity %llu sectors is too small",
		     (unsigned long long)t->capacity);
		return;
	}
	if (scratch_iova + SCRATCH_BYTES - 1 > d->iova_range.last ||
	    vdrv_mem_create(&scratch, scratch_iova, SCRATCH_BYTES) < 0) {
		info("remap storm: no second region (outside the IOVA range or no memory)");
		scratch_iova = 0;
	}
	for (; done < nr; done++) {
		progress("remap storm");
		if (!storm_round(t, done, &scratch, scratch_iova)) {
			fail(t, "remap storm, round %u of %u: %s", done, nr, t->why);
			goto out;
		}
		if (remap_all(t) < 0) {
			fail(t, "remap storm, remap %u of %u: %s", done, nr, t->why);
			t->is_stuck = true;
			goto out;
		}
	}
	/* The last remap is followed by I/O too. */
	if (!storm_round(t, done, &scratch, 0) || !flush_dev(t)) {
		fail(t, "remap storm: I/O after the last remap: %s", t->why);
		goto out;
	}
	ok(t, "remap storm: %u remaps of all memory%s, %u WRITE+READ rounds of %u verified, in %lld ms",
	   nr, scratch_iova ? ", each with a second region mapped and unmapped under WRITEs" : "",
	   nr + 1, STORM_BATCH, now_ms() - t0);
	if (t->img_fd >= 0) {
		if (image_matches(t, &nr_images))
			ok(t, "image file holds the last pattern of each of the %u slots", nr_images);
		else
			fail(t, "image file after the storm: %s", t->why);
	}
out:
	vdrv_mem_destroy(&scratch);
}
