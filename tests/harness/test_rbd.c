// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rbd backend against a real Ceph cluster: the harness plays the driver
 * on the real data path (vq + blk + backends/rbd.c) while tests/ceph/
 * cluster.sh runs a throwaway monitor and memstore OSD on loopback.
 *
 * Round trips, many segments, FLUSH, DISCARD of a whole object and
 * WRITE_ZEROES of part of one read back as zeroes, I/O across the 4 MiB
 * object boundary and at the image's end, every write checked through a
 * librbd handle of the test's own; a snapshot served read-only; the seccomp
 * filter on; then the OSD is stopped mid-run (requests complete with IOERR,
 * the queue keeps serving, the failure is logged once) and started again
 * (requests succeed, the data written before is there).
 *
 * Exit 77 with the reason when this build has no librbd or the Ceph
 * packages are missing (scripts/install-deps.sh installs them).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "ctl/ctl.h"
#include "ctl_ask.h"
#include "hdrv.h"
#include "hio.h"
#include "sandbox/sandbox.h"

#if HAVE_LIBRBD
#include <rados/librados.h>
#include <rbd/librbd.h>

#define IMAGE_MIB 64u
#define IMAGE_BYTES ((uint64_t)IMAGE_MIB << 20)
#define IMAGE_SECTORS (IMAGE_BYTES / 512u)
#define OBJECT_BYTES (4u << 20)
#define OSD_DOWN_WAIT_MS 30000   /* rados osd op timeout in cluster.sh is 3 s */

static char cluster_dir[PATH_MAX];
static char ceph_conf[PATH_MAX + 16];
static char cluster_sh[PATH_MAX];
static rados_t test_cluster;
static rados_ioctx_t test_ioctx;
static rbd_image_t test_image;   /* the test's own view of the image */

/* The harness's rbd backend on the test's cluster; the filter a daemon serving it runs. */
#define RBD_OPTS .backend_opts = { { "ceph-conf", ceph_conf } }
#define RBD_SYSCALLS .backend_syscalls = backend_find("rbd")->syscalls, \
		     .nr_backend_syscalls = backend_find("rbd")->nr_syscalls

