// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-blk-test: output, data patterns and virtio-blk requests over vdrv.
 *
 * A request lives in the driver's arena: a 16-byte header, data buffers
 * (with a gap after each, so segments are never adjacent) and a status byte
 * preset to 0xff.  Completion is strict: a used id that is not a chain in
 * flight, a used index that jumps, or a completion without an interrupt all
 * fail the step.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "vhost-blk-test.h"

/* --- output ---------------------------------------------------------------- */

static void say(const char *tag, const char *fmt, va_list ap)
{
	printf("%s", tag);
	vprintf(fmt, ap);
	putchar('\n');
}

void ok(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	t->nr_ok++;
	va_start(ap, fmt);
	say("ok: ", fmt, ap);
	va_end(ap);
}

void fail(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	t->nr_fail++;
	va_start(ap, fmt);
	say("FAIL: ", fmt, ap);
	va_end(ap);
}

void skip(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	t->nr_skip++;
	va_start(ap, fmt);
	say("skip: ", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("# ", fmt, ap);
	va_end(ap);
}

void why(struct vbt *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
}

/* Prepend "<fmt>: " to t->why. */
void why_prefix(struct vbt *t, const char *fmt, ...)
{
	char buf[sizeof(t->why)];
	size_t n, rest;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	n = (size_t)len < sizeof(buf) - 3 ? (size_t)len : sizeof(buf) - 3;
	memcpy(buf + n, ": ", 2);
	n += 2;
	rest = strnlen(t->why, sizeof(t->why) - 1);
	if (rest > sizeof(buf) - 1 - n)
		rest = sizeof(buf) - 1 - n;
	memcpy(buf + n, t->why, rest);
	buf[n + rest] = 0;
	memcpy(t->why, buf, n + rest + 1);
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* --- data patterns ---------------------------------------------------------- */

void pattern_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, len - i < 8 ? len - i : 8);
	}
}

/* Compare @got with the pattern of @seed (0: zeroes); -1 if equal, else the first bad offset. */
long long pattern_diff(const void *got, size_t len, uint64_t seed)
{
	uint8_t *want = malloc(len ? len : 1);
	long long at = -1;

	if (!want)
		return 0;
	if (seed)
		pattern_fill(want, len, seed);
	else
		memset(want, 0, len);
	if (memcmp(got, want, len)) {
		const uint8_t *g = got;

		for (size_t i = 0; i < len; i++) {
			if (g[i] != want[i]) {
				at = (long long)i;
				break;
			}
		}
	}
	free(want);
	return at;
}

void expect_set(struct vbt *t, uint64_t sector, uint32_t len, uint64_t seed)
{
	for (unsigned int i = 0; i < t->nr_expects; i++) {
		if (t->expects[i].sector == sector && t->expects[i].len == len) {
			t->expects[i].seed = seed;
			return;
		}
	}
	if (t->nr_expects < MAX_EXPECT)
		t->expects[t->nr_expects++] = (struct expect){ sector, len, seed };
}

/* --- requests ----------------------------------------------------------------- */

