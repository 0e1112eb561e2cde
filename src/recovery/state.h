/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_STATE_H
#define VDB_STATE_H

/*
 * The state file of a device, DIR/NAME.state: what a daemon started for a
 * device that already exists needs to take it over.  It is mapped shared and
 * outlives the daemon (not a reboot: it lives under /run):
 *
 *   header   identity (checked once, with a checksum), the device status the
 *            daemon acknowledged, its pid and a heartbeat
 *   queues   one struct journal per queue, its in-flight log (virtio/journal.h)
 *
 * The serving daemon holds an flock on it; a second one is refused.
 */

#include <stdbool.h>
#include <stdint.h>

#include "virtio/journal.h"

#define VDB_STATE_DIR "/run/vduse-blkd"
/* The most queues a device has (--queues). */
#define VDB_STATE_MAX_QUEUES 64

/* What a device is: a daemon takes over only a device its options describe. */
struct vdb_identity {
	uint64_t capacity_sectors;
	uint64_t features;            /* offered to the driver */
	uint32_t block_size;
	uint16_t nr_queues;
	uint16_t queue_size;
	uint8_t is_readonly;
	uint8_t reserved[7];
};

/*
 * The file's header (header_bytes long); its queues' sections follow.
 * The file may come from another version of the daemon, or from anyone who
 * could write it: vdb_state_check() validates all of it before use.
 */
#define VDB_STATE_MAGIC "VDBSTATE"
/* Version 2 added the packed ring's chain copies to each queue's section. */
#define VDB_STATE_VERSION 2

struct vdb_state_header {
	/* Written once; covered by checksum. */
	char magic[8];
	uint32_t version;
	uint32_t header_bytes;
	uint64_t file_bytes;
	uint64_t queue_bytes;         /* one queue's section (struct journal) */
	char name[256];
	char boot_id[40];
	struct vdb_identity id;
	uint64_t checksum;
	/* Changed while serving. */
	int32_t pid;                  /* the daemon serving it */
	int32_t last_pid;             /* the one before */
	uint64_t beat_ms;             /* CLOCK_BOOTTIME of the last heartbeat */
	uint8_t status;               /* acknowledged to the driver */
	uint8_t reserved[63];
} __attribute__((aligned(64)));

/* vdb_state_header_checksum() - what @h->checksum must hold. */
uint64_t vdb_state_header_checksum(const struct vdb_state_header *h);

struct vdb_state {
	int fd;
	char path[4096];
	void *map;
	uint64_t map_bytes;
	struct vdb_state_header *hdr;
	uint16_t nr_queues;
	uint16_t queue_size;
	uint64_t queue_bytes;         /* one queue's section (by the file's version) */
	uint32_t version;             /* of the file's format */
	uint64_t features_either;     /* vdb_state_check(): may differ from the options */
	char why[512];                /* why vdb_state_check() refused */
	const char *boot_id_path;     /* the kernel's boot id (tests point it elsewhere) */
};

/**
 * vdb_state_open() - open (creating if needed) and lock DIR/NAME.state
 * @dir: directory, created 0700 when missing
 * @fd: an open state file handed over by a re-exec, or -1; locked again
 * @own_gid: the group the daemon runs as (after --user)
 *
 * The directory and the file must be owned by this user or root and
 * writable by nobody else, the file a regular one; the directory may be
 * writable by @own_gid (it is the daemon's own group: the daemon, once it
 * is the user, removes its files from there).
 * Returns 0; -EBADMSG when they are not (why in st->why); -EBUSY when
 * another process holds the lock (its pid, if the file says, in *ret_pid);
 * -errno of mkdir/open.  The file may be empty: see vdb_state_is_empty().
 */
int vdb_state_open(struct vdb_state *st, const char *dir, const char *name, int fd,
		   gid_t own_gid, int *ret_pid);

/*
 * vdb_state_exists() - does DIR/NAME.state hold a device's state (a device
 * that exists, served or waiting for a daemon)?  For vduse-blkctl.
 */
bool vdb_state_exists(const char *dir, const char *name);

/* vdb_state_is_empty() - true when the file holds no state (it was just created). */
bool vdb_state_is_empty(const struct vdb_state *st);

/**
 * vdb_state_init() - write a fresh state for a device about to be created
 * Returns 0 or -errno.
 */
int vdb_state_init(struct vdb_state *st, const char *name, const struct vdb_identity *id);

/**
 * vdb_state_check() - map the state of an existing device, if it is ours
 * Checks the format, checksum, name, boot and identity against @id: all
 * equal, but the device's capacity may be smaller than @id's (the image's)
 * after a shrink; see vdb_state_capacity().
 * Returns 0, or -EBADMSG with the reason in st->why.
 */
int vdb_state_check(struct vdb_state *st, const char *name, const struct vdb_identity *id);

/*
 * vdb_state_keeps_chains() - do the queues' sections have room for packed
 * chain copies (journal_chains(), journal_pool())?  Version 1 files have
 * none: their queues must be split.  True without a state file.
 */
bool vdb_state_keeps_chains(const struct vdb_state *st);

/* vdb_state_capacity() - the device's capacity in sectors (after a check). */
uint64_t vdb_state_capacity(const struct vdb_state *st);

/* vdb_state_features() - the features the device was created with (after a check). */
uint64_t vdb_state_features(const struct vdb_state *st);

/*
 * vdb_state_set_capacity() - the device was resized: a daemon that takes it
 * over must describe the new capacity.  NULL-safe.
 */
void vdb_state_set_capacity(struct vdb_state *st, uint64_t capacity_sectors);

/* vdb_state_queue() - the in-flight log of queue @index. */
struct journal *vdb_state_queue(struct vdb_state *st, uint16_t index);

/* The status acknowledged to the driver: set before the answer is written. */
uint8_t vdb_state_status(const struct vdb_state *st);
void vdb_state_set_status(struct vdb_state *st, uint8_t status);

/* vdb_state_claim() - record this process as the one serving the device. */
void vdb_state_claim(struct vdb_state *st);

/* vdb_state_last_pid() - the pid that served the device before this one claimed it. */
int vdb_state_last_pid(const struct vdb_state *st);

/* vdb_state_beat() - the serving daemon is alive now. */
void vdb_state_beat(struct vdb_state *st);

/* vdb_state_silence_ms() - milliseconds since the last beat (claim() keeps the old one). */
uint64_t vdb_state_silence_ms(const struct vdb_state *st);

/*
 * vdb_state_remove() - the device is gone: delete the file (or, without the
 * right to, empty it: an empty file is no state) and close.
 */
void vdb_state_remove(struct vdb_state *st);

/* vdb_state_close() - unmap and close, keeping the file. NULL-safe, idempotent. */
void vdb_state_close(struct vdb_state *st);

#endif