static int cluster(const char *cmd)
{
	char line[3 * PATH_MAX];
	int st;

	snprintf(line, sizeof(line), "'%s' %s '%s' %u", cluster_sh, cmd, cluster_dir, IMAGE_MIB);
	st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static struct hdrv *start(void)
{
	struct hdrv *h = calloc(1, sizeof(*h));
	struct hdrv_opts o = { .queue_size = 64, .backend = "rbd", RBD_OPTS };

	assert_non_null(h);
	assert_int_equal(hdrv_start(h, "rbd/disk0", &o), 0);
	assert_int_equal(h->img.size_bytes, IMAGE_BYTES);
	return h;
}

static void stop(struct hdrv *h)
{
	assert_int_equal(hdrv_stop(h), 0);
	free(h);
}

/* What the cluster holds, read through the test's own handle. */
static void assert_image(uint64_t off, const void *want, size_t len)
{
	uint8_t *got = malloc(len);

	assert_non_null(got);
	assert_int_equal(rbd_read(test_image, off, len, (char *)got), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* hio_check_fn: the cluster holds @want at @off. */
static void check_image(void *ctx, uint64_t off, const void *want, size_t len)
{
	(void)ctx;
	assert_image(off, want, len);
}

static void round_trip(struct hdrv *h, uint64_t sector, uint32_t len, unsigned int seed)
{
	hio_round_trip(h, sector, len, seed, check_image, NULL);
}

static void test_round_trip(void **state)
{
	struct hdrv *h = start();

	(void)state;
	round_trip(h, 0, 4096, 1);
	round_trip(h, 9, 512, 2);           /* one sector, not 4 KiB aligned */
	round_trip(h, 1000, 128 << 10, 3);  /* 128 KiB */
	stop(h);
}

static const uint32_t seg_sizes[8] = { 512, 1024, 4096, 8192, 1536, 2048, 512, 3584 };

/* WRITE from 8 buffers, READ into 8 buffers, sizes in the reverse order. */
static void test_multi_segment(void **state)
{
	struct hdrv *h = start();

	(void)state;
	hio_multi_segment(h, 2048, seg_sizes, 8, 4, check_image, NULL);
	stop(h);
}

static void test_many_in_flight(void **state)
{
	struct hdrv *h = start();

	(void)state;
	hio_many_in_flight(h, 4096, 20, check_image, NULL);
	stop(h);
}

static void test_flush(void **state)
{
	struct hdrv *h = start();

	(void)state;
	round_trip(h, 64, 8192, 5);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	stop(h);
}

static void test_discard_write_zeroes(void **state)
{
	struct hdrv *h = start();
	const uint64_t obj = 2 * OBJECT_BYTES / 512;     /* the third object */
	uint8_t *zeroes = calloc(1, 64 << 10);

	(void)state;
	assert_non_null(zeroes);
	/* WRITE_ZEROES of part of an object: librbd writes zeroes, reads return them. */
	round_trip(h, obj + 16, 64 << 10, 6);
	assert_int_equal(hio_dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, obj + 24, 64, false),
			 VIRTIO_BLK_S_OK);
	assert_image((obj + 24) * 512, zeroes, 64 * 512);
	hio_read_expect(h, obj + 24, zeroes, 64 * 512);
	/* The sectors beside the range keep their data. */
	{
		uint8_t *data = malloc(64 << 10);

		assert_non_null(data);
		hio_fill(data, 64 << 10, 6);
		assert_image((obj + 16) * 512, data, 8 * 512);
		assert_image((obj + 88) * 512, data + 72 * 512, (64 << 10) - 72 * 512);
		free(data);
	}
	/* DISCARD of a whole object: the object goes, reads return zeroes. */
	round_trip(h, obj + OBJECT_BYTES / 512, 64 << 10, 7);
	assert_int_equal(hio_dwz(h, VIRTIO_BLK_T_DISCARD, obj + OBJECT_BYTES / 512,
				 OBJECT_BYTES / 512, false), VIRTIO_BLK_S_OK);
	assert_image((obj + OBJECT_BYTES / 512) * 512, zeroes, 64 << 10);
	hio_read_expect(h, obj + OBJECT_BYTES / 512, zeroes, 64 << 10);
	free(zeroes);
	stop(h);
}

static void test_object_boundary_and_end(void **state)
{
	struct hdrv *h = start();
	uint8_t buf[4096];
	uint32_t used;

	(void)state;
	/* 64 KiB across the boundary between the first and second objects. */
	round_trip(h, OBJECT_BYTES / 512 - 64, 64 << 10, 8);
	/* The last 8 sectors, and the very last alone. */
	round_trip(h, IMAGE_SECTORS - 8, 4096, 9);
	round_trip(h, IMAGE_SECTORS - 1, 512, 10);
	/* Past the end: IOERR, decided before the backend. */
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 4, buf, 4096, &used),
			 VIRTIO_BLK_S_IOERR);
	stop(h);
}

/* Until the daemon's own handle sees the image at @bytes (librbd refreshes on notification). */
static void wait_daemon_size(struct hdrv *h, uint64_t bytes)
{
	uint64_t size = 0;

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(h->be->get_size(&h->img, &size), 0);
		if (size == bytes)
			return;
		usleep(10000);
	}
	fail_msg("the daemon's handle still sees %llu bytes, not %llu",
		 (unsigned long long)size, (unsigned long long)bytes);
}

/*
 * Someone else shrinks the image (rbd resize --allow-shrink) while the
 * device still has its old capacity: librbd clips I/O at the new end, and
 * a READ or WRITE across it must not come back OK with its tail missing.
 */
static void test_shrunk_by_someone_else(void **state)
{
	struct hdrv *h = start();
	uint8_t buf[8192], tail[4096];
	uint32_t used;

	(void)state;
	hio_fill(buf, sizeof(buf), 18);
	hio_write_ok(h, IMAGE_SECTORS - 16, buf, sizeof(buf));
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES - 4096), 0);
	wait_daemon_size(h, IMAGE_BYTES - 4096);
	/* Across the new end: IOERR, the device still thinks it is there. */
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 16, buf, sizeof(buf),
				     &used), VIRTIO_BLK_S_IOERR);
	hio_fill(buf, sizeof(buf), 19);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 16, buf, sizeof(buf),
				     NULL), VIRTIO_BLK_S_IOERR);
	hio_fill(tail, sizeof(tail), 20);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 8, tail, sizeof(tail),
				     NULL), VIRTIO_BLK_S_IOERR);
	/* Wholly inside: as before. */
	round_trip(h, IMAGE_SECTORS - 24, 4096, 21);
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES), 0);
	wait_daemon_size(h, IMAGE_BYTES);
	stop(h);
}

