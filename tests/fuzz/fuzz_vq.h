/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FUZZ_VQ_H
#define FUZZ_VQ_H

/*
 * The input of fuzz_vq, shared with its seed generator (gen_seeds.c).
 *
 * FZ_F_PACKED in fz_hdr.flags picks the packed layout (virtio 1.2, 2.8);
 * what the header fields then mean is said at FZ_F_PACKED below.
 *
 * The bytes describe a driver's world rather than raw memory, so that most
 * mutations still produce rings the code walks deeply: a queue size, where
 * the device resumes, the avail entries, a descriptor table whose addresses
 * are "region + offset" (or deliberately wild), up to four indirect tables,
 * four data regions with permissions (or holes), and what the regions hold.
 * A short input is padded with zeroes.
 *
 *   struct fz_hdr
 *   u16 avail[nr_avail]                   (split only)
 *   struct fz_desc desc[queue size]       (packed: the descriptor ring)
 *   FZ_NR_TABLES x { u8 nr; struct fz_desc[nr] }
 *   region contents: region 0, 1, 2, 3 in turn, each up to its length
 */

#include <stdint.h>

#define FZ_NR_REGIONS 4
#define FZ_NR_TABLES 4
#define FZ_MAX_TABLE 40          /* entries in one indirect table */
#define FZ_MAX_REGION 8192       /* bytes in one data region */

#define FZ_RING_IOVA 0x1000ULL   /* desc + avail read-only, then used write-only */
#define FZ_TABLE_IOVA 0x8000ULL  /* the indirect tables: one read-only region */
#define FZ_REGION_IOVA 0x10000ULL /* region i at (i + 1) * this, or right after i - 1 */

/* fz_hdr.flags */
#define FZ_F_EVENT_IDX  0x01
#define FZ_F_READONLY   0x02     /* the device is read-only */
#define FZ_F_DISCARD    0x04
#define FZ_F_WZEROES    0x08
#define FZ_F_NO_INTR    0x10     /* avail->flags = VRING_AVAIL_F_NO_INTERRUPT */
/*
 * Region 3 is FZ_HUGE_BYTES long (virtual memory, never all touched) and the
 * device 2^40 sectors: chains and requests over 4 GiB.  Its contents from the
 * input fill its first FZ_MAX_REGION bytes.
 */
#define FZ_F_HUGE       0x20
#define FZ_HUGE_BYTES   (5ULL << 30)
/*
 * A packed ring at FZ_RING_IOVA: the descriptor ring (read-write), then the
 * driver event structure (read-only), then the device's (write-only).
 *  - queue size: 1 << queue_log2 for queue_log2 < 9, else queue_log2 (9 .. 255)
 *  - last_avail_idx: where the device starts, ring index (mod size) | wrap << 15
 *  - nr_avail: the driver made nr_avail % (size + 2) slots available from
 *    there on, each for the lap the device reads it in (all if >= size); the
 *    others hold the previous lap's available descriptors
 *  - idx_skew: bit 7: used starts (idx_skew & 0x3f) % (size + 1) slots behind
 *    avail (in flight before the start, never returned); bit 6: the device
 *    accepts 1 + (idx_skew & 0x3f) % size buffers per list (vq_accept_chains)
 *  - fz_desc.next is the buffer ID; fz_desc.flags FZ_D_PK_* below
 *  - FZ_F_NO_INTR: driver event flags DISABLE; else FZ_F_EVENT_IDX: DESC with
 *    offset (start + used_event % (size + 2)) (beyond the ring from size on)
 *    and the start's wrap flipped by used_event bit 7; else ENABLE
 *  - regions[0].is_adjacent (region 0 has no predecessor) orders completions:
 *    0 each right after its pop; else up to 4 wait and go out of order, in
 *    an order drawn from this byte
 */
#define FZ_F_PACKED     0x40

/* fz_region.perm: 0 is a hole (nothing mapped), else MEM_READ | MEM_WRITE bits */
struct fz_region {
	uint8_t perm;
	uint8_t is_adjacent;     /* starts where region i - 1 ends */
	uint16_t len;            /* 1 + len % FZ_MAX_REGION bytes */
} __attribute__((packed));

struct fz_hdr {
	uint8_t queue_log2;      /* queue size 1 << (queue_log2 % 9): 1 .. 256 */
	uint8_t flags;
	uint16_t last_avail_idx; /* where the device resumes */
	uint8_t nr_avail;        /* avail entries published: nr_avail % (2 * size + 2) */
	uint8_t idx_skew;        /* avail->idx = last_avail_idx + nr_avail + (idx_skew & 0x80 ? idx_skew : 0) */
	uint8_t results;         /* per completion: bits pick 0, -EIO, -EOPNOTSUPP */
	uint8_t used_event;      /* with EVENT_IDX */
	struct fz_region regions[FZ_NR_REGIONS];
} __attribute__((packed));

/* fz_desc.kind % 8: what addr is */
enum fz_kind {
	FZ_K_REGION0, FZ_K_REGION1, FZ_K_REGION2, FZ_K_REGION3, /* region base + off */
	FZ_K_HOLE,               /* past the end of region (off & 3) + (off >> 2) */
	FZ_K_TOP,                /* UINT64_MAX - off: overflows with most lengths */
	FZ_K_TABLE,              /* indirect table (off & 3), + (off >> 2) bytes */
	FZ_K_RING,               /* FZ_RING_IOVA + off: into the rings */
};

/* fz_desc.flags */
#define FZ_D_NEXT       0x01
#define FZ_D_WRITE      0x02
#define FZ_D_INDIRECT   0x04
#define FZ_D_ODD_FLAG   0x08     /* also set an undefined descriptor flag bit */
#define FZ_D_PK_FLIP    0x10     /* packed: written for the other lap */
#define FZ_D_PK_USED    0x20     /* packed: AVAIL = USED = its lap (marked used) */
#define FZ_D_TABLE_LEN  0x40     /* len = the table's size in bytes (FZ_K_TABLE) */
#define FZ_D_HUGE_LEN   0x80     /* len = len << 16 | 0xffff */

struct fz_desc {
	uint8_t kind;
	uint8_t flags;
	uint16_t off;
	uint16_t len;
	uint16_t next;
} __attribute__((packed));

#endif
