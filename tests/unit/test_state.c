// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state file (state.c) and the recovery of an in-flight log
 * (virtio/journal.c): what a daemon taking a device over accepts and refuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/virtio_config.h>

#include "backends/backend.h"
#include "virtio/journal.h"
#include "sandbox/sandbox.h"
#include "recovery/state.h"

static const struct vdb_identity ident = {
	.capacity_sectors = 2048, .features = 0x1234, .block_size = 512,
	.nr_queues = 2, .queue_size = 64, .is_readonly = 0,
};

struct dir {
	char path[256];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	const char *tmp = getenv("TMPDIR");

	snprintf(d->path, sizeof(d->path), "%s/test_state.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(d->path))
		return -1;
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

/* A state written for "disk0" with ident, closed again. */
static void make_state(const struct dir *d)
{
	struct vdb_state st;
	int pid;

	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	assert_int_equal(vdb_state_init(&st, "disk0", &ident), 0);
	vdb_state_set_status(&st, 0xf);
	vdb_state_close(&st);
}

static int check(const struct dir *d, const char *name, const struct vdb_identity *id,
		 char *why, size_t why_len)
{
	struct vdb_state st;
	int pid, r;

	assert_int_equal(vdb_state_open(&st, d->path, name, -1, getegid(), &pid), 0);
	r = vdb_state_check(&st, name, id);
	snprintf(why, why_len, "%s", st.why);
	if (r == 0)
		assert_int_equal(vdb_state_status(&st), 0xf);
	vdb_state_close(&st);
	return r;
}

static void test_round_trip(void **state)
{
	struct dir *d = *state;
	char why[512];

	make_state(d);
	assert_int_equal(check(d, "disk0", &ident, why, sizeof(why)), 0);
}

static void test_second_opener_is_refused(void **state)
{
	struct dir *d = *state;
	struct vdb_state a, b;
	int pid;

	assert_int_equal(vdb_state_open(&a, d->path, "disk0", -1, getegid(), &pid), 0);
	assert_int_equal(vdb_state_init(&a, "disk0", &ident), 0);
	assert_int_equal(vdb_state_open(&b, d->path, "disk0", -1, getegid(), &pid), -EBUSY);
	assert_int_equal(pid, getpid());
	vdb_state_remove(&a);
	assert_int_equal(access(a.path, F_OK), -1);
}

static void expect_refusal(const struct dir *d, const struct vdb_identity *id, const char *what)
{
	char why[512];

	assert_int_equal(check(d, "disk0", id, why, sizeof(why)), -EBADMSG);
	if (!strstr(why, what))
		fail_msg("'%s' does not say '%s'", why, what);
}

static void test_identity_differences_are_named(void **state)
{
	struct dir *d = *state;
	struct vdb_identity id;

	make_state(d);
	id = ident;
	id.capacity_sectors--;
	expect_refusal(d, &id, "capacity differs: the device has 2048 sectors, the image only 2047");
	id = ident;
	id.block_size = 4096;
	expect_refusal(d, &id, "block size differs");
	id = ident;
	id.nr_queues = 4;
	expect_refusal(d, &id, "queue count differs");
	id = ident;
	id.queue_size = 128;
	expect_refusal(d, &id, "queue size differs");
	id = ident;
	id.is_readonly = 1;
	expect_refusal(d, &id, "read-only state differs");
	id = ident;
	id.features ^= 1;
	expect_refusal(d, &id, "features differ");
}

/* Overwrite @len bytes at @off of disk0's state file. */
static void poke(const struct dir *d, off_t off, const void *bytes, size_t len)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/disk0.state", d->path);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

static void test_corrupt_foreign_and_missing(void **state)
{
	struct dir *d = *state;
	char why[512], path[300];
	struct vdb_state st;
	int pid;

	/* Missing: a fresh, empty file. */
	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	assert_true(vdb_state_is_empty(&st));
	vdb_state_close(&st);
	assert_int_equal(check(d, "disk0", &ident, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "is missing"));
	make_state(d);
	/* One bit of the identity: the checksum catches it. */
	poke(d, 300, "\x01", 1);
	expect_refusal(d, &ident, "corrupt (bad checksum)");
	make_state(d);
	poke(d, 0, "NOTSTATE", 8);
	expect_refusal(d, &ident, "is not a vduse-blkd state file");
	make_state(d);
	/* Cut short. */
	snprintf(path, sizeof(path), "%s/disk0.state", d->path);
	assert_int_equal(truncate(path, 100), 0);
	expect_refusal(d, &ident, "corrupt (too short)");
	/* Another device's file under this name. */
	make_state(d);
	snprintf(path, sizeof(path), "%s/disk1.state", d->path);
	assert_int_equal(vdb_state_open(&st, d->path, "disk1", -1, getegid(), &pid), 0);
	vdb_state_close(&st);
	snprintf(why, sizeof(why), "%s/disk0.state", d->path);
	assert_int_equal(rename(why, path), 0);
	assert_int_equal(check(d, "disk1", &ident, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "belongs to device 'disk0'"));
}

/*
 * Rewrite disk0's state as a daemon of version 1 (split rings only) would
 * have written it for @id: sections of journal_bytes_v1(), a valid
 * checksum.  What the file claims is for vdb_state_check() to judge.
 */
static void make_v1_state(const struct dir *d, const struct vdb_identity *id)
{
	struct vdb_state_header h;
	char path[300];
	int fd;

	make_state(d);
	snprintf(path, sizeof(path), "%s/disk0.state", d->path);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	h.version = 1;
	h.id = *id;
	h.queue_bytes = journal_bytes_v1(id->queue_size);
	h.file_bytes = sizeof(h) + id->nr_queues * h.queue_bytes;
	h.checksum = vdb_state_header_checksum(&h);
	assert_int_equal(ftruncate(fd, (off_t)h.file_bytes), 0);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	close(fd);
}

static void test_version_1_is_split_only(void **state)
{
	struct dir *d = *state;
	struct vdb_identity id = ident;
	char why[512];

	/* What a daemon of version 1 wrote is taken over as it is. */
	make_v1_state(d, &id);
	assert_int_equal(check(d, "disk0", &id, why, sizeof(why)), 0);
	/*
	 * Packed rings keep chain copies a version-1 section has no room for:
	 * the copies of the last queue would be written past the file's end.
	 */
	id.features |= 1ULL << VIRTIO_F_RING_PACKED;
	id.queue_size = 1024;
	make_v1_state(d, &id);
	expect_refusal(d, &id, "packed");
	/* Nor may a queue's log of a version-1 file say it is packed. */
	id = ident;
	make_v1_state(d, &id);
	{
		struct journal log = { .is_active = 1, .num = 8, .layout = 1 };
		char path[300];
		int fd;

		snprintf(path, sizeof(path), "%s/disk0.state", d->path);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, &log, sizeof(log), sizeof(struct vdb_state_header) +
					journal_bytes_v1(id.queue_size)), sizeof(log));
		close(fd);
	}
	expect_refusal(d, &id, "queue 1: active 1, layout 1");
}

