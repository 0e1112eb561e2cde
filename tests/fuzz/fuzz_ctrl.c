// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the VDUSE control plane against a fake kernel.
 *
 * The daemon's own code runs for real: vduse_dev_create() and _destroy(),
 * vduse_dev_handle_msg(), the queue threads of src/vduse/queues.c serving
 * with the null backend, and the IOTLB cache of src/vduse/iotlb.c.  The
 * binary is linked with --wrap for open64, ioctl, mmap64, munmap and log_msg, so
 * that the VDUSE device is the fake kernel of fake_vduse.c:
 *
 *  - /dev/vduse/control accepts the API version and creates the device;
 *  - /dev/vduse/NAME is one end of a SOCK_SEQPACKET socketpair: the target
 *    writes struct vduse_dev_request on the other end, calls
 *    vduse_dev_handle_msg() and reads the response;
 *  - VDUSE_VQ_GET_INFO hands out rings in a memfd, VDUSE_IOTLB_GET_FD a dup
 *    of that memfd for the IOVA mapping that holds an address (identity:
 *    IOVA GUEST_IOVA + x is memfd offset x), VDUSE_VQ_SETUP_KICKFD records
 *    the kick eventfd, VDUSE_VQ_INJECT_IRQ counts.
 *
 * The input is a short program of operations (see enum op): SET_STATUS,
 * UPDATE_IOTLB (alone or after the driver remapped memory), GET_VQ_STATE
 * (possibly out of range), post a request chain (well-formed or one of a few
 * malformed shapes) and kick, wait for completions, unknown or short
 * messages.  Checked on every input, besides ASan/UBSan/LSan:
 *
 *  - every message gets exactly one response with its request_id, and the
 *    result the message calls for (SET_STATUS fails exactly when a ready
 *    queue's size or rings are unusable);
 *  - GET_VQ_STATE never goes backwards within one DRIVER_OK period and never
 *    runs ahead of what the driver published;
 *  - a used entry names a head in flight, used.len never exceeds the chain's
 *    writable bytes, malformed chains come back with 0 and well-formed ones
 *    with the status and length they call for (while memory was not
 *    remapped under them);
 *  - interrupts only for existing queues with a kick fd; the kick fds of
 *    stopped queues are deassigned;
 *  - after vduse_dev_destroy(): no queue thread, no mapping of the memfd
 *    and no file descriptor left behind.
 *
 * Like the kernel (vhost-vdpa refuses it), the fake never forwards a status
 * that clears bits other than by a reset to 0.
 *
 * VDB_FUZZ_VERBOSE=1 prints the daemon's log and what each input did.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vduse.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_vduse.h"
#include "log.h"
#include "vduse/dev.h"

#define CAPACITY_SECTORS 2048u
#define RINGS_BYTES (64u << 10)       /* queue i's rings at i * 16 KiB */
#define BUFS_OFF RINGS_BYTES          /* request buffers after the rings */
#define MAX_OPS 24
#define MAX_WAIT_MS 30

static bool verbose;

struct inflight {
	bool is_busy;
	bool is_checked;          /* the outcome is predictable (see post()) */
	uint32_t writable_bytes;
	uint32_t want_len;        /* used.len when checked */
	uint8_t want_status;
	uint64_t status_off;      /* memfd offset of the status byte */
	uint32_t epoch;           /* d.epoch when posted */
	unsigned int nr_desc;
	uint16_t desc[4];
};

struct dvq {
	uint16_t avail_idx;       /* driver's shadow */
	uint16_t last_used;
	bool is_bogus;            /* the driver broke the ring: outcomes unchecked */
	struct inflight heads[QUEUE_SIZE];
	uint16_t state_floor;     /* GET_VQ_STATE lower bound in this DRIVER_OK period */
};

static struct {
	struct vduse_dev dev;
	struct blk_dev blk;
	struct image img;
	uint8_t status;
	bool is_running;          /* DRIVER_OK accepted */
	struct dvq q[MAX_QUEUES];
	uint32_t epoch;           /* bumped when the driver remaps memory */
	uint32_t next_id;
	uint64_t next_buf;
	bool has_state;           /* a GET_VQ_STATE after the last stop */
	uint16_t stopped_state[MAX_QUEUES];
	bool has_stopped_state[MAX_QUEUES];
	unsigned int nr_completed, nr_checked;   /* for VDB_FUZZ_VERBOSE */
} d;

struct reader {
	const uint8_t *p;
	size_t n;
};

static bool has_more(const struct reader *rd)
{
	return rd->n > 0;
}

static uint8_t u8(struct reader *rd)
{
	if (!rd->n)
		return 0;
	rd->n--;
	return *rd->p++;
}

static uint16_t u16(struct reader *rd)
{
	return u8(rd) | (uint16_t)u8(rd) << 8;
}

static uint64_t u64(struct reader *rd)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)u8(rd) << (8 * i);
	return v;
}

