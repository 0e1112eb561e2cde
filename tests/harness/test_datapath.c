// SPDX-License-Identifier: GPL-2.0-or-later
/* The real data path (vq + blk + backend) against a real image, driven in process. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hdrv.h"

#define IMAGE_BYTES (1u << 20)

struct fixture {
	char path[256];
	struct hdrv h;
};

static int setup_backend(void **state, const char *backend)
{
	static struct fixture f;
	struct hdrv_opts o = { .queue_size = 64, .backend = backend };

	memset(&f, 0, sizeof(f));
	if (hdrv_make_image(f.path, sizeof(f.path), IMAGE_BYTES, 0x5a) < 0)
		return -1;
	if (hdrv_start(&f.h, f.path, &o) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int setup_uring(void **state)
{
	return setup_backend(state, "io_uring");
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	hdrv_stop(&f->h);
	unlink(f->path);
	return 0;
}

static void read_image(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void round_trip(struct fixture *f, uint64_t sector)
{
	uint8_t wbuf[4096], rbuf[4096], img[4096];
	uint32_t len;

	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7 + sector);
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_OUT, sector, wbuf, sizeof(wbuf), &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	read_image(f, sector * 512, img, sizeof(img));
	assert_memory_equal(img, wbuf, sizeof(wbuf));
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(hdrv_blk_do(&f->h, VIRTIO_BLK_T_IN, sector, rbuf, sizeof(rbuf), &len),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(len, sizeof(rbuf) + 1);
	assert_memory_equal(rbuf, wbuf, sizeof(wbuf));
}

static void test_rw_first_sector(void **state)
{
	round_trip(*state, 0);
}

static void test_rw_last_sectors(void **state)
{
	round_trip(*state, IMAGE_BYTES / 512 - 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rw_first_sector, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_rw_last_sectors, setup_uring, teardown),
	};

	return cmocka_run_group_tests_name("datapath", tests, NULL, NULL);
}
