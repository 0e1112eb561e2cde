// SPDX-License-Identifier: GPL-2.0-or-later
/* The harness tests' fixture and the model of the image; see hcommon.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "hcommon.h"

static unsigned int nr_run, nr_skipped;

void hc_note_skip(const char *fmt, ...)
{
	va_list ap;

	nr_skipped++;
	va_start(ap, fmt);
	printf("[  SKIP    ] ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

void fixture_skip(struct fixture *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->skip_buf, sizeof(f->skip_buf), fmt, ap);
	va_end(ap);
	f->skip_reason = f->skip_buf;
}

void fixture_require(struct fixture *f)
{
	if (f->skip_reason)
		hc_skip("%s", f->skip_reason);
}

struct fixture *fixture_get(void **state)
{
	struct fixture *f = *state;

	fixture_require(f);
	return f;
}

static struct fixture the_fixture;

/* A fixture whose queue is not started (yet): no image, no fds. */
static struct fixture *fixture_reset(void **state)
{
	struct fixture *f = &the_fixture;

	nr_run++;
	memset(f, 0, sizeof(*f));
	f->h.img.fd = f->h.kick_fd = f->h.call_fd = -1;
	*state = f;
	return f;
}

int fixture_setup_skipped(void **state, const char *why)
{
	fixture_skip(fixture_reset(state), "%s", why);
	return 0;
}

bool hc_is_packed(void)
{
	const char *layout = getenv("HDRV_LAYOUT");

	if (layout && strcmp(layout, "packed") && strcmp(layout, "split")) {
		fprintf(stderr, "HDRV_LAYOUT=%s: want split or packed\n", layout);
		exit(1);
	}
	return layout && strcmp(layout, "packed") == 0;
}

/* Start the queue on f->path (created by the caller) with the options @opts. */
static int fixture_start(struct fixture *f, const struct hdrv_opts *opts)
{
	struct hdrv_opts copy = *opts, *o = &copy;
	int r;

	copy.is_packed = opts->is_packed || hc_is_packed();
	r = hdrv_start(&f->h, f->path, o);

	if (o->is_unpinnable && (r == -ENOSYS || r == -EPERM || r == -EAGAIN || r == -ENOMEM)) {
		hdrv_stop(&f->h);
		fixture_skip(f, "no memory the kernel refuses to pin: memfd_secret: %s "
			     "(secretmem disabled, or locked-memory limit)", strerror(-r));
		return 0;
	}
	if (r == -EINVAL && o->is_direct) {
		hdrv_stop(&f->h);
		fixture_skip(f, "the filesystem of %s does not support O_DIRECT (open: %s)",
			     f->path, strerror(-r));
		return 0;
	}
	if (r < 0) {
		print_error("starting the queue on %s: %s\n", f->path, strerror(-r));
		hdrv_stop(&f->h);
		unlink(f->path);
		f->path[0] = '\0';
		return -1;
	}
	/* The *_packed runs must really be on packed rings. */
	if (vq_layout(hvq(f)) != (copy.is_packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT)) {
		print_error("the queue runs %s rings, not the layout asked for\n",
			    vq_layout_name(vq_layout(hvq(f))));
		return -1;
	}
	return 0;
}

/* The common part of the setups: the fixture, the gate, the backend. */
static struct fixture *fixture_prepare(void **state, const struct hdrv_opts *o)
{
	const char *be = o->backend ? o->backend : "io_uring";
	struct fixture *f = fixture_reset(state);

	/* The gate (backend "null" with its own ops) models like null. */
	f->is_null = strcmp(be, "null") == 0;
	if (gate_reset() < 0)
		return NULL;
	memset(f->model, IMAGE_FILL, sizeof(f->model));
	if (!o->backend_ops && !backend_find(be))
		fixture_skip(f, "backend %s is not built in (have: %s)", be, backend_names());
	return f;
}

int fixture_setup_in(void **state, const char *dir)
{
	const struct hdrv_opts *o = *state;
	struct fixture *f = fixture_prepare(state, o);

	if (!f)
		return -1;
	if (f->skip_reason)
		return 0;
	if (hdrv_make_image_in(dir, f->path, sizeof(f->path), IMAGE_BYTES, IMAGE_FILL) < 0)
		return -1;
	return fixture_start(f, o);
}

int fixture_setup_image(void **state, const char *path)
{
	const struct hdrv_opts *o = *state;
	struct fixture *f = fixture_prepare(state, o);

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	if (f->skip_reason)
		return 0;
	return fixture_start(f, o);
}

int setup(void **state)
{
	return fixture_setup_in(state, NULL);
}

int teardown(void **state)
{
	struct fixture *f = *state;

	gate_open();   /* requests the gate holds must end for the queue to stop */
	hdrv_stop(&f->h);
	if (f->path[0])
		unlink(f->path);
	gate_close();
	return 0;
}

int hc_private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	/* Nothing mounted here propagates back to the parent namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

int hc_run(const char *name, const struct CMUnitTest *tests, size_t nr)
{
	int r = _cmocka_run_group_tests(name, tests, nr, NULL, NULL);

	if (r == 0 && nr_run && nr_skipped == nr_run)
		return 77;
	return r;
}

/* ---- data and the model ------------------------------------------------- */

void fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 0x9e3779b9u;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

void read_image(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

void check_image(struct fixture *f)
{
	static uint8_t buf[IMAGE_BYTES];

	read_image(f, 0, buf, sizeof(buf));
	assert_memory_equal(buf, f->model, sizeof(buf));
}

bool can_punch_holes(struct fixture *f)
{
	char path[sizeof(f->path) + 8];
	uint8_t buf[8192];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s.probe", f->path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
	close(fd);
	unlink(path);
	return ok;
}

void model_write(struct fixture *f, uint64_t sector, const void *data, size_t len)
{
	if (!f->is_null)
		memcpy(f->model + sector * 512, data, len);
}

void model_zero(struct fixture *f, uint64_t sector, size_t len)
{
	if (!f->is_null)
		memset(f->model + sector * 512, 0, len);
}

const uint8_t *expected(struct fixture *f, uint64_t sector, size_t len)
{
	static const uint8_t zeroes[IMAGE_BYTES];

	assert_true(sector * 512 + len <= IMAGE_BYTES);
	return f->is_null ? zeroes : f->model + sector * 512;
}