static uint64_t ring_off(unsigned int qi)
{
	return qi * (RINGS_BYTES / 4);
}

static struct vring_desc *ring_desc(unsigned int qi)
{
	return (struct vring_desc *)(fake.mem + ring_off(qi));
}

static struct vring_avail *ring_avail(unsigned int qi)
{
	return (struct vring_avail *)(fake.mem + ring_off(qi) + 0x1000);
}

static struct vring_used *ring_used(unsigned int qi)
{
	return (struct vring_used *)(fake.mem + ring_off(qi) + 0x2000);
}

static void send_raw(const void *buf, size_t len)
{
	check(write(fake.sock[1], buf, len) == (ssize_t)len);
}

/* One message, its response: returns the result. */
static uint32_t send_msg(struct vduse_dev_request *req, struct vduse_dev_response *resp)
{
	ssize_t n;

	req->request_id = d.next_id++;
	send_raw(req, sizeof(*req));
	check(vduse_dev_handle_msg(&d.dev) == 0);
	n = read(fake.sock[1], resp, sizeof(*resp));
	check(n == sizeof(*resp));
	check(resp->request_id == req->request_id);
	check(resp->result == VDUSE_REQ_RESULT_OK || resp->result == VDUSE_REQ_RESULT_FAILED);
	/* Exactly one response. */
	check(read(fake.sock[1], resp, sizeof(*resp)) < 0 && errno == EAGAIN);
	return resp->result;
}

/* Is [iova, iova + len) inside one mapping with @perm? */
static bool mapped(uint64_t iova, uint64_t len, unsigned int perm)
{
	const struct kmap *m = fake_kmap_find(iova, iova);

	return m && (m->perm & perm) == perm && iova + len - 1 <= m->last;
}

/* Is every byte of [iova, iova + len) mapped with @perm (over any number of mappings)? */
static bool mapped_span(uint64_t iova, uint64_t len, unsigned int perm)
{
	while (len) {
		const struct kmap *m = fake_kmap_find(iova, iova);
		uint64_t n;

		if (!m || (m->perm & perm) != perm)
			return false;
		n = m->last - iova + 1;
		if (n >= len)
			return true;
		iova += n;
		len -= n;
	}
	return true;
}

/* Would the daemon's queue start succeed for every ready queue? */
static bool start_ok(void)
{
	for (unsigned int i = 0; i < fake.nr_queues; i++) {
		const struct kvq *v = &fake.vq[i];

		if (!v->is_ready)
			continue;
		if (v->num == 0 || v->num > QUEUE_SIZE || (v->num & (v->num - 1)))
			return false;
		if (v->desc % 16 || v->driver % 2 || v->device % 4)
			return false;
		if (!mapped(v->desc, 16ULL * v->num, MEM_READ) ||
		    !mapped(v->driver, 6ULL + 2 * v->num, MEM_READ) ||
		    !mapped(v->device, 6ULL + 8 * v->num, MEM_WRITE))
			return false;
	}
	return true;
}