/* The backend tells when someone else resized the image: its size eventfd. */
static void test_size_watch(void **state)
{
	struct hdrv *h = start();
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t size, v;

	(void)state;
	assert_true(efd >= 0);
	assert_non_null(h->be->watch_size);
	assert_int_equal(h->be->watch_size(&h->img, efd), 0);
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES + (8u << 20)), 0);
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(eventfd_read(efd, &v), 0);
	wait_daemon_size(h, IMAGE_BYTES + (8u << 20));
	assert_int_equal(h->be->get_size(&h->img, &size), 0);
	assert_int_equal(size, IMAGE_BYTES + (8u << 20));
	h->be->unwatch_size(&h->img);
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES), 0);
	wait_daemon_size(h, IMAGE_BYTES);
	stop(h);
	close(efd);
}

/*
 * vduse-blkctl resize on an rbd image, through the daemon's control socket
 * (src/ctl/): the image is resized in the cluster, a shrink too, and the
 * reply says what happened.  Then someone else resizes it: the device
 * follows and the driver is told.  No kernel here: the driver is "told"
 * through a counter.
 */
static int nr_config_changes;

static int count_config_change(struct vduse_dev *dev)
{
	(void)dev;
	nr_config_changes++;
	return 0;
}

/* One request; the loop runs until the reply is in.  Returns the reply's result. */
static int ctl_ask(struct ctl_server *s, const char *req)
{
	struct json_object *obj;
	int r = ctl_ask_reply(s, ctl_ask_send(s, req), 30000, &obj);

	json_object_put(obj);
	return r;
}

/* Run the loop until the device has @sectors, at most 10 s. */
static void ctl_wait_capacity(struct ctl_server *s, struct hdrv *h, uint64_t sectors)
{
	for (int i = 0; i < 100 && blk_dev_capacity(&h->dev) != sectors; i++)
		ctl_ask_pump(s, 100);
	assert_int_equal(blk_dev_capacity(&h->dev), sectors);
}

static void test_resize_through_the_socket(void **state)
{
	struct hdrv *h = start();
	struct vduse_dev dev = { .fd = -1 };
	struct ctl_server s;
	uint64_t size;
	uint8_t buf[4096];

	(void)state;
	nr_config_changes = 0;
	assert_int_equal(ctl_server_open(&s, cluster_dir, &(struct ctl_target){
		.name = "disk0", .image_path = "rbd:rbd/disk0", .backend_name = "rbd",
		.dev = &dev, .blk = &h->dev, .img = &h->img, .be = h->be,
		.config_changed = count_config_change }, NULL, false), 0);
	/* A shrink: the cluster's image shrinks, the reply says so. */
	assert_int_equal(ctl_ask(&s, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":50331648,"
				 "\"shrink\":true}\n"), 0);
	assert_int_equal(rbd_get_size(test_image, &size), 0);
	assert_int_equal(size, 48u << 20);
	assert_int_equal(blk_dev_capacity(&h->dev), (48u << 20) / 512);
	assert_int_equal(nr_config_changes, 1);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_IN, (48u << 20) / 512, buf, sizeof(buf),
				     NULL), VIRTIO_BLK_S_IOERR);
	/* And back. */
	assert_int_equal(ctl_ask(&s, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":67108864}\n"), 0);
	assert_int_equal(rbd_get_size(test_image, &size), 0);
	assert_int_equal(size, IMAGE_BYTES);
	assert_int_equal(blk_dev_capacity(&h->dev), IMAGE_SECTORS);
	assert_int_equal(nr_config_changes, 2);
	round_trip(h, IMAGE_SECTORS - 8, 4096, 23);
	/* Someone else grows and shrinks it: the device follows, the driver is told. */
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES + (4u << 20)), 0);
	ctl_wait_capacity(&s, h, IMAGE_SECTORS + (4u << 20) / 512);
	assert_int_equal(nr_config_changes, 3);
	assert_int_equal(rbd_resize(test_image, IMAGE_BYTES), 0);
	ctl_wait_capacity(&s, h, IMAGE_SECTORS);
	assert_int_equal(nr_config_changes, 4);
	ctl_server_close(&s);
	stop(h);
}