static bool is_dev_write_type(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

int breq_init(struct vbt *t, struct breq *r, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h;

	memset(r, 0, sizeof(*r));
	r->type = type;
	r->sector = sector;
	r->hdr_off = vdrv_alloc(&t->d, sizeof(*h), 16);
	r->status_off = vdrv_alloc(&t->d, 1, 1);
	if (!r->hdr_off || !r->status_off) {
		why(t, "test memory exhausted");
		return -ENOSPC;
	}
	h = vdrv_ptr(&t->d, r->hdr_off);
	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(uint8_t *)vdrv_ptr(&t->d, r->status_off) = 0xff;
	return 0;
}

/* Add a data buffer of @len; reads start filled with FILL_READ. Returns its host address. */
uint8_t *breq_data(struct vbt *t, struct breq *r, uint32_t len)
{
	/* A gap after each buffer keeps segments apart in memory. */
	uint64_t off = vdrv_alloc(&t->d, len + 64, 512);

	if (!off || r->nr_data == MAX_SEGS) {
		why(t, "test memory exhausted");
		return NULL;
	}
	r->data[r->nr_data++] = (struct vdrv_buf){
		.off = off, .len = len, .is_dev_write = is_dev_write_type(r->type),
	};
	memset(vdrv_ptr(&t->d, off), FILL_READ, len + 64);
	return vdrv_ptr(&t->d, off);
}

uint8_t breq_status(struct vbt *t, const struct breq *r)
{
	return *(volatile uint8_t *)vdrv_ptr(&t->d, r->status_off);
}

/* Gather a request's data buffers (in order) into @out. */
static void breq_gather(struct vbt *t, const struct breq *r, uint8_t *out)
{
	for (unsigned int i = 0; i < r->nr_data; i++) {
		memcpy(out, vdrv_ptr(&t->d, r->data[i].off), r->data[i].len);
		out += r->data[i].len;
	}
}

static uint32_t breq_bytes(const struct breq *r)
{
	uint32_t n = 0;

	for (unsigned int i = 0; i < r->nr_data; i++)
		n += r->data[i].len;
	return n;
}

/* Put a request on the ring: header, data, status; or @bufs when given. */
static int breq_add(struct vbt *t, struct breq *r, const struct vdrv_buf *bufs, unsigned int nr)
{
	struct vdrv_buf b[MAX_SEGS + 2];
	int head;

	if (!bufs) {
		b[0] = (struct vdrv_buf){ .off = r->hdr_off, .len = sizeof(struct virtio_blk_outhdr) };
		memcpy(&b[1], r->data, r->nr_data * sizeof(b[0]));
		b[r->nr_data + 1] = (struct vdrv_buf){ .off = r->status_off, .len = 1, .is_dev_write = true };
		bufs = b;
		nr = r->nr_data + 2;
	}
	head = vdrv_add_chain(&t->d, bufs, nr, r->is_indirect, r);
	if (head < 0)
		why(t, "no room on the ring or in test memory for a %u-buffer chain", nr);
	return head < 0 ? head : 0;
}

/* Wait until every request in @reqs is done (or the timeout). */
static int wait_all(struct vbt *t, struct breq **reqs, unsigned int n)
{
	long long deadline = now_ms() + t->o.timeout_ms;

	for (;;) {
		struct vdrv_used u;
		unsigned int nr_done = 0;
		int r;

		while ((r = vdrv_get_used(&t->d, &u)) != 0) {
			if (r < 0) {
				if (u.id == UINT32_MAX)
					why(t, "used->idx jumped to %u, more than the ring size past %u",
					    u.len, t->d.vq.last_used);
				else
					why(t, "device returned used id %u (len %u), not the head of a chain in flight",
					    u.id, u.len);
				t->is_stuck = true;
				return -EPROTO;
			}
			if (u.owner) {
				struct breq *b = u.owner;

				b->is_done = true;
				b->used_len = u.len;
			}
		}
		for (unsigned int i = 0; i < n; i++)
			nr_done += reqs[i]->is_done;
		if (nr_done == n)
			return 0;
		if (vdrv_arm_call(&t->d))
			continue;
		r = vdrv_wait_call(&t->d, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
		if (r == -ETIMEDOUT) {
			t->is_stuck = true;
			if (vdrv_used_idx(&t->d) != t->d.vq.last_used)
				why(t, "used entries arrived but no interrupt (call eventfd) within %d ms",
				    t->o.timeout_ms);
			else
				why(t, "no completion within %d ms: %u of %u done, used idx %u, avail idx %u, %llu kicks (%llu suppressed by the device)",
				    t->o.timeout_ms, nr_done, n, vdrv_used_idx(&t->d), t->d.vq.avail_idx,
				    (unsigned long long)t->d.vq.nr_kicks,
				    (unsigned long long)t->d.vq.nr_kicks_suppressed);
			return r;
		}
		if (r < 0) {
			why(t, "waiting for the call eventfd: %s", strerror(-r));
			return r;
		}
	}
}

/* One request with its own buffer layout: add, publish, wait. */
int breq_run_layout(struct vbt *t, struct breq *r, const struct vdrv_buf *bufs, unsigned int nr)
{
	int ret = breq_add(t, r, bufs, nr);

	if (ret < 0) {
		vdrv_drop_unpublished(&t->d);
		return ret;
	}
	vdrv_publish(&t->d);
	return wait_all(t, &r, 1);
}

int breq_submit(struct vbt *t, struct breq **reqs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		int r = breq_add(t, reqs[i], NULL, 0);

		if (r < 0) {
			vdrv_drop_unpublished(&t->d);
			return r;
		}
	}
	vdrv_publish(&t->d);
	return 0;
}

/* Add, publish once, wait.  A batch that does not fit is not sent at all. */
int breq_run(struct vbt *t, struct breq **reqs, unsigned int n)
{
	int r = breq_submit(t, reqs, n);

	return r < 0 ? r : wait_all(t, reqs, n);
}

int breq_wait(struct vbt *t, struct breq **reqs, unsigned int n)
{
	return wait_all(t, reqs, n);
}

static int breq_run1(struct vbt *t, struct breq *r)
{
	return breq_run(t, &r, 1);
}

/* Status and used length as expected?  Sets t->why when not. */
bool breq_done_as(struct vbt *t, const struct breq *r, uint8_t status, uint32_t used_len)
{
	uint8_t got = breq_status(t, r);

	if (got != status) {
		why(t, "status %u, expected %u", got, status);
		return false;
	}
	if (used_len != UINT32_MAX && r->used_len != used_len) {
		why(t, "used length %u, expected %u", r->used_len, used_len);
		return false;
	}
	return true;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return "READ";
	case VIRTIO_BLK_T_OUT: return "WRITE";
	case VIRTIO_BLK_T_FLUSH: return "FLUSH";
	case VIRTIO_BLK_T_GET_ID: return "GET_ID";
	case VIRTIO_BLK_T_WRITE_ZEROES: return "WRITE_ZEROES";
	default: return "request";
	}
}