/* Check used entries that appeared since the last look. */
static void reap(unsigned int qi)
{
	struct dvq *q = &d.q[qi];
	const struct vring_used *u = ring_used(qi);
	uint16_t idx = le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
	uint32_t num = fake.vq[qi].num;

	if (q->is_bogus || num == 0 || num > QUEUE_SIZE) {
		q->last_used = idx;
		return;
	}
	/* Never more used entries than chains made available. */
	check((uint16_t)(idx - q->last_used) <= (uint16_t)(q->avail_idx - q->last_used));
	while (q->last_used != idx) {
		const struct vring_used_elem *e = &u->ring[q->last_used % num];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);
		struct inflight *f;

		check(id < num);
		f = &q->heads[id];
		check(f->is_busy);
		check(len <= f->writable_bytes);
		d.nr_completed++;
		if (verbose)
			fprintf(stderr, "fuzz_ctrl: used q%u head %u len %u (want %u%s) status %#x\n", qi,
				id, len, f->want_len, f->is_checked && f->epoch == d.epoch ? "" : ", unchecked",
				fake.mem[f->status_off]);
		if (f->is_checked && f->epoch == d.epoch) {
			d.nr_checked++;
			check(len == f->want_len);
			if (f->want_len)
				check(fake.mem[f->status_off] == f->want_status);
		}
		f->is_busy = false;
		q->last_used++;
	}
}

static bool all_done(void)
{
	for (unsigned int qi = 0; qi < fake.nr_queues; qi++) {
		reap(qi);
		if (d.q[qi].is_bogus)
			continue;
		for (unsigned int h = 0; h < QUEUE_SIZE; h++)
			if (d.q[qi].heads[h].is_busy)
				return false;
	}
	return true;
}

static void wait_done(unsigned int ms)
{
	struct timespec ts = { 0, 200 * 1000 };

	for (unsigned int i = 0; i < ms * 5 && d.is_running && !all_done(); i++)
		nanosleep(&ts, NULL);
}

/* After a reset: fresh rings, nothing in flight. */
static void driver_reset(void)
{
	for (unsigned int qi = 0; qi < fake.nr_queues; qi++) {
		reap(qi);
		memset(&d.q[qi], 0, sizeof(d.q[qi]));
		memset(fake.mem + ring_off(qi), 0, RINGS_BYTES / 4);
		fake.vq[qi].avail_index = 0;
	}
	d.next_buf = BUFS_OFF;
}

static void op_status(struct reader *rd)
{
	static const uint8_t statuses[] = {
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			VIRTIO_CONFIG_S_DRIVER_OK,
		0,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET,
	};
	uint8_t sel = u8(rd), status = sel < 0xf0 ? statuses[sel % 4] : u8(rd);
	struct vduse_dev_request req = { .type = VDUSE_SET_STATUS };
	struct vduse_dev_response resp;
	bool is_start, want_ok;
	uint32_t r;

	/* The kernel (vhost-vdpa) lets no bit be cleared but by a reset. */
	if (status && (d.status & ~status))
		return;
	is_start = (status & VIRTIO_CONFIG_S_DRIVER_OK) && !(d.status & VIRTIO_CONFIG_S_DRIVER_OK);
	want_ok = !is_start || start_ok();
	if (is_start)
		memset(d.has_stopped_state, 0, sizeof(d.has_stopped_state));
	req.s.status = status;
	r = send_msg(&req, &resp);
	check((r == VDUSE_REQ_RESULT_OK) == want_ok);
	if (status == 0) {
		/* Every queue stopped and its kick fd deassigned before the answer. */
		for (unsigned int qi = 0; qi < fake.nr_queues; qi++) {
			check(fake.vq[qi].kick_fd < 0);
			check(!(d.dev.queues[qi].run != NULL));
		}
		d.is_running = false;
		d.status = 0;
		driver_reset();
		memset(d.has_stopped_state, 0, sizeof(d.has_stopped_state));
		return;
	}
	if (r != VDUSE_REQ_RESULT_OK) {
		/* A failed start leaves nothing running. */
		for (unsigned int qi = 0; qi < fake.nr_queues; qi++)
			check(!(d.dev.queues[qi].run != NULL) && fake.vq[qi].kick_fd < 0);
		/*
		 * Nor did it consume a chain: a second DRIVER_OK must not answer
		 * one twice (crash-fuzz_ctrl-failed-start-replays.bin).
		 */
		return;
	}
	d.status = status;
	if (is_start) {
		d.is_running = true;
		for (unsigned int qi = 0; qi < fake.nr_queues; qi++) {
			d.q[qi].state_floor = fake.vq[qi].avail_index;
			check((d.dev.queues[qi].run != NULL) == fake.vq[qi].is_ready);
			check((fake.vq[qi].kick_fd >= 0) == fake.vq[qi].is_ready);
		}
	}
}

