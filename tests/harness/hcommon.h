/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HCOMMON_H
#define HCOMMON_H

/*
 * The fixture the harness test programs share: a 1 MiB image filled with
 * IMAGE_FILL, the real queue (hdrv) serving it, and a model of what the image
 * file must hold.  Every test compares the whole file with the model (pread)
 * at the end; with the null backend the model never changes and reads must
 * return zeroes.
 *
 * A test case's initial state is a struct hdrv_opts (the backend, queue size,
 * event-idx, read-only, O_DIRECT); setup() starts the queue with it.  When the
 * case cannot run here (a backend not built in, no O_DIRECT on the image's
 * filesystem, not root), setup() records why and the test skips with that
 * reason (fixture_require()).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hdrv.h"

#define IMAGE_BYTES (1u << 20)
#define IMAGE_SECTORS (IMAGE_BYTES / 512u)
#define IMAGE_FILL 0x5a
#define WAIT_MS 5000
#define QUIET_MS 200             /* how long "nothing happens" is watched */
#define BAD_SECTOR 8             /* where malformed chains try to write */
#define CHECK_SECTOR 200         /* where the valid request after them goes */
#define REGION_IOVA 0x40000000ULL  /* extra regions, far from the arena */
#define RW (MEM_READ | MEM_WRITE)

typedef struct virtio_blk_discard_write_zeroes dwz_seg;

/* QSTAT() - a counter of the running queue, read the way other threads must read them. */
#define QSTAT(f, field) (qstats(f).field)

struct fixture {
	char path[256];               /* the image the queue serves */
	bool is_null;                 /* null backend: writes go nowhere, reads are zeroes */
	const char *skip_reason;      /* set by setup(): the case cannot run here */
	char skip_buf[256];
	struct hdrv h;
	uint8_t model[IMAGE_BYTES];   /* what the image file must hold */
};

/* hvq() - the running queue's virtqueue, for vq.h's accessors. */
static inline const struct vq *hvq(const struct fixture *f)
{
	return blk_queue_vq(f->h.q);
}

static inline struct blk_queue_stats qstats(struct fixture *f)
{
	struct blk_queue_stats st;

	blk_queue_get_stats(f->h.q, &st);
	return st;
}

/*
 * A test case: @fn run with setup()/teardown() on the options @o, named
 * "fn@o" (the options' variable name) so the backends tell apart in the log.
 */
#define T(fn, o) { #fn "@" #o, fn, setup, teardown, &(o) }
/* The same with another setup (e.g. an image in a different directory). */
#define TS(fn, o, su, td) { #fn "@" #o "+" #su, fn, su, td, &(o) }

/*
 * hc_is_packed() - run the suite on packed rings: HDRV_LAYOUT=packed in the
 * environment (split, the default, when unset or "split").  setup() then
 * starts every queue with is_packed.
 */
bool hc_is_packed(void);

/* hc_require_split() - skip the running test on packed rings, saying @why. */
#define hc_require_split(f, why) do { \
		if ((f)->h.is_packed) \
			hc_skip("split rings only: %s", why); \
	} while (0)

/* hc_require_packed() - skip the running test on split rings. */
#define hc_require_packed(f) do { \
		if (!(f)->h.is_packed) \
			hc_skip("packed rings only (HDRV_LAYOUT=packed)"); \
	} while (0)

/* setup() - create the image in $TMPDIR, start the queue with the hdrv_opts in *state. */
int setup(void **state);

/* fixture_setup_in() - setup() with the image in @dir (NULL: $TMPDIR). */
int fixture_setup_in(void **state, const char *dir);

/*
 * fixture_setup_image() - setup() on the image @path the caller made (any
 * size; the model then covers its first IMAGE_BYTES only).  teardown()
 * removes it.
 */
int fixture_setup_image(void **state, const char *path);

/* fixture_setup_skipped() - a fixture that only carries @why: its tests skip. */
int fixture_setup_skipped(void **state, const char *why);

/* teardown() - stop the queue (opening the gate first), remove the image. */
int teardown(void **state);

