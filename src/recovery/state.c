// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state file of a device (see state.h): created before the device, read
 * by a daemon that takes an existing device over, removed with the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "recovery/state.h"
#include "virtio/vq.h"
#include "util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t vdb_state_header_checksum(const struct vdb_state_header *h)
{
	return fnv1a(h, offsetof(struct vdb_state_header, checksum));
}

static void read_boot_id(const struct vdb_state *st, char buf[40])
{
	_cleanup_close_ int fd = open(st->boot_id_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, 39);

	memset(buf + (n > 0 ? n : 0), 0, 40 - (size_t)(n > 0 ? n : 0));
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t queues_offset(void)
{
	return sizeof(struct vdb_state_header);
}

/* Set st->why and return -EBADMSG. */
__attribute__((format(printf, 2, 3)))
static int refuse(struct vdb_state *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/*
 * What the daemon trusts must be its own: owned by this user or root, and
 * writable by nobody else.  Anyone else who can write the state file or
 * its directory chooses what a takeover reads (and which file is opened).
 * The one exception is a directory writable by the group the daemon runs
 * as (systemd's RuntimeDirectory= of root and Group=): that group is the
 * daemon itself, which needs to remove its files once it is no longer root.
 */
static int check_owner(struct vdb_state *st, const struct stat *s, const char *what,
		       const char *path, gid_t own_gid)
{
	uid_t me = geteuid();
	mode_t foreign = S_IWGRP | S_IWOTH;

	if (s->st_uid != me && s->st_uid != 0)
		return refuse(st, "%s %s belongs to uid %u, not to this user (%u) or root: "
			      "another user could have written it", what, path,
			      (unsigned int)s->st_uid, (unsigned int)me);
	if (S_ISDIR(s->st_mode) && s->st_gid == own_gid)
		foreign = S_IWOTH;
	if (s->st_mode & foreign)
		return refuse(st, "%s %s is writable by its group (%u) or others (mode %04o): "
			      "chmod go-w it", what, path, (unsigned int)s->st_gid,
			      (unsigned int)(s->st_mode & 07777));
	return 0;
}

/* The state file open as @fd (ours, or handed over): a regular file of ours. */
static int check_file(struct vdb_state *st, int fd)
{
	struct stat s;

	if (fstat(fd, &s) < 0)
		return -errno;
	if (!S_ISREG(s.st_mode))
		return refuse(st, "state file %s is not a regular file", st->path);
	return check_owner(st, &s, "state file", st->path, (gid_t)-1);
}

int vdb_state_open(struct vdb_state *st, const char *dir, const char *name, int fd,
		   gid_t own_gid, int *ret_pid)
{
	struct vdb_state_header h;
	int r;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->boot_id_path = BOOT_ID_PATH;
	*ret_pid = 0;
	if ((size_t)snprintf(st->path, sizeof(st->path), "%s/%s.state", dir, name) >=
	    sizeof(st->path))
		return -ENAMETOOLONG;
	if (fd < 0) {
		struct stat ds;

		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (stat(dir, &ds) < 0)
			return -errno;
		if (!S_ISDIR(ds.st_mode))
			return refuse(st, "state directory %s is not a directory", dir);
		r = check_owner(st, &ds, "state directory", dir, own_gid);
		if (r < 0)
			return r;
		fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
	}
	/* Handed over or just opened: it must be ours, and locked by us again. */
	r = check_file(st, fd);
	if (r == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (pread(fd, &h, sizeof(h), 0) == sizeof(h) && !memcmp(h.magic, VDB_STATE_MAGIC, 8))
			*ret_pid = h.pid;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	st->fd = fd;
	return 0;
}

bool vdb_state_exists(const char *dir, const char *name)
{
	char path[4096], magic[8];
	_cleanup_close_ int fd = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.state", dir, name) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd >= 0 && pread(fd, magic, sizeof(magic), 0) == sizeof(magic) &&
	       !memcmp(magic, VDB_STATE_MAGIC, sizeof(magic));
}

bool vdb_state_is_empty(const struct vdb_state *st)
{
	struct stat s;

	return fstat(st->fd, &s) == 0 && s.st_size == 0;
}

static int state_map(struct vdb_state *st, uint64_t bytes)
{
	void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd, 0);

	if (map == MAP_FAILED)
		return -errno;
	st->map = map;
	st->map_bytes = bytes;
	st->hdr = map;
	return 0;
}

/* One queue's section in a file of @version (1: split rings only). */
static uint64_t section_bytes(uint32_t version, uint16_t queue_size)
{
	return version == 1 ? journal_bytes_v1(queue_size) : journal_bytes(queue_size);
}

static uint64_t state_bytes(uint32_t version, const struct vdb_identity *id)
{
	return queues_offset() + (uint64_t)id->nr_queues * section_bytes(version, id->queue_size);
}

int vdb_state_init(struct vdb_state *st, const char *name, const struct vdb_identity *id)
{
	uint64_t bytes = state_bytes(VDB_STATE_VERSION, id);
	struct vdb_state_header *h;
	int r;

	if (st->map)
		munmap(st->map, st->map_bytes);
	st->map = NULL;
	/* Empty first: a file cut short by a crash here reads as missing, not as stale. */
	if (ftruncate(st->fd, 0) < 0 || ftruncate(st->fd, (off_t)bytes) < 0)
		return -errno;
	r = state_map(st, bytes);
	if (r < 0)
		return r;
	h = st->hdr;
	memcpy(h->magic, VDB_STATE_MAGIC, 8);
	h->version = VDB_STATE_VERSION;
	h->header_bytes = sizeof(*h);
	h->file_bytes = bytes;
	h->queue_bytes = section_bytes(VDB_STATE_VERSION, id->queue_size);
	snprintf(h->name, sizeof(h->name), "%s", name);
	read_boot_id(st, h->boot_id);
	h->id = *id;
	h->checksum = vdb_state_header_checksum(h);
	st->nr_queues = id->nr_queues;
	st->queue_size = id->queue_size;
	st->queue_bytes = h->queue_bytes;
	st->version = VDB_STATE_VERSION;
	vdb_state_claim(st);
	return 0;
}

static int check_identity(struct vdb_state *st, const struct vdb_identity *had,
			  const struct vdb_identity *want)
{
	/*
	 * A device is taken over at the capacity it has: a shrink leaves a block
	 * device or an rbd image as large as it was.  It must fit the image.
	 */
	if (had->capacity_sectors > want->capacity_sectors)
		return refuse(st, "capacity differs: the device has %llu sectors, the image only "
			      "%llu", (unsigned long long)had->capacity_sectors,
			      (unsigned long long)want->capacity_sectors);
	if (had->block_size != want->block_size)
		return refuse(st, "block size differs: the device has %u, the options give %u",
			      had->block_size, want->block_size);
	if (had->nr_queues != want->nr_queues)
		return refuse(st, "queue count differs: the device has %u, the options give %u",
			      had->nr_queues, want->nr_queues);
	if (had->queue_size != want->queue_size)
		return refuse(st, "queue size differs: the device has %u, the options give %u",
			      had->queue_size, want->queue_size);
	if (had->is_readonly != want->is_readonly)
		return refuse(st, "read-only state differs: the device is %s, the options make "
			      "it %s", had->is_readonly ? "read-only" : "writable",
			      want->is_readonly ? "read-only" : "writable");
	/* Bits the options leave to the device (--ring auto) go as it was created. */
	if ((had->features ^ want->features) & ~st->features_either)
		return refuse(st, "features differ: the device offers %#llx, the options give "
			      "%#llx (discard, write-zeroes, flush support or --ring changed?)",
			      (unsigned long long)had->features,
			      (unsigned long long)want->features);
	return 0;
}

/*
 * What the header claims must describe a device this daemon could have
 * made, and a file of exactly that layout: everything after this trusts
 * the sizes, and the queues write at the offsets they give.  Checked before
 * the identity is compared with the options, so no comparison reads
 * nonsense.  The checksum only says the header was written whole.
 */
static int check_layout(struct vdb_state *st, const struct vdb_state_header *h,
			uint64_t file_bytes)
{
	const struct vdb_identity *id = &h->id;
	uint32_t bs = id->block_size;

	if (h->header_bytes != sizeof(*h))
		return refuse(st, "its state file %s is corrupt (header of %u bytes, not %zu)",
			      st->path, h->header_bytes, sizeof(*h));
	if (!memchr(h->name, 0, sizeof(h->name)) || !memchr(h->boot_id, 0, sizeof(h->boot_id)))
		return refuse(st, "its state file %s is corrupt (a name is not terminated)",
			      st->path);
	if (id->nr_queues == 0 || id->nr_queues > VDB_STATE_MAX_QUEUES ||
	    id->queue_size < 2 || id->queue_size > VQ_MAX_SIZE ||
	    (id->queue_size & (id->queue_size - 1)))
		return refuse(st, "its state file %s is corrupt (%u queue(s) of %u: not a "
			      "device vduse-blkd makes)", st->path, id->nr_queues, id->queue_size);
	if (bs < 512 || bs > 4096 || (bs & (bs - 1)) || id->capacity_sectors == 0 ||
	    id->capacity_sectors > (UINT64_MAX >> 9) || id->is_readonly > 1)
		return refuse(st, "its state file %s is corrupt (block size %u, capacity %llu "
			      "sectors)", st->path, bs, (unsigned long long)id->capacity_sectors);
	/* Packed rings need room for chain copies, which only version 2 sections have. */
	if (h->version < 2 && (id->features & (1ULL << VIRTIO_F_RING_PACKED)))
		return refuse(st, "its state file %s has format version %u, which holds split "
			      "rings only, but says the device offers packed rings", st->path,
			      h->version);
	if (h->queue_bytes != section_bytes(h->version, id->queue_size) ||
	    h->file_bytes != state_bytes(h->version, id) || h->file_bytes != file_bytes)
		return refuse(st, "its state file %s is corrupt (sizes do not add up)", st->path);
	return 0;
}

/*
 * Each queue's log as far as its section's format goes: a layout the
 * section has room for (packed only from version 2), a ring no larger
 * than the device's queues.  What the entries say is journal_recover()'s
 * to judge, against the rings.
 */
static int check_queues(struct vdb_state *st)
{
	for (uint16_t i = 0; i < st->nr_queues; i++) {
		const struct journal *log = vdb_state_queue(st, i);

		if (log->is_active > 1 || log->layout > 1 || (log->layout && st->version < 2) ||
		    (log->is_active && (log->num == 0 || log->num > st->queue_size)))
			return refuse(st, "its state file %s is corrupt (queue %u: active %u, "
				      "layout %u, ring of %u)", st->path, i, log->is_active,
				      log->layout, log->num);
	}
	return 0;
}

int vdb_state_check(struct vdb_state *st, const char *name, const struct vdb_identity *id)
{
	struct vdb_state_header h;
	struct stat s;
	char boot_id[40];
	int r;

	if (fstat(st->fd, &s) < 0)
		return -errno;
	if (s.st_size == 0)
		return refuse(st, "its state file %s is missing", st->path);
	if ((uint64_t)s.st_size < sizeof(h) || pread(st->fd, &h, sizeof(h), 0) != sizeof(h))
		return refuse(st, "its state file %s is corrupt (too short)", st->path);
	if (memcmp(h.magic, VDB_STATE_MAGIC, 8))
		return refuse(st, "%s is not a vduse-blkd state file", st->path);
	/* Version 1 (before packed rings) is read as it is: its queues are split. */
	if (h.version != VDB_STATE_VERSION && h.version != 1)
		return refuse(st, "its state file %s has format version %u; this vduse-blkd "
			      "reads versions 1 to %u", st->path, h.version, VDB_STATE_VERSION);
	if (h.checksum != vdb_state_header_checksum(&h))
		return refuse(st, "its state file %s is corrupt (bad checksum)", st->path);
	r = check_layout(st, &h, (uint64_t)s.st_size);
	if (r < 0)
		return r;
	if (strcmp(h.name, name))
		return refuse(st, "its state file %s belongs to device '%s'", st->path, h.name);
	read_boot_id(st, boot_id);
	if (memcmp(h.boot_id, boot_id, sizeof(boot_id)))
		return refuse(st, "its state file %s is from another boot", st->path);
	r = check_identity(st, &h.id, id);
	if (r < 0)
		return r;
	r = state_map(st, h.file_bytes);
	if (r < 0)
		return r;
	st->nr_queues = h.id.nr_queues;
	st->queue_size = h.id.queue_size;
	st->queue_bytes = h.queue_bytes;
	st->version = h.version;
	r = check_queues(st);
	if (r < 0) {
		munmap(st->map, st->map_bytes);
		st->map = NULL;
		st->hdr = NULL;
	}
	return r;
}

bool vdb_state_keeps_chains(const struct vdb_state *st)
{
	return !st || st->version >= 2;
}

uint64_t vdb_state_capacity(const struct vdb_state *st)
{
	return st->hdr->id.capacity_sectors;
}

uint64_t vdb_state_features(const struct vdb_state *st)
{
	return st->hdr->id.features;
}

void vdb_state_set_capacity(struct vdb_state *st, uint64_t capacity_sectors)
{
	if (!st || !st->hdr)
		return;
	/* A crash between the two stores leaves a bad checksum: refused, never misread. */
	st->hdr->id.capacity_sectors = capacity_sectors;
	st->hdr->checksum = vdb_state_header_checksum(st->hdr);
}

struct journal *vdb_state_queue(struct vdb_state *st, uint16_t index)
{
	if (!st || !st->map || index >= st->nr_queues)
		return NULL;
	return (struct journal *)((char *)st->map + queues_offset() +
				  (uint64_t)index * st->queue_bytes);
}

uint8_t vdb_state_status(const struct vdb_state *st)
{
	return st->hdr->status;
}

void vdb_state_set_status(struct vdb_state *st, uint8_t status)
{
	journal_store(&st->hdr->status, status);
}

void vdb_state_claim(struct vdb_state *st)
{
	int32_t pid = (int32_t)getpid();

	if (st->hdr->pid != pid)
		st->hdr->last_pid = st->hdr->pid;
	st->hdr->pid = pid;
}

int vdb_state_last_pid(const struct vdb_state *st)
{
	return st->hdr->last_pid;
}

void vdb_state_beat(struct vdb_state *st)
{
	if (st && st->hdr)
		__atomic_store_n(&st->hdr->beat_ms, now_ms(), __ATOMIC_RELAXED);
}

uint64_t vdb_state_silence_ms(const struct vdb_state *st)
{
	uint64_t now = now_ms(), then = st->hdr->beat_ms;

	return now > then ? now - then : 0;
}

void vdb_state_close(struct vdb_state *st)
{
	if (!st)
		return;
	if (st->map)
		munmap(st->map, st->map_bytes);
	st->map = NULL;
	st->hdr = NULL;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

void vdb_state_remove(struct vdb_state *st)
{
	if (!st || st->fd < 0)
		return;
	/* Not allowed to unlink (privileges dropped): an empty file means "no state" too. */
	if (unlink(st->path) < 0 && ftruncate(st->fd, 0) < 0) {
		/* Left as it is: with no device, the next daemon rewrites it. */
	}
	vdb_state_close(st);
}