/*
 * Run one request and check its status (and used length unless UINT32_MAX);
 * on failure t->why says what went wrong.
 */
bool breq_do(struct vbt *t, struct breq *r, uint8_t status, uint32_t used_len)
{
	if (breq_run1(t, r) == 0 && breq_done_as(t, r, status, used_len))
		return true;
	why_prefix(t, "%s at sector %llu", type_name(r->type), (unsigned long long)r->sector);
	return false;
}

/* WRITE @len bytes of pattern @seed at @sector, one data buffer per entry of @segs. */
bool write_pattern(struct vbt *t, uint64_t sector, const uint32_t *segs, unsigned int nr,
			  uint64_t seed, bool is_indirect)
{
	struct breq w;
	uint32_t len = 0;
	uint8_t *all, *p;
	bool is_ok;

	for (unsigned int i = 0; i < nr; i++)
		len += segs[i];
	if (breq_init(t, &w, VIRTIO_BLK_T_OUT, sector) < 0)
		return false;
	all = malloc(len);
	if (!all) {
		why(t, "out of memory");
		return false;
	}
	pattern_fill(all, len, seed);
	p = all;
	for (unsigned int i = 0; i < nr; i++) {
		uint8_t *d = breq_data(t, &w, segs[i]);

		if (!d) {
			free(all);
			return false;
		}
		memcpy(d, p, segs[i]);
		p += segs[i];
	}
	free(all);
	w.is_indirect = is_indirect;
	is_ok = breq_do(t, &w, VIRTIO_BLK_S_OK, 1);
	if (is_ok)
		expect_set(t, sector, len, seed);
	return is_ok;
}

/* READ into buffers of @segs at @sector and compare with pattern @seed (0: zeroes). */
bool read_compare(struct vbt *t, uint64_t sector, const uint32_t *segs, unsigned int nr,
			 uint64_t seed, bool is_indirect)
{
	struct breq rd;
	uint8_t *all;
	long long at;

	if (breq_init(t, &rd, VIRTIO_BLK_T_IN, sector) < 0)
		return false;
	for (unsigned int i = 0; i < nr; i++)
		if (!breq_data(t, &rd, segs[i]))
			return false;
	rd.is_indirect = is_indirect;
	if (!breq_do(t, &rd, VIRTIO_BLK_S_OK, breq_bytes(&rd) + 1))
		return false;
	all = malloc(breq_bytes(&rd));
	if (!all) {
		why(t, "out of memory");
		return false;
	}
	breq_gather(t, &rd, all);
	at = pattern_diff(all, breq_bytes(&rd), seed);
	free(all);
	if (at >= 0) {
		why(t, "READ at sector %llu: data differs from what was written, first at byte %lld",
		    (unsigned long long)sector, at);
		return false;
	}
	return true;
}

bool flush_dev(struct vbt *t)
{
	struct breq f;

	if (breq_init(t, &f, VIRTIO_BLK_T_FLUSH, 0) < 0)
		return false;
	return breq_do(t, &f, VIRTIO_BLK_S_OK, 1);
}

/* Compare every known range of the image file with what we wrote. */
bool image_matches(struct vbt *t, unsigned int *ret_nr)
{
	*ret_nr = 0;
	for (unsigned int i = 0; i < t->nr_expects; i++) {
		const struct expect *e = &t->expects[i];
		uint8_t *buf = malloc(e->len);
		long long at;
		ssize_t n;

		if (!buf) {
			why(t, "out of memory");
			return false;
		}
		n = pread(t->img_fd, buf, e->len, (off_t)(e->sector * 512));
		if (n != (ssize_t)e->len) {
			why(t, "reading %u bytes of the image at sector %llu: %s", e->len,
			    (unsigned long long)e->sector, n < 0 ? strerror(errno) : "short read");
			free(buf);
			return false;
		}
		at = pattern_diff(buf, e->len, e->seed);
		free(buf);
		if (at >= 0) {
			why(t, "image file at sector %llu (+%lld bytes) does not hold what the device acknowledged",
			    (unsigned long long)e->sector, at);
			return false;
		}
		(*ret_nr)++;
	}
	return true;
}
