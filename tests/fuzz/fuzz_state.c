// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_state: the state file as untrusted input (src/recovery/state.c) and
 * the recovery of each queue's in-flight log from it (virtio/journal.c), as a
 * daemon taking a device over reads them.
 *
 * Input: a small header of knobs, then the file's bytes.
 *
 *   byte 0   bit 0  make the header's checksum valid
 *            bit 1  give the header the device's name and this boot's id
 *            bit 2  make file_bytes the file's length
 *            bit 3  make queue_bytes what the header's version calls for
 *            bit 4  check against the identity the header claims (else
 *                   against the one in bytes 3..34)
 *   bytes 1-2  the used position the driver shows (vq_used_seen()'s answer)
 *   bytes 3-34 struct vdb_identity (bit 4 clear)
 *   the rest   the file
 *
 * The knobs let the fuzzer past what it cannot forge (a checksum, the boot
 * id) into the layout and log checks.  Invariants: no crash or sanitizer
 * report; a file vdb_state_check() accepts is mapped whole, each queue's
 * section lies inside the mapping, and recovery returns only heads inside
 * the ring, each once, whose packed chain copies lie inside the pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "virtio/journal.h"
#include "recovery/state.h"
#include "virtio/vq.h"

#define NAME "fuzz0"
#define BOOT_ID "0f0f0f0f-1111-2222-3333-444444444444"

static char boot_id_path[64];

static void init_once(void)
{
	int fd;

	if (boot_id_path[0])
		return;
	fd = memfd_create("boot_id", MFD_CLOEXEC);
	check(fd >= 0);
	check(write(fd, BOOT_ID "\n", sizeof(BOOT_ID)) == sizeof(BOOT_ID));
	snprintf(boot_id_path, sizeof(boot_id_path), "/proc/self/fd/%d", fd);
}

static uint64_t section_bytes(const struct vdb_state_header *h)
{
	return h->version == 1 ? journal_bytes_v1(h->id.queue_size) :
				 journal_bytes(h->id.queue_size);
}

static void fix_header(uint8_t flags, uint8_t *file, size_t len)
{
	struct vdb_state_header h;

	if (len < sizeof(h))
		return;
	memcpy(&h, file, sizeof(h));
	if (flags & 2) {
		memset(h.name, 0, sizeof(h.name));
		memcpy(h.name, NAME, sizeof(NAME));
		memset(h.boot_id, 0, sizeof(h.boot_id));
		memcpy(h.boot_id, BOOT_ID, sizeof(BOOT_ID) - 1);
	}
	if (flags & 4)
		h.file_bytes = len;
	if (flags & 8)
		h.queue_bytes = section_bytes(&h);
	if (flags & 1)
		h.checksum = vdb_state_header_checksum(&h);
	memcpy(file, &h, sizeof(h));
}

/* Recover each active queue as queue_log_init() does; check what comes back. */
static void recover_queues(struct vdb_state *st, uint16_t used_idx)
{
	uint16_t qs = st->queue_size, *heads = calloc(qs, sizeof(*heads));
	uint16_t *slots = calloc(qs, sizeof(*slots));
	uint8_t *seen = calloc(qs, 1);
	struct vring_packed_desc *descs = calloc(qs, sizeof(*descs));

	check(heads && slots && seen && descs);
	for (uint16_t q = 0; q < st->nr_queues; q++) {
		struct journal *log = vdb_state_queue(st, q);
		unsigned int nr = 0;
		const char *why = NULL;

		check(log);
		check((char *)log + st->queue_bytes <= (char *)st->map + st->map_bytes);
		if (!log->is_active)
			continue;
		check(log->layout <= 1 && (!log->layout || vdb_state_keeps_chains(st)));
		if (journal_recover(log, qs, used_idx, heads, &nr, &why) < 0) {
			check(why);
			continue;
		}
		check(nr <= log->num);
		memset(seen, 0, qs);
		for (unsigned int i = 0; i < nr; i++) {
			check(heads[i] < log->num && !seen[heads[i]]);
			seen[heads[i]] = 1;
			if (!log->layout)
				continue;
			uint16_t n = journal_chain(log, qs, heads[i], descs, slots);

			check(n >= 1 && n <= log->num);
			for (uint16_t j = 0; j < n; j++)
				check(slots[j] < qs);
		}
	}
	free(heads);
	free(slots);
	free(seen);
	free(descs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdb_identity id;
	struct vdb_state st;
	uint8_t flags, *file;
	uint16_t used_idx;
	size_t len;
	int fd, pid, r;

	if (size < 3 + sizeof(id))
		return 0;
	init_once();
	flags = data[0];
	used_idx = (uint16_t)(data[1] | data[2] << 8);
	memcpy(&id, data + 3, sizeof(id));
	len = size - 3 - sizeof(id);
	file = malloc(len ? len : 1);
	check(file);
	memcpy(file, data + 3 + sizeof(id), len);
	fix_header(flags, file, len);
	if ((flags & 16) && len >= sizeof(struct vdb_state_header))
		memcpy(&id, file + offsetof(struct vdb_state_header, id), sizeof(id));

	fd = memfd_create("state", MFD_CLOEXEC);
	check(fd >= 0 && fchmod(fd, 0600) == 0);
	check(len == 0 || write(fd, file, len) == (ssize_t)len);
	free(file);
	/* As a live upgrade hands it over: the fd, no lock to take here. */
	check(vdb_state_open(&st, "/nonexistent", NAME, fd, getegid(), &pid) == 0);
	st.boot_id_path = boot_id_path;
	r = vdb_state_check(&st, NAME, &id);
	if (r == 0) {
		check(st.map && st.map_bytes == (uint64_t)lseek(fd, 0, SEEK_END));
		check(st.nr_queues >= 1 && st.queue_size >= 2 && st.queue_size <= VQ_MAX_SIZE);
		check(vdb_state_capacity(&st) <= id.capacity_sectors);
		check(!vdb_state_queue(&st, st.nr_queues));
		(void)vdb_state_features(&st);
		recover_queues(&st, used_idx);
	} else {
		check(r == -EBADMSG && st.why[0]);
		check(!st.map);
	}
	vdb_state_close(&st);
	return 0;
}