/* A snapshot is served read-only, with the data it was taken with. */
static void test_snapshot(void **state)
{
	struct hdrv_opts o = { .queue_size = 64, .backend = "rbd", RBD_OPTS,
			       .is_readonly = true };
	uint8_t then[8192], now[8192];
	struct hdrv *h = start(), *hs = calloc(1, sizeof(*hs));

	(void)state;
	assert_non_null(hs);
	hio_fill(then, sizeof(then), 16);
	hio_write_ok(h, 900, then, sizeof(then));
	assert_int_equal(rbd_snap_create(test_image, "s1"), 0);
	hio_fill(now, sizeof(now), 17);
	hio_write_ok(h, 900, now, sizeof(now));
	stop(h);

	assert_int_equal(hdrv_start(hs, "rbd/disk0@s1", &o), 0);
	assert_true(hs->img.is_readonly);
	hio_read_expect(hs, 900, then, sizeof(then));
	assert_int_equal(hdrv_blk_do(hs, VIRTIO_BLK_T_OUT, 900, now, sizeof(now), NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(hdrv_blk_do(hs, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	stop(hs);
	assert_image(900 * 512, now, sizeof(now));
	assert_int_equal(rbd_snap_remove(test_image, "s1"), 0);
}

static void test_osd_down_and_back(void **state)
{
	char log_path[PATH_MAX + 32];
	int saved_stderr, log_fd;
	struct hdrv *h = start();
	uint8_t before[8192], buf[8192], id[VIRTIO_BLK_ID_BYTES];
	int rc = -1;

	(void)state;
	hio_fill(before, sizeof(before), 11);
	hio_write_ok(h, 300, before, sizeof(before));
	/* What the daemon logs from here on, to count it. */
	snprintf(log_path, sizeof(log_path), "%s/test-log.txt", cluster_dir);
	fflush(stderr);
	saved_stderr = dup(2);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved_stderr >= 0 && log_fd >= 0);
	assert_true(dup2(log_fd, 2) == 2);
	close(log_fd);
	assert_int_equal(cluster("stop-osd"), 0);

	/* Writes and reads fail with IOERR once librbd gives up (rados osd op timeout). */
	hio_fill(buf, sizeof(buf), 12);
	assert_int_equal(hio_do_slow(h, VIRTIO_BLK_T_OUT, 600, buf, sizeof(buf), OSD_DOWN_WAIT_MS),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(hio_do_slow(h, VIRTIO_BLK_T_IN, 300, buf, sizeof(buf), OSD_DOWN_WAIT_MS),
			 VIRTIO_BLK_S_IOERR);
	/* The queue still serves: GET_ID needs no cluster. */
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), NULL),
			 VIRTIO_BLK_S_OK);
	assert_true(h->is_running);

	assert_int_equal(cluster("start-osd"), 0);
	/* Until the PGs peer, a request may still time out: a few tries. */
	for (int i = 0; i < 10 && rc != VIRTIO_BLK_S_OK; i++)
		rc = hio_do_slow(h, VIRTIO_BLK_T_IN, 300, buf, sizeof(buf), OSD_DOWN_WAIT_MS);
	assert_int_equal(rc, VIRTIO_BLK_S_OK);
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	assert_memory_equal(buf, before, sizeof(before));
	round_trip(h, 600, 8192, 13);
	stop(h);
	hio_show_file(log_path);
	/* The backend said once that requests fail and once that they succeed again. */
	assert_int_equal(hio_count_lines(log_path, "requests fail: Connection timed out"), 1);
	assert_int_equal(hio_count_lines(log_path, "requests succeed again"), 1);
}

/*
 * The seccomp sandbox (the daemon's default) with the rbd backend: librbd's
 * threads serve under it, and a queue started after it (a device reset)
 * and a connection made under it (a live upgrade's new image) work too.
 * In a fresh process (this program again: a fork of a process that runs
 * librbd's threads may inherit their locks held); a forbidden call kills it
 * with SIGSYS after naming the call on stderr.
 */
/* Outside cmocka's runner: say what failed and return nonzero. */
#define CHILD_CHECK(cond)                                                             \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "test_rbd: sandboxed child: %s failed (line %d)\n", \
				#cond, __LINE__);                                     \
			return 1;                                                     \
		}                                                                     \
	} while (0)