static void op_get_state(struct reader *rd)
{
	uint8_t sel = u8(rd);
	uint32_t index = sel < 0xf0 ? sel % MAX_QUEUES : sel & 0x0f;
	struct vduse_dev_request req = { .type = VDUSE_GET_VQ_STATE };
	struct vduse_dev_response resp;
	uint32_t r;
	uint16_t v;

	if (sel == 0xff)
		index = 0xffffffffu;
	req.vq_state.index = index;
	r = send_msg(&req, &resp);
	check((r == VDUSE_REQ_RESULT_OK) == (index < fake.nr_queues));
	if (r != VDUSE_REQ_RESULT_OK)
		return;
	check(resp.vq_state.index == index);
	v = resp.vq_state.split.avail_index;
	if (d.is_running && (d.dev.queues[index].run != NULL)) {
		struct dvq *q = &d.q[index];

		/* Between what it reported before and what the driver published. */
		if (!q->is_bogus) {
			check((uint16_t)(v - q->state_floor) <= (uint16_t)(q->avail_idx - q->state_floor));
			q->state_floor = v;
		}
	} else if (!d.is_running) {
		/* Stopped: the answer does not change. */
		if (d.has_stopped_state[index])
			check(v == d.stopped_state[index]);
		d.stopped_state[index] = v;
		d.has_stopped_state[index] = true;
	}
}

static void wait_done(unsigned int ms);
static bool all_done(void);


static void update_iotlb(uint64_t start, uint64_t last)
{
	struct vduse_dev_request req = { .type = VDUSE_UPDATE_IOTLB };
	struct vduse_dev_response resp;

	req.iova.start = start;
	req.iova.last = last;
	check(send_msg(&req, &resp) == VDUSE_REQ_RESULT_OK);
}

static void op_iotlb(struct reader *rd)
{
	uint8_t sel = u8(rd);

	switch (sel % 4) {
	case 0:
		update_iotlb(0, UINT64_MAX);
		break;
	case 1:
		update_iotlb(GUEST_IOVA, GUEST_IOVA + RINGS_BYTES - 1);
		break;
	case 2:
		update_iotlb(GUEST_IOVA + BUFS_OFF + (sel >> 2) * 0x1000ULL, GUEST_IOVA + MEMFD_BYTES - 1);
		break;
	default: {
		uint64_t a = u64(rd), b = u64(rd);

		update_iotlb(a, b);
		break;
	}
	}
}

/* The driver remaps memory: the kernel changes the IOTLB, then tells the daemon. */
static void op_remap(struct reader *rd)
{
	uint8_t sel = u8(rd);
	const uint64_t rings_last = GUEST_IOVA + RINGS_BYTES - 1;
	const uint64_t all_last = GUEST_IOVA + MEMFD_BYTES - 1;
	unsigned int bufs_perm = (sel >> 3) & 3;

	pthread_mutex_lock(&fake.lock);
	switch (sel % 4) {
	case 0:     /* one read-write mapping of everything */
		fake.maps[0] = (struct kmap){ GUEST_IOVA, all_last, MEM_READ | MEM_WRITE };
		fake.nr_maps = 1;
		break;
	case 1:     /* rings and buffers apart; buffers with other permissions or none */
		fake.maps[0] = (struct kmap){ GUEST_IOVA, rings_last, MEM_READ | MEM_WRITE };
		fake.maps[1] = (struct kmap){ rings_last + 1, all_last, bufs_perm };
		fake.nr_maps = bufs_perm ? 2 : 1;
		break;
	case 2:     /* the rings go away */
		fake.maps[0] = (struct kmap){ rings_last + 1, all_last, MEM_READ | MEM_WRITE };
		fake.nr_maps = 1;
		break;
	default:    /* many small mappings: rings per queue, buffers in pages */
		fake.nr_maps = 0;
		for (unsigned int i = 0; i < MAX_MAPS; i++) {
			uint64_t s = i < 2 ? GUEST_IOVA + ring_off(i) : rings_last + 1 + (i - 2) * 0x1000ULL;
			uint64_t l = i < 2 ? s + RINGS_BYTES / 4 - 1 : (i == 3 ? all_last : s + 0xfff);

			fake.maps[fake.nr_maps++] = (struct kmap){ s, l, MEM_READ | MEM_WRITE };
		}
		break;
	}
	pthread_mutex_unlock(&fake.lock);
	d.epoch++;
	update_iotlb(GUEST_IOVA, all_last);
}