/* fixture_skip() - record why the case cannot run here (printf format). */
void fixture_skip(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fixture_require() - skip the test, with the reason, when setup() recorded one. */
void fixture_require(struct fixture *f);

/* fixture_get() - a test's fixture: *state, after fixture_require(). */
struct fixture *fixture_get(void **state);

/* hc_skip() - print why and skip the running test (counted for hc_run()). */
#define hc_skip(...) do { hc_note_skip(__VA_ARGS__); skip(); } while (0)
void hc_note_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * hc_private_mounts() - give this process its own mount namespace (root
 * only; before any thread starts), so that whatever a test mounts goes away
 * with the process.  Returns 0 or -errno.
 */
int hc_private_mounts(void);

/*
 * hc_run() - run the group; returns the number of failures, or 77 (meson's
 * skip) when every test skipped.
 */
int hc_run(const char *name, const struct CMUnitTest *tests, size_t nr);

/*
 * The gate backend (hgate.c): like null (reads return zeroes, writes go nowhere), but
 * requests stay in flight until the test opens the gate.  Makes "a head
 * still in flight" deterministic.
 */
extern const struct backend_ops gate_ops;
/* gate_reset() - a closed gate, nothing held (setup() calls it); returns 0 or -errno. */
int gate_reset(void);
/* gate_close() - release the gate's eventfd (teardown() calls it). */
void gate_close(void);
void gate_open(void);
/* gate_late_fill - when >= 0, READs get their data (this byte) as they complete, not before. */
extern int gate_late_fill;
/* gate_wait_held() - wait until the backend holds @n requests: they were popped and started. */
void gate_wait_held(unsigned int n);
unsigned int gate_held(void);

/* ---- data and the model ------------------------------------------------- */

void fill_pattern(void *buf, size_t len, uint32_t seed);
void read_image(struct fixture *f, uint64_t off, void *buf, size_t len);
/* check_image() - the whole image file must be what the model says. */
void check_image(struct fixture *f);
/* can_punch_holes() - can the image's filesystem punch holes?  Probed beside it. */
bool can_punch_holes(struct fixture *f);
void model_write(struct fixture *f, uint64_t sector, const void *data, size_t len);
void model_zero(struct fixture *f, uint64_t sector, size_t len);
/* expected() - what a READ of [sector, sector + len) must return. */
const uint8_t *expected(struct fixture *f, uint64_t sector, size_t len);

/* ---- building chains (hreq.c) -------------------------------------------- */

uint8_t *hptr(struct fixture *f, uint64_t iova);
uint64_t put_hdr(struct fixture *f, uint32_t type, uint64_t sector);
/* put_buf() - a buffer holding @data, or 0xee bytes when @data is NULL. */
uint64_t put_buf(struct fixture *f, const void *data, uint32_t len);
/* put_buf_at() - the same @skew bytes past a multiple of @align (host and IOVA). */
uint64_t put_buf_at(struct fixture *f, const void *data, uint32_t len, uint64_t align,
		    uint64_t skew);
uint64_t put_status(struct fixture *f);
uint64_t put_segs(struct fixture *f, const dwz_seg *segs, unsigned int nr);
dwz_seg seg(uint64_t sector, uint32_t nr_sectors, uint32_t flags);

/* ---- running them (hreq.c) ----------------------------------------------- */

void wait_used(struct fixture *f, uint16_t head, uint32_t *ret_len);
/* run_chain() - publish @bufs as one direct chain and wait for it; returns used.len. */
uint32_t run_chain(struct fixture *f, const struct hbuf *bufs, unsigned int nr);
uint32_t run_indirect(struct fixture *f, const struct hbuf *bufs, unsigned int nr);
void wait_broken(struct fixture *f);
/* assert_no_used() - nothing more may show up on the used ring for @ms. */
void assert_no_used(struct fixture *f, int ms);
/*
 * wait_one_of() - wait for the next used entry; it must be one of the @n
 * @heads not @seen yet.  Marks it seen, stores used.len, returns its index.
 */
unsigned int wait_one_of(struct fixture *f, const uint16_t *heads, bool *seen, unsigned int n,
			 uint32_t *ret_len);

/*
 * collect() - wait for the @n requests @heads (any order, each once): used.len
 * @want_len and status OK.
 */
void collect(struct fixture *f, const uint16_t *heads, const uint64_t *st, unsigned int n,
	     uint32_t want_len);

void do_write(struct fixture *f, uint64_t sector, const void *data, uint32_t len);
void do_read_check(struct fixture *f, uint64_t sector, uint32_t len);
int do_dwz(struct fixture *f, uint32_t type, const dwz_seg *segs, unsigned int nr,
	   uint32_t *ret_len);
/* expect_rw_status() - a one-buffer READ/WRITE (or other type) gets @status. */
void expect_rw_status(struct fixture *f, uint32_t type, uint64_t sector, uint32_t len,
		      uint8_t status);
/* assert_valid_served() - a valid WRITE + READ at CHECK_SECTOR is served; the image is the model. */
void assert_valid_served(struct fixture *f);
/* round_trip() - write 4 KiB at @sector, check the image, read it back. */
void round_trip(struct fixture *f, uint64_t sector);
/* many_in_flight() - 32 WRITEs published one by one, then 32 READs in one avail->idx store. */
void many_in_flight(struct fixture *f);

/* ---- a filesystem with 4096-byte sectors (hfs4k.c) ---------------------- */

/*
 * fs4k_create() - an ext4 made on a loop device with 4096-byte logical
 * sectors over a file in $TMPDIR, mounted in this process's own mount
 * namespace (hc_private_mounts(), so call it before any thread starts).
 * Its dio_offset_align is 4096.  Needs root, loop devices and mkfs.ext4.
 * Returns the mount point, or NULL with the reason in @why.
 */
const char *fs4k_create(char *why, size_t why_len);

/* fs4k_destroy() - unmount it (the loop device goes with the mount); NULL-safe. */
void fs4k_destroy(void);

#endif