/* Rewrite disk0's header with @edit applied and its checksum made valid again. */
static void edit_header(const struct dir *d, void (*edit)(struct vdb_state_header *h, int c),
			int c)
{
	struct vdb_state_header h;
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/disk0.state", d->path);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof(h), 0), sizeof(h));
	edit(&h, c);
	h.checksum = vdb_state_header_checksum(&h);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	close(fd);
}

/* Claims no daemon makes, each behind a valid checksum. */
static void claim(struct vdb_state_header *h, int c)
{
	switch (c) {
	case 0: h->header_bytes += 64; break;
	case 1: memset(h->name, 'x', sizeof(h->name)); break;
	case 2: h->id.nr_queues = 0; break;
	case 3: h->id.nr_queues = VDB_STATE_MAX_QUEUES + 1; break;
	case 4: h->id.queue_size = 48; break;
	case 5: h->id.queue_size = 2048; break;
	case 6: h->id.block_size = 3000; break;
	case 7: h->id.capacity_sectors = 0; break;
	case 8: h->queue_bytes -= 64; break;
	case 9: h->file_bytes += 64; break;
	default: h->id.is_readonly = 7; break;
	}
}

static void test_layout_claims_are_checked(void **state)
{
	struct dir *d = *state;

	for (int c = 0; c <= 10; c++) {
		make_state(d);
		edit_header(d, claim, c);
		expect_refusal(d, &ident, "corrupt");
	}
}

/*
 * vduse-blkctl resize --shrink of a block device or an rbd image leaves the
 * image as large as it was: the device is taken over as it is, smaller.
 */
static void test_shrunk_device_is_taken_over(void **state)
{
	struct dir *d = *state;
	struct vdb_identity id = ident;
	struct vdb_state st;
	int pid;

	make_state(d);
	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	assert_int_equal(vdb_state_check(&st, "disk0", &ident), 0);
	vdb_state_set_capacity(&st, 1024);
	vdb_state_close(&st);
	/* The image still has 2048 sectors. */
	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	if (vdb_state_check(&st, "disk0", &id) != 0)
		fail_msg("a shrunk device was refused: %s", st.why);
	assert_int_equal(vdb_state_capacity(&st), 1024);
	vdb_state_close(&st);
}