/* Give the driver @bytes of buffer memory; 0 when it ran out. */
static uint64_t buf_alloc(uint32_t bytes)
{
	uint64_t off = (d.next_buf + 15) & ~15ULL;

	if (off + bytes > MEMFD_BYTES)
		return 0;
	d.next_buf = off + bytes;
	return off;
}

static void set_desc(struct vring_desc *t, uint16_t i, uint64_t off, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	t[i] = (struct vring_desc){
		htole64(GUEST_IOVA + off), htole32(len), htole16(flags), htole16(next),
	};
}

enum shape {
	SHAPE_DIRECT,
	SHAPE_INDIRECT,
	SHAPE_NO_STATUS,      /* nothing device-writable: used.len 0 */
	SHAPE_UNMAPPED,       /* data outside every mapping: used.len 0 */
	SHAPE_SHORT_HEADER,   /* 8-byte header: used.len 0 */
	SHAPE_BAD_HEAD,       /* a head outside the table: consumed, no used entry */
	SHAPE_BAD_IDX,        /* avail->idx jumps: the ring is broken */
	SHAPE_COUNT,
};

static void op_post(struct reader *rd)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, 77,
	};
	unsigned int qi = u8(rd) % MAX_QUEUES;
	uint32_t type = types[u8(rd) % 5];
	unsigned int nr_sectors = u8(rd) % 9;
	uint64_t sector = u16(rd) % (CAPACITY_SECTORS + 16);
	enum shape shape = u8(rd) % SHAPE_COUNT;
	struct dvq *q;
	struct vring_desc *table;
	struct inflight *f = NULL;
	uint32_t num, data_bytes, writable;
	uint64_t hdr_off, data_off, status_off, table_off = 0;
	bool is_in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint16_t head = 0;

	if (qi >= fake.nr_queues)
		return;
	q = &d.q[qi];
	num = fake.vq[qi].num;
	if (num == 0 || num > QUEUE_SIZE || (num & (num - 1)) || q->is_bogus || !fake.vq[qi].is_ready)
		return;
	if (type == VIRTIO_BLK_T_GET_ID)
		nr_sectors = 0;
	data_bytes = type == VIRTIO_BLK_T_GET_ID ? VIRTIO_BLK_ID_BYTES : nr_sectors * 512u;
	if (type == VIRTIO_BLK_T_FLUSH || type == 77)
		data_bytes = 0;
	hdr_off = buf_alloc(16);
	data_off = buf_alloc(data_bytes ? data_bytes : 1);
	status_off = buf_alloc(1);
	if (shape == SHAPE_INDIRECT)
		table_off = buf_alloc(3 * 16);
	if (!hdr_off || !data_off || !status_off || (shape == SHAPE_INDIRECT && !table_off)) {
		/* Out of buffer memory: start over when nothing is in flight. */
		if (all_done())
			d.next_buf = BUFS_OFF;
		return;
	}
	{
		struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };

		memcpy(fake.mem + hdr_off, &h, sizeof(h));
		memset(fake.mem + data_off, 0x5a, data_bytes);
		fake.mem[status_off] = 0xff;
	}

	if (shape == SHAPE_BAD_HEAD || shape == SHAPE_BAD_IDX) {
		struct vring_avail *a = ring_avail(qi);

		a->ring[q->avail_idx % num] = htole16(shape == SHAPE_BAD_HEAD ? num + u8(rd) : 0);
		q->avail_idx += shape == SHAPE_BAD_HEAD ? 1 : num + 1 + u8(rd);
		if (shape == SHAPE_BAD_IDX)
			q->is_bogus = true;
		__atomic_store_n(&a->idx, htole16(q->avail_idx), __ATOMIC_RELEASE);
		goto kick;
	}

	/* Three free descriptors for a direct chain, one for an indirect one. */
	{
		unsigned int need = shape == SHAPE_INDIRECT ? 1 : 3, got = 0;
		bool used_desc[QUEUE_SIZE] = { false };
		uint16_t descs[3];

		for (unsigned int h = 0; h < num; h++)
			if (q->heads[h].is_busy)
				for (unsigned int j = 0; j < q->heads[h].nr_desc; j++)
					used_desc[q->heads[h].desc[j]] = true;
		for (unsigned int i = 0; i < num && got < need; i++)
			if (!used_desc[i])
				descs[got++] = (uint16_t)i;
		if (got < need)
			return;
		head = descs[0];
		f = &q->heads[head];
		*f = (struct inflight){ .is_busy = true, .nr_desc = need, .epoch = d.epoch,
					.status_off = status_off };
		memcpy(f->desc, descs, need * sizeof(descs[0]));

		table = ring_desc(qi);
		if (shape == SHAPE_INDIRECT) {
			set_desc(table, head, table_off, 3 * 16, VRING_DESC_F_INDIRECT, 0);
			table = (struct vring_desc *)(fake.mem + table_off);
			descs[0] = 0;
			descs[1] = 1;
			descs[2] = 2;
		}
		set_desc(table, descs[0], hdr_off, shape == SHAPE_SHORT_HEADER ? 8 : 16,
			 VRING_DESC_F_NEXT, descs[1]);
		if (shape == SHAPE_UNMAPPED)
			table[descs[1]] = (struct vring_desc){
				htole64(0x7000000000ULL), htole32(data_bytes ? data_bytes : 1),
				htole16(VRING_DESC_F_NEXT | (is_in ? VRING_DESC_F_WRITE : 0)),
				htole16(descs[2]),
			};
		else
			set_desc(table, descs[1], data_off, data_bytes,
				 VRING_DESC_F_NEXT | (is_in ? VRING_DESC_F_WRITE : 0), descs[2]);
		set_desc(table, descs[2], status_off, 1,
			 shape == SHAPE_NO_STATUS ? 0 : VRING_DESC_F_WRITE, 0);
		if (shape == SHAPE_NO_STATUS && is_in) {
			/* Keep the chain otherwise legal: the data readable too. */
			table[descs[1]].flags = htole16(VRING_DESC_F_NEXT);
		}

		writable = shape == SHAPE_NO_STATUS ? 0 : 1 + (is_in ? data_bytes : 0);
		f->writable_bytes = writable;
		/* What must come back, if memory is not remapped meanwhile. */
		f->is_checked = true;
		if (shape == SHAPE_NO_STATUS || shape == SHAPE_UNMAPPED) {
			f->want_len = 0;
		} else if (shape == SHAPE_SHORT_HEADER) {
			/* The header may go on in the data: only too few readable bytes are refused. */
			f->is_checked = !(type == VIRTIO_BLK_T_OUT && data_bytes);
			f->want_len = 0;
		} else if (type == 77) {
			f->want_len = 1;
			f->want_status = VIRTIO_BLK_S_UNSUPP;
		} else if (type == VIRTIO_BLK_T_GET_ID) {
			f->want_len = 1 + VIRTIO_BLK_ID_BYTES;
			f->want_status = VIRTIO_BLK_S_OK;
		} else if (type == VIRTIO_BLK_T_FLUSH) {
			f->want_len = 1;
			f->want_status = VIRTIO_BLK_S_OK;
		} else if (sector + nr_sectors > CAPACITY_SECTORS ||
			   (type == VIRTIO_BLK_T_OUT && d.blk.is_readonly)) {
			f->want_len = 1;
			f->want_status = VIRTIO_BLK_S_IOERR;
		} else {
			f->want_len = is_in ? 1 + data_bytes : 1;
			f->want_status = VIRTIO_BLK_S_OK;
		}
		/* Buffers the mappings do not allow: the chain is refused. */
		if (f->want_len && (!mapped_span(GUEST_IOVA + hdr_off, 16, MEM_READ) ||
				    (data_bytes && !mapped_span(GUEST_IOVA + data_off, data_bytes,
								is_in ? MEM_WRITE : MEM_READ)) ||
				    !mapped_span(GUEST_IOVA + status_off, 1, MEM_WRITE) ||
				    (shape == SHAPE_INDIRECT &&
				     !mapped_span(GUEST_IOVA + table_off, 48, MEM_READ))))
			f->want_len = 0;
	}
	{
		struct vring_avail *a = ring_avail(qi);

		a->ring[q->avail_idx % num] = htole16(head);
		q->avail_idx++;
		__atomic_store_n(&a->idx, htole16(q->avail_idx), __ATOMIC_RELEASE);
	}
