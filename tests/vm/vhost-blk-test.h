/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VHOST_BLK_TEST_H
#define VHOST_BLK_TEST_H

/*
 * vhost-blk-test: shared state of the tool and the virtio-blk request
 * helpers its checks are written with (vhost-blk-req.c).  The transport and
 * the split ring are vdrv.h; the checks are vhost-blk-checks.c; options,
 * setup and the watchdog are vhost-blk-test.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdrv.h"

#define MIN_CAPACITY 16384ULL            /* sectors: the fixed test ranges fit below 8192 */
#define MAX_SEGS 16
#define MAX_EXPECT 128
#define FILL_READ 0xee                   /* read buffers start with this */
#define FILL_OLD 0x5a                    /* old memory after --remap */

/* Where each check writes (sectors); mid and last depend on the capacity. */
enum {
	SEC_IMAGE_DIRECT = 64,
	SEC_MULTI = 128,
	SEC_ODD = 160,
	SEC_INDIRECT = 192,
	SEC_BATCH = 256,
	SEC_LARGE = 1024,
	SEC_WZ = 3072,
	SEC_WRAP = 4096,
	SEC_REMAP = 6144,
	SEC_STORM = 8192,                /* --remap-storm: 128 slots of 4 KiB */
};

struct opts {
	const char *node;
	const char *image;
	const char *serial;
	bool is_remap;
	bool no_event_idx;
	bool no_indirect;
	bool is_always_kick;
	bool is_packed;                  /* --ring packed: negotiate VIRTIO_F_RING_PACKED */
	int timeout_ms;
	unsigned int queue_size;
	bool is_reset_stall;             /* --reset-stall SECTOR */
	uint64_t stall_sector;
	uint64_t fast_sector;            /* --fast-sector: outside the stalled range */
	int reset_budget_ms;
	const char *stall_end_cmd;       /* --stall-end CMD */
	bool is_direct_dma;              /* --direct-dma: the daemon's image is O_DIRECT */
	unsigned int remap_storm;        /* --remap-storm N */
};

/* A range of the image whose content we know. */
struct expect {
	uint64_t sector;
	uint32_t len;
	uint64_t seed;                   /* 0: zeroes */
};

struct vbt {
	struct vdrv d;
	struct opts o;
	uint64_t capacity;               /* sectors */
	uint32_t seg_max;
	uint32_t blk_size;
	uint16_t num_queues;
	bool is_ro, has_indirect, has_wz, has_flush;
	bool is_stuck;                   /* a request never came back: no more I/O */
	int img_fd;
	bool is_img_writable;
	struct expect expects[MAX_EXPECT];
	unsigned int nr_expects;
	unsigned int nr_ok, nr_fail, nr_skip;
	char why[512];
};

/* A virtio-blk request: header, data buffers, status byte, in the memory. */
struct breq {
	uint32_t type;
	uint64_t sector;
	uint64_t hdr_off, status_off;
	struct vdrv_buf data[MAX_SEGS];
	unsigned int nr_data;
	bool is_indirect;
	bool is_done;
	uint32_t used_len;
};

/* --- output (one line per check) and progress for the watchdog ----------- */

void ok(struct vbt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(struct vbt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skip(struct vbt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* why() - say why the current step failed (t->why); why_prefix() - add context in front. */
void why(struct vbt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void why_prefix(struct vbt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

long long now_ms(void);

/* progress() - a step began: the watchdog allows it a minute. */
void progress(const char *step);

/* --- data ------------------------------------------------------------------ */

void pattern_fill(void *buf, size_t len, uint64_t seed);

/* pattern_diff() - -1 if @got is the pattern of @seed (0: zeroes), else the first bad offset. */
long long pattern_diff(const void *got, size_t len, uint64_t seed);

/* expect_set() - the image now holds pattern @seed (0: zeroes) at @sector. */
void expect_set(struct vbt *t, uint64_t sector, uint32_t len, uint64_t seed);

/* image_matches() - every known range of the image file is as expected. */
bool image_matches(struct vbt *t, unsigned int *ret_nr);

/* --- requests -------------------------------------------------------------- */

/* breq_init() - header {type, sector} and a status byte preset to 0xff, in the arena. */
int breq_init(struct vbt *t, struct breq *r, uint32_t type, uint64_t sector);

/* breq_data() - add a data buffer (device-writable for READ and GET_ID); its host address. */
uint8_t *breq_data(struct vbt *t, struct breq *r, uint32_t len);

uint8_t breq_status(struct vbt *t, const struct breq *r);

/*
 * breq_run() - add @n requests (header, data, status), publish once and wait
 * for all of them; a batch that does not fit on the ring is not sent.
 * Returns 0, or -errno with t->why set (t->is_stuck when one never came back).
 */
int breq_run(struct vbt *t, struct breq **reqs, unsigned int n);

/* breq_submit() - add @n requests and publish them without waiting; breq_wait() - wait for them. */
int breq_submit(struct vbt *t, struct breq **reqs, unsigned int n);
int breq_wait(struct vbt *t, struct breq **reqs, unsigned int n);

/* breq_run_layout() - one request framed as @bufs instead. */
int breq_run_layout(struct vbt *t, struct breq *r, const struct vdrv_buf *bufs, unsigned int nr);

/* breq_done_as() - status and used length (unless UINT32_MAX) as expected? */
bool breq_done_as(struct vbt *t, const struct breq *r, uint8_t status, uint32_t used_len);

/* breq_do() - run one request and check it with breq_done_as(). */
bool breq_do(struct vbt *t, struct breq *r, uint8_t status, uint32_t used_len);

/* WRITE pattern @seed at @sector in buffers of @segs; READ and compare; FLUSH. */
bool write_pattern(struct vbt *t, uint64_t sector, const uint32_t *segs, unsigned int nr,
		   uint64_t seed, bool is_indirect);
bool read_compare(struct vbt *t, uint64_t sector, const uint32_t *segs, unsigned int nr,
		  uint64_t seed, bool is_indirect);
bool flush_dev(struct vbt *t);

/* run_checks() - every data check, in order, until one leaves the queue stuck. */
void run_checks(struct vbt *t);

/*
 * setup_start() - ACKNOWLEDGE|DRIVER, features, guest memory mapped in the
 * IOTLB, queue 0 and DRIVER_OK (vhost-blk-test.c); false after a FAIL line.
 */
bool setup_start(struct vbt *t);

/* Fault injection (vhost-blk-faults.c): --reset-stall and --remap-storm. */
void run_reset_stall(struct vbt *t);
void run_remap_storm(struct vbt *t);

#endif