/* A state file or directory another user could write is refused, saying so. */
static void expect_open_refused(const struct dir *d, int fd, const char *what)
{
	struct vdb_state st;
	int pid;

	assert_int_equal(vdb_state_open(&st, d->path, "disk0", fd, getegid(), &pid), -EBADMSG);
	if (!strstr(st.why, what))
		fail_msg("'%s' does not say '%s'", st.why, what);
}

static void test_owner_and_mode(void **state)
{
	struct dir *d = *state;
	struct vdb_state a, b;
	char path[300];
	int pid, fd;

	make_state(d);
	snprintf(path, sizeof(path), "%s/disk0.state", d->path);
	assert_int_equal(chmod(path, 0620), 0);
	expect_open_refused(d, -1, "or others (mode 0620)");
	assert_int_equal(chmod(path, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 4321, 4321), 0);
		expect_open_refused(d, -1, "belongs to uid 4321");
		assert_int_equal(chown(path, 0, 0), 0);
	}
	assert_int_equal(chmod(d->path, 0777), 0);
	expect_open_refused(d, -1, "state directory");
	/*
	 * Writable by the daemon's own group (systemd's RuntimeDirectory= of
	 * root and Group=vduse-blkd, mode 0770): its own; by another group: not.
	 */
	assert_int_equal(chmod(d->path, 0770), 0);
	assert_int_equal(vdb_state_open(&a, d->path, "disk0", -1, getegid(), &pid), 0);
	vdb_state_close(&a);
	assert_int_equal(vdb_state_open(&a, d->path, "disk0", -1, getegid() + 1, &pid), -EBADMSG);
	if (!strstr(a.why, "state directory") || !strstr(a.why, "writable by its group"))
		fail_msg("'%s' does not say why", a.why);
	/* The file itself is writable by nobody else, whatever its group. */
	assert_int_equal(chmod(path, 0660), 0);
	expect_open_refused(d, -1, "state file");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(d->path, 0700), 0);
	/* Handed over by a live upgrade: a regular file of ours, locked by us again. */
	fd = open(d->path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	expect_open_refused(d, fd, "not a regular file");
	assert_int_equal(vdb_state_open(&a, d->path, "disk0", -1, getegid(), &pid), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(vdb_state_open(&b, d->path, "disk0", fd, getegid(), &pid), -EBUSY);
	vdb_state_close(&a);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(vdb_state_open(&b, d->path, "disk0", fd, getegid(), &pid), 0);
	vdb_state_close(&b);
}

static void test_other_boot(void **state)
{
	struct dir *d = *state;
	char boot[300];
	struct vdb_state st;
	FILE *f;
	int pid;

	make_state(d);
	snprintf(boot, sizeof(boot), "%s/boot_id", d->path);
	f = fopen(boot, "w");
	assert_non_null(f);
	fprintf(f, "00000000-1111-2222-3333-444444444444\n");
	fclose(f);
	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	st.boot_id_path = boot;
	assert_int_equal(vdb_state_check(&st, "disk0", &ident), -EBADMSG);
	assert_non_null(strstr(st.why, "from another boot"));
	vdb_state_close(&st);
}

static void test_queues_do_not_overlap(void **state)
{
	struct dir *d = *state;
	struct vdb_state st;
	struct journal *q0, *q1;
	int pid;

	assert_int_equal(vdb_state_open(&st, d->path, "disk0", -1, getegid(), &pid), 0);
	assert_int_equal(vdb_state_init(&st, "disk0", &ident), 0);
	q0 = vdb_state_queue(&st, 0);
	q1 = vdb_state_queue(&st, 1);
	assert_non_null(q0);
	assert_non_null(q1);
	assert_null(vdb_state_queue(&st, 2));
	assert_true((char *)&q0->heads[ident.queue_size] <= (char *)q1);
	assert_true((char *)&q1->heads[ident.queue_size] <= (char *)st.map + st.map_bytes);
	vdb_state_close(&st);
}

/* A log of 8 descriptors: @heads taken at pop indices 10, 11, ... */
static struct journal *log_with(const uint16_t *heads, unsigned int nr)
{
	struct journal *log = calloc(1, journal_bytes(64));

	journal_start(log, 64, 0, 8, 0x1000, 0x2000, 0x3000, 10, 10);
	for (unsigned int i = 0; i < nr; i++) {
		journal_take(log, heads[i], (uint16_t)(10 + i));
		journal_consume(log, (uint16_t)(11 + i), 0);
	}
	return log;
}

static void test_recover_published_or_not(void **state)
{
	const uint16_t heads[] = { 5, 2, 7 };
	uint16_t out[8];
	unsigned int nr;
	const char *why;
	struct journal *log;

	(void)state;
	/* 2 pushed, publish begun; the ring shows it: only 7 runs again. */
	log = log_with(heads, 3);
	journal_push(log, 5);
	journal_push(log, 2);
	journal_publish_begin(log, 12);
	assert_int_equal(journal_recover(log, 64, 12, out, &nr, &why), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(out[0], 7);
	assert_int_equal(log->used_idx, 12);
	free(log);
	/* The same, but the ring does not show it: all three, oldest first. */
	log = log_with(heads, 3);
	journal_push(log, 5);
	journal_push(log, 2);
	journal_publish_begin(log, 12);
	assert_int_equal(journal_recover(log, 64, 10, out, &nr, &why), 0);
	assert_int_equal(nr, 3);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 7);
	assert_int_equal(log->heads[5], JOURNAL_TAKEN | 10);
	free(log);
	/* A used->idx the log never wrote: refused. */
	log = log_with(heads, 3);
	assert_int_equal(journal_recover(log, 64, 11, out, &nr, &why), -EBADMSG);
	free(log);
}

static void test_recover_refuses_garbage(void **state)
{
	const uint16_t heads[] = { 1 };
	uint16_t out[8];
	unsigned int nr;
	const char *why;
	struct journal *log;

	(void)state;
	log = log_with(heads, 1);
	log->heads[9] = JOURNAL_TAKEN | 3;     /* beyond the ring's 8 */
	assert_int_equal(journal_recover(log, 64, 10, out, &nr, &why), -EBADMSG);
	free(log);
	log = log_with(heads, 1);
	log->heads[3] = 0x1234;                 /* not taken */
	assert_int_equal(journal_recover(log, 64, 10, out, &nr, &why), -EBADMSG);
	free(log);
	log = log_with(heads, 1);
	log->num = 6;                           /* not a power of two */
	assert_int_equal(journal_recover(log, 64, 10, out, &nr, &why), -EBADMSG);
	free(log);
	log = log_with(heads, 1);
	assert_true(journal_matches(log, 0, 8, 0x1000, 0x2000, 0x3000));
	assert_false(journal_matches(log, 0, 8, 0x1000, 0x2000, 0x4000));
	free(log);
}

/* A packed log (ring of 8 in a device of 64): @heads take @counts descriptors each. */
static struct journal *packed_log_with(const uint16_t *heads, const uint16_t *counts,
				       unsigned int nr)
{
	struct journal *log = calloc(1, journal_bytes(64));
	uint16_t next_slot = 63, pos = 0x8000;

	journal_start(log, 64, 1, 8, 0x1000, 0x2000, 0x3000, pos, pos);
	for (unsigned int i = 0; i < nr; i++) {
		struct vring_packed_desc d[4];
		uint16_t slots[4];

		for (uint16_t j = 0; j < counts[i]; j++) {
			d[j] = (struct vring_packed_desc){ .addr = 0x10000u * heads[i] + j,
							   .len = 512u + j, .id = heads[i],
							   .flags = j + 1 < counts[i] ? 1 : 2 };
			slots[j] = next_slot;
			next_slot -= 3;       /* not in order: the pool links them */
		}
		journal_keep_chain(log, 64, heads[i], d, slots, counts[i]);
		journal_take(log, heads[i], (uint16_t)i);
		pos = (uint16_t)(pos + counts[i]);
		journal_consume(log, pos, (uint16_t)(i + 1));
	}
	return log;
}

static void test_packed_chains_come_back(void **state)
{
	const uint16_t heads[] = { 3, 6, 0 }, counts[] = { 2, 1, 3 };
	struct vring_packed_desc d[8];
	uint16_t out[8], slots[8];
	unsigned int nr;
	const char *why;
	struct journal *log = packed_log_with(heads, counts, 3);

	(void)state;
	assert_int_equal(log->pop_seq, 3);
	/* 6 pushed and published: 3 and 0 run again, oldest first, their copies whole. */
	journal_push(log, 6);
	journal_publish_begin(log, 0x8001);
	assert_int_equal(journal_recover(log, 64, 0x8001, out, &nr, &why), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 0);
	assert_int_equal(journal_chain(log, 64, 3, d, slots), 2);
	assert_int_equal(d[0].addr, 0x30000);
	assert_int_equal(d[0].len, 512);
	assert_int_equal(d[0].flags, 1);
	assert_int_equal(d[1].addr, 0x30001);
	assert_int_equal(d[1].flags, 2);
	assert_int_equal(slots[0], 63);
	assert_int_equal(slots[1], 60);
	assert_int_equal(journal_chain(log, 64, 0, d, NULL), 3);
	assert_int_equal(d[2].addr, 2);
	assert_int_equal(d[2].len, 514);
	free(log);
	/* A packed ring may be any size. */
	log = packed_log_with(heads, counts, 1);
	log->num = 6;
	assert_int_equal(journal_recover(log, 64, 0x8000, out, &nr, &why), 0);
	assert_int_equal(nr, 1);
	free(log);
}

static void test_packed_copies_must_be_whole(void **state)
{
	const uint16_t heads[] = { 3, 6 }, counts[] = { 2, 1 };
	uint32_t *chains;
	uint16_t out[8];
	unsigned int nr;
	const char *why = NULL;
	struct journal *log;

	(void)state;
	/* No descriptor, more than the ring, a pool entry outside, a link cut, a shared entry. */
	for (int c = 0; c < 5; c++) {
		log = packed_log_with(heads, counts, 2);
		chains = journal_chains(log, 64);
		switch (c) {
		case 0:
			chains[3] &= 0xffff;
			break;
		case 1:
			chains[3] = (chains[3] & 0xffff) | 9u << 16;
			break;
		case 2:
			chains[6] = 64;
			break;
		case 3:
			journal_pool(log, 64)[63].id = JOURNAL_POOL_END;
			break;
		default:
			chains[6] = 60 | 1u << 16;    /* 3's second copy */
			break;
		}
		assert_int_equal(journal_recover(log, 64, 0x8000, out, &nr, &why), -EBADMSG);
		assert_non_null(strstr(why, "copy"));
		free(log);
	}
	/* The layout is part of what a log must match. */
	log = packed_log_with(heads, counts, 1);
	assert_true(journal_matches(log, 1, 8, 0x1000, 0x2000, 0x3000));
	assert_false(journal_matches(log, 0, 8, 0x1000, 0x2000, 0x3000));
	free(log);
}

/*
 * A full queue at the default size (256 chains), recovered by a live
 * upgrade's new image under the inherited seccomp filter: ordering the
 * chains must make no system call the filter refuses (glibc's qsort()
 * calls sysinfo(2) the first time it sorts 1 KiB or more).
 */
static void test_full_queue_recovers_under_the_filter(void **state)
{
	const uint16_t qs = 256;
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sandbox_opts o = { .backend_syscalls = backend_io_uring.syscalls,
					  .nr_backend_syscalls = backend_io_uring.nr_syscalls,
					  .may_exec = true };
		struct journal *log = calloc(1, journal_bytes(qs));
		uint16_t *out = calloc(qs, sizeof(*out));
		unsigned int nr = 0;
		const char *why;

		if (!log || !out)
			_exit(2);
		/* Taken in an order unlike the heads': head h at pop index (h * 97) % qs. */
		journal_start(log, qs, 0, qs, 0x1000, 0x2000, 0x3000, 0, 0);
		for (uint32_t i = 0; i < qs; i++)
			journal_take(log, (uint16_t)(i * 97 % qs), (uint16_t)i);
		journal_consume(log, qs, 0);
		if (sandbox_seccomp_apply(&o) != 0)
			_exit(3);
		if (journal_recover(log, qs, 0, out, &nr, &why) != 0 || nr != qs)
			_exit(4);
		for (uint32_t i = 0; i < qs; i++)
			if (out[i] != (uint16_t)(i * 97 % qs))
				_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the recovery died of signal %d (%s)", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? "SIGSYS: a call the filter refuses" : "?");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_second_opener_is_refused, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_identity_differences_are_named, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_foreign_and_missing, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_other_boot, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_version_1_is_split_only, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_layout_claims_are_checked, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_shrunk_device_is_taken_over, dir_setup,
						dir_teardown),
		cmocka_unit_test_setup_teardown(test_owner_and_mode, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_queues_do_not_overlap, dir_setup,
						dir_teardown),
		cmocka_unit_test(test_recover_published_or_not),
		cmocka_unit_test(test_recover_refuses_garbage),
		cmocka_unit_test(test_packed_chains_come_back),
		cmocka_unit_test(test_packed_copies_must_be_whole),
		cmocka_unit_test(test_full_queue_recovers_under_the_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