/* A write and a read back of @len bytes at @sector through the queue. */
static int child_round_trip(struct hdrv *h, uint64_t sector, uint8_t *buf, uint32_t len)
{
	uint8_t *got = malloc(len);

	CHILD_CHECK(got);
	CHILD_CHECK(hdrv_blk_do(h, VIRTIO_BLK_T_OUT, sector, buf, len, NULL) == VIRTIO_BLK_S_OK);
	CHILD_CHECK(hdrv_blk_do(h, VIRTIO_BLK_T_IN, sector, got, len, NULL) == VIRTIO_BLK_S_OK);
	CHILD_CHECK(memcmp(got, buf, len) == 0);
	free(got);
	return 0;
}

static int sandboxed_child(void)
{
	struct sandbox_opts so = { RBD_SYSCALLS, .may_exec = true };
	struct hdrv_opts o = { .queue_size = 64, .backend = "rbd", RBD_OPTS };
	struct hdrv h;
	uint8_t buf[8192];
	int r;

	alarm(60);
	hio_fill(buf, sizeof(buf), 14);
	CHILD_CHECK((r = hdrv_start(&h, "rbd/disk0", &o)) == 0);
	CHILD_CHECK((r = sandbox_seccomp_apply(&so)) >= 0);
	CHILD_CHECK(child_round_trip(&h, 700, buf, sizeof(buf)) == 0);
	CHILD_CHECK(hdrv_blk_do(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL) == VIRTIO_BLK_S_OK);
	CHILD_CHECK(hdrv_stop(&h) == 0);
	/* A new connection and queue under the filter. */
	CHILD_CHECK((r = hdrv_start(&h, "rbd/disk0", &o)) == 0);
	CHILD_CHECK(child_round_trip(&h, 800, buf, 4096) == 0);
	CHILD_CHECK(hdrv_stop(&h) == 0);
	return 0;
}