kick:
	if (verbose)
		fprintf(stderr, "fuzz_ctrl: post q%u head %u shape %d avail %u\n", qi, head, shape, q->avail_idx);
	if (fake.vq[qi].kick_fd >= 0)
		check(eventfd_write(fake.vq[qi].kick_fd, 1) == 0);
}

static void op_odd_message(struct reader *rd)
{
	uint8_t sel = u8(rd);

	if (sel & 1) {
		/* A message type the daemon does not know. */
		struct vduse_dev_request req = { .type = 3 + u8(rd) };
		struct vduse_dev_response resp;

		if (req.type == VDUSE_GET_VQ_STATE || req.type == VDUSE_SET_STATUS ||
		    req.type == VDUSE_UPDATE_IOTLB)
			return;
		check(send_msg(&req, &resp) == VDUSE_REQ_RESULT_FAILED);
	} else {
		/* A short message: refused, nothing answered. */
		uint8_t junk[16] = { 0 };
		uint8_t resp[8];

		send_raw(junk, 1 + sel % 15);
		check(vduse_dev_handle_msg(&d.dev) == -EIO);
		check(read(fake.sock[1], resp, sizeof(resp)) < 0 && errno == EAGAIN);
	}
}

enum op {
	OP_STATUS,
	OP_POST,
	OP_WAIT,
	OP_GET_STATE,
	OP_IOTLB,
	OP_REMAP,
	OP_ODD,
	OP_POST2,        /* more weight for requests */
	OP_COUNT,
};

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	check(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static int base_fds = -1;

/* Every fd the process had when the input began, and no other: else name them and stop. */
static void check_no_new_fds(void)
{
	int n = count_fds();
	DIR *dir;
	struct dirent *e;

	if (n == base_fds)
		return;
	fprintf(stderr, "fuzz_ctrl: %d fds open, %d at the start:\n", n, base_fds);
	dir = opendir("/proc/self/fd");
	while (dir && (e = readdir(dir))) {
		char path[300], target[256] = "";
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0)
			target[len] = '\0';
		fprintf(stderr, "  %s -> %s\n", e->d_name, target);
	}
	if (dir)
		closedir(dir);
	check(n == base_fds);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("VDB_FUZZ_VERBOSE") != NULL;
	fake_verbose = verbose;
	fake_vduse_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	uint8_t cfg = u8(&rd);
	int r;

	/*
	 * Counted afresh for each input: between inputs the fuzzer itself may open
	 * fds (the first NEW_FUNC line starts llvm-symbolizer on two pipes).
	 */
	base_fds = count_fds();

	/* The device and the fake kernel's state. */
	memset(&d, 0, sizeof(d));
	memset(fake.mem, 0, MEMFD_BYTES);
	fake.nr_queues = cfg & 1 ? 2 : 1;
	fake.driver_features = vduse_dev_features(&(struct blk_dev){ .num_queues = fake.nr_queues });
	/* This driver lays out split rings: it declines the packed layout (--ring auto offers it). */
	fake.driver_features &= ~(1ULL << VIRTIO_F_RING_PACKED);
	if (cfg & 2)
		fake.driver_features &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	fake.maps[0] = (struct kmap){ GUEST_IOVA, GUEST_IOVA + MEMFD_BYTES - 1, MEM_READ | MEM_WRITE };
	fake.nr_maps = 1;
	fake.nr_handed = 0;
	memset(fake.nr_irqs, 0, sizeof(fake.nr_irqs));
	for (unsigned int qi = 0; qi < MAX_QUEUES; qi++) {
		static const uint32_t nums[] = { 16, 8, 4, 1, 0, 3, 32, 16 };
		uint8_t b = u8(&rd);
		struct kvq *v = &fake.vq[qi];

		*v = (struct kvq){
			.num = nums[b & 7],
			.desc = GUEST_IOVA + ring_off(qi),
			.driver = GUEST_IOVA + ring_off(qi) + 0x1000,
			.device = GUEST_IOVA + ring_off(qi) + 0x2000,
			.is_ready = !(b & 8),
			.kick_fd = -1,
		};
		/* Rings the daemon must refuse: misaligned or outside the memory. */
		if (b & 0x10)
			v->desc += 8;
		if (b & 0x20)
			v->device = GUEST_IOVA + MEMFD_BYTES - 8;
		if (b & 0x40)
			v->driver += 1;
	}
	d.blk = (struct blk_dev){
		.capacity_sectors = CAPACITY_SECTORS, .logical_block_size = 512,
		.physical_block_size = 512, .num_queues = fake.nr_queues,
		.queue_size = QUEUE_SIZE, .is_readonly = cfg & 4,
		.serial = "fuzz",
	};
	d.img.fd = -1;
	d.next_buf = BUFS_OFF;

	r = vduse_dev_init(&d.dev, DEV_NAME, &d.blk, &d.img, &backend_null, NULL);
	check(r == 0);
	r = vduse_dev_create(&d.dev);
	check(r == 0 && fake.is_created);

	for (unsigned int n = 0; n < MAX_OPS && has_more(&rd); n++) {
		switch (u8(&rd) % OP_COUNT) {
		case OP_STATUS:
			op_status(&rd);
			break;
		case OP_POST:
		case OP_POST2:
			op_post(&rd);
			break;
		case OP_WAIT:
			wait_done(1 + u8(&rd) % MAX_WAIT_MS);
			break;
		case OP_GET_STATE:
			op_get_state(&rd);
			break;
		case OP_IOTLB:
			op_iotlb(&rd);
			break;
		case OP_REMAP:
			op_remap(&rd);
			break;
		default:
			op_odd_message(&rd);
			break;
		}
	}
	/* Let what was posted finish, then check what came back. */
	wait_done(MAX_WAIT_MS);
	for (unsigned int qi = 0; qi < fake.nr_queues; qi++)
		reap(qi);

	if (verbose)
		fprintf(stderr, "fuzz_ctrl: pid %d: %zu bytes: %u completions, %u checked, %u+%u interrupts, %d log lines\n", (int)getpid(), size,
			d.nr_completed, d.nr_checked, fake.nr_irqs[0], fake.nr_irqs[1], fake.nr_log);
	check(vduse_dev_destroy(&d.dev) == 0);
	check(!fake.is_created);
	for (unsigned int qi = 0; qi < fake.nr_queues; qi++)
		check(fake.vq[qi].kick_fd < 0);
	if (fake.sock[1] >= 0)
		close(fake.sock[1]);
	fake.sock[0] = fake.sock[1] = -1;
	/* Nothing of the device left behind: mappings, fds. */
	check(fake.nr_mmaps == 0);
	check_no_new_fds();
	return 0;
}