static void test_sandboxed(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_rbd", "--sandboxed-child", ceph_conf, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the sandboxed child died of signal %d (SIGSYS: see the call it named)",
			 WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * This program again as a child in @mode (a fresh process: a fork of one
 * that runs librbd's threads may inherit their locks held), its stdin and
 * stdout pipes to the parent: it writes to to_child[1], reads from_child[0].
 */
static pid_t spawn_child(const char *mode, const char *arg, int to_child[2], int from_child[2])
{
	pid_t pid;

	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from_child, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(to_child[0], STDIN_FILENO);
		dup2(from_child[1], STDOUT_FILENO);
		execl("/proc/self/exe", "test_rbd", mode, ceph_conf, arg, (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	return pid;
}

/*
 * librados' admin socket on a normal start (the image opened before the
 * filter): whoever connects to it (a monitoring agent, `ceph --admin-daemon
 * ... version`) must not kill the daemon.  The child opens the image with
 * the admin socket ceph.conf asks for at @asok, goes under the filter,
 * says so on stdout and waits for a byte on stdin; the parent talks to the
 * socket meanwhile, if there is one.
 */
static int admin_socket_child(const char *asok)
{
	struct sandbox_opts so = { RBD_SYSCALLS, .may_exec = true };
	struct hdrv_opts o = { .queue_size = 64, .backend = "rbd", RBD_OPTS };
	char args[PATH_MAX + 32], go;
	uint8_t buf[4096];
	struct hdrv h;

	alarm(60);
	snprintf(args, sizeof(args), "--admin-socket %s", asok);
	setenv("CEPH_ARGS", args, 1);
	hio_fill(buf, sizeof(buf), 22);
	CHILD_CHECK(hdrv_start(&h, "rbd/disk0", &o) == 0);
	CHILD_CHECK(sandbox_seccomp_apply(&so) >= 0);
	CHILD_CHECK(write(STDOUT_FILENO, "r", 1) == 1);
	CHILD_CHECK(read(STDIN_FILENO, &go, 1) == 1);
	CHILD_CHECK(child_round_trip(&h, 1100, buf, sizeof(buf)) == 0);
	CHILD_CHECK(hdrv_stop(&h) == 0);
	return 0;
}

/* One admin socket command ("version"), as the ceph tool sends it; the reply is not checked. */
static bool admin_socket_ask(const char *asok)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char cmd[] = "{\"prefix\": \"version\"}";
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char reply[256];
	bool is_connected;

	assert_true(fd >= 0 && strlen(asok) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, asok, strlen(asok) + 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	is_connected = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (is_connected && write(fd, cmd, sizeof(cmd)) == sizeof(cmd))
		(void)!read(fd, reply, sizeof(reply));
	close(fd);
	return is_connected;
}

static void test_admin_socket_connection(void **state)
{
	char asok[PATH_MAX + 32], r;
	int to_child[2], from_child[2], st;
	pid_t pid;

	(void)state;
	snprintf(asok, sizeof(asok), "%s/run/vdb-child.asok", cluster_dir);
	pid = spawn_child("--admin-socket-child", asok, to_child, from_child);
	assert_int_equal(read(from_child[0], &r, 1), 1);
	print_message("admin socket %s: %s\n", asok,
		      admin_socket_ask(asok) ? "answered a connection" : "none");
	assert_int_equal(write(to_child[1], "g", 1), 1);
	close(to_child[1]);
	close(from_child[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the daemon's side died of signal %d when its admin socket was "
			 "contacted (SIGSYS: see the call it named)", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * The cluster goes away and comes back while the daemon's side runs under
 * its filter in record mode (every thread, librbd's messenger included):
 * librbd reconnects, requests fail and then succeed, and nothing it did on
 * the way was a call the allowlist refuses.  The parent stops and starts
 * the OSD when the child says so on stdout.
 */
static int reconnect_child(void)
{
	struct sandbox_opts so = { RBD_SYSCALLS, .may_exec = true, .is_recording = true,
				   .record_fd = -1 };
	struct hdrv_opts o = { .queue_size = 64, .backend = "rbd", RBD_OPTS };
	uint8_t buf[4096];
	struct hdrv h;
	char go;
	int st = -1;

	alarm(120);
	hio_fill(buf, sizeof(buf), 24);
	CHILD_CHECK(hdrv_start(&h, "rbd/disk0", &o) == 0);
	CHILD_CHECK(sandbox_seccomp_apply(&so) == 0);
	CHILD_CHECK(child_round_trip(&h, 1200, buf, sizeof(buf)) == 0);
	CHILD_CHECK(write(STDOUT_FILENO, "d", 1) == 1);
	CHILD_CHECK(read(STDIN_FILENO, &go, 1) == 1);      /* the OSD is down */
	CHILD_CHECK(hio_do_slow(&h, VIRTIO_BLK_T_IN, 1200, buf, sizeof(buf), OSD_DOWN_WAIT_MS) ==
		    VIRTIO_BLK_S_IOERR);
	CHILD_CHECK(write(STDOUT_FILENO, "u", 1) == 1);
	CHILD_CHECK(read(STDIN_FILENO, &go, 1) == 1);      /* and up again */
	for (int i = 0; i < 10 && st != VIRTIO_BLK_S_OK; i++)
		st = hio_do_slow(&h, VIRTIO_BLK_T_IN, 1200, buf, sizeof(buf), OSD_DOWN_WAIT_MS);
	CHILD_CHECK(st == VIRTIO_BLK_S_OK);
	CHILD_CHECK(child_round_trip(&h, 1300, buf, sizeof(buf)) == 0);
	CHILD_CHECK(hdrv_stop(&h) == 0);
	if (sandbox_seccomp_nr_recorded()) {
		fprintf(stderr, "test_rbd: %lu forbidden call(s) recorded (named above)\n",
			sandbox_seccomp_nr_recorded());
		return 1;
	}
	return 0;
}

static void test_reconnect_under_the_filter(void **state)
{
	int to_child[2], from_child[2], st;
	char c;
	pid_t pid;

	(void)state;
	pid = spawn_child("--reconnect-child", NULL, to_child, from_child);
	if (read(from_child[0], &c, 1) == 1) {
		assert_int_equal(cluster("stop-osd"), 0);
		assert_int_equal(write(to_child[1], "g", 1), 1);
		if (read(from_child[0], &c, 1) == 1) {
			assert_int_equal(cluster("start-osd"), 0);
			assert_int_equal(write(to_child[1], "g", 1), 1);
		}
	}
	close(to_child[1]);
	close(from_child[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the daemon's side died of signal %d", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int group_setup(void **state)
{
	(void)state;
	if (rados_create(&test_cluster, NULL) < 0 ||
	    rados_conf_read_file(test_cluster, ceph_conf) < 0 ||
	    rados_connect(test_cluster) < 0 ||
	    rados_ioctx_create(test_cluster, "rbd", &test_ioctx) < 0 ||
	    rbd_open(test_ioctx, "disk0", &test_image, NULL) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rbd_close(test_image);
	rados_ioctx_destroy(test_ioctx);
	rados_shutdown(test_cluster);
	return 0;
}

/* Killed (meson's timeout): the cluster's daemons must not outlive the test. */
static void on_signal(int sig)
{
	(void)sig;
	cluster("stop");
	_exit(1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_multi_segment),
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_object_boundary_and_end),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_shrunk_by_someone_else),
		cmocka_unit_test(test_size_watch),
		cmocka_unit_test(test_resize_through_the_socket),
		cmocka_unit_test(test_sandboxed),
		cmocka_unit_test(test_admin_socket_connection),
		cmocka_unit_test(test_reconnect_under_the_filter),
		cmocka_unit_test(test_osd_down_and_back),
	};
	const char *tmp = getenv("TMPDIR");
	const char *src = getenv("VDB_SOURCE_ROOT");
	char owner[16];
	int r;

	/* The children put themselves under the daemon's filter, for every thread. */
	if (argc >= 3 && strstr(argv[1], "-child"))
		setenv("HDRV_SECCOMP", "off", 1);
	if (argc == 4 && strcmp(argv[1], "--admin-socket-child") == 0) {
		snprintf(ceph_conf, sizeof(ceph_conf), "%s", argv[2]);
		_exit(admin_socket_child(argv[3]));
	}
	if (argc == 3 && strcmp(argv[1], "--reconnect-child") == 0) {
		snprintf(ceph_conf, sizeof(ceph_conf), "%s", argv[2]);
		_exit(reconnect_child());
	}
	if (argc == 3 && strcmp(argv[1], "--sandboxed-child") == 0) {
		snprintf(ceph_conf, sizeof(ceph_conf), "%s", argv[2]);
		/* No exit handlers: LeakSanitizer's tracer is a process the filter refuses. */
		_exit(sandboxed_child());
	}
	if (!src) {
		fprintf(stderr, "test_rbd: VDB_SOURCE_ROOT is not set (meson sets it)\n");
		return 1;
	}
	snprintf(cluster_sh, sizeof(cluster_sh), "%s/tests/ceph/cluster.sh", src);
	snprintf(cluster_dir, sizeof(cluster_dir), "%s/vdb-ceph.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(cluster_dir)) {
		perror("test_rbd: mkdtemp");
		return 1;
	}
	snprintf(ceph_conf, sizeof(ceph_conf), "%s/ceph.conf", cluster_dir);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/* Should this process end without stopping it (a sanitizer's report), the script does. */
	snprintf(owner, sizeof(owner), "%d", (int)getpid());
	setenv("CLUSTER_OWNER_PID", owner, 1);
	r = cluster("start");
	unsetenv("CLUSTER_OWNER_PID");
	if (r != 0) {
		cluster("stop");
		if (r == 77)
			printf("SKIP: %s: the Ceph packages are missing (ceph-mon, ceph-osd, "
			       "ceph-common: scripts/install-deps.sh)\n", argv[0]);
		else
			fprintf(stderr, "test_rbd: the cluster did not start (logs in %s)\n",
				cluster_dir);
		return r == 77 ? 77 : 1;
	}
	r = cmocka_run_group_tests(tests, group_setup, group_teardown);
	cluster("stop");
	if (r == 0 && !getenv("VDB_KEEP_CLUSTER")) {
		char line[PATH_MAX + 16];

		snprintf(line, sizeof(line), "rm -rf '%s'", cluster_dir);
		if (system(line) != 0)
			fprintf(stderr, "test_rbd: could not remove %s\n", cluster_dir);
	}
	return r;
}
#else
int main(int argc, char **argv)
{
	(void)argc;
	printf("SKIP: %s: this build has no rbd backend (librbd-dev was not found)\n", argv[0]);
	return 77;
}
#endif
