// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nbd backend against real NBD servers: the harness plays the driver on
 * the real data path (vq + blk + backends/nbd/) under the daemon's seccomp
 * filter in record mode (any call it refuses fails the test).
 *
 * qemu-nbd serves a qcow2 image whose backing file is a raw image of a
 * known pattern, on a Unix socket: round trips checked through a libnbd
 * connection of the test's own, the backing file's data where nothing was
 * written, many segments (through the bounce buffer, and past it one
 * command per segment), many requests in flight, FLUSH, WRITE_ZEROES read
 * back as zeroes, the export's end, --readonly; then the server is stopped
 * with a request in flight and killed (IOERR, the queue keeps serving, one
 * log line), a request waits for the restarted server and succeeds, and the
 * data written before is there.
 *
 * nbdkit's memory plugin on TCP 127.0.0.1 (a free port): DISCARD reads
 * back as zeroes; with filters, a 4 KiB minimum block size (the device's
 * block size), a 64 KiB maximum (larger payloads split), no zero support
 * (WRITE_ZEROES not offered), no multi-conn (a second queue of a writable
 * export refuses to start).
 *
 * Exit 77 with the reason when this build has no libnbd or qemu-nbd,
 * qemu-img or nbdkit is missing.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"
#include "hdrv.h"
#include "hio.h"
#include "util.h"

#if HAVE_LIBNBD
#include <libnbd.h>

#define IMAGE_MIB 64u
#define IMAGE_BYTES ((uint64_t)IMAGE_MIB << 20)
#define IMAGE_SECTORS (IMAGE_BYTES / 512u)
#define RETRY_MS "3000"            /* nbd-retry-ms in the tests that lose the server */

static char dir[PATH_MAX];
static char sock_path[PATH_MAX + 16];
static char qemu_uri[PATH_MAX + 64];   /* nbd+unix:///?socket=... */
static char top_path[PATH_MAX + 16];
static pid_t qemu_pid = -1;
static pid_t nbdkit_pid = -1;
static int nbdkit_port;

/* Start @argv in the background, its output to @dir/NAME.log; its pid. */
static pid_t spawn(char *const argv[], const char *name)
{
	char log_path[PATH_MAX + 32];
	pid_t pid;

	snprintf(log_path, sizeof(log_path), "%s/%s.log", dir, name);
	pid = fork();
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (sig == SIGSTOP)
		return;
	kill(*pid, SIGCONT);
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

/* Until a libnbd connection to @uri works, up to 10 s: it, or NULL. */
static struct nbd_handle *connect_wait(const char *uri)
{
	for (int i = 0; i < 200; i++) {
		struct nbd_handle *h = nbd_create();

		if (h && nbd_connect_uri(h, uri) == 0)
			return h;
		nbd_close(h);
		usleep(50000);
	}
	return NULL;
}

static int start_qemu_nbd(void)
{
	char *const argv[] = { "qemu-nbd", "--socket", sock_path, "-f", "qcow2", "--persistent",
			       "--shared=8", "--cache=writeback", top_path, NULL };
	struct nbd_handle *h;

	qemu_pid = spawn(argv, "qemu-nbd");
	h = connect_wait(qemu_uri);
	if (!h)
		return -1;
	nbd_close(h);
	return 0;
}

static char nbdkit_uri[64];

/*
 * nbdkit memory 64M on 127.0.0.1, with --filter=@filter (NULL: none) and its
 * @params (NULL-terminated, or NULL); its URI in nbdkit_uri.
 */
/* nbdkit on a free TCP port of 127.0.0.1, serving @words (plugin, filters, parameters). */
static int start_nbdkit_words(const char *const *words)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char port[16];
	char *argv[24];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n = 0;
	struct nbd_handle *h;

	/* A free port: the kernel's choice, given up just before nbdkit takes it. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	close(fd);
	nbdkit_port = ntohs(sa.sin_port);
	snprintf(port, sizeof(port), "%d", nbdkit_port);
	snprintf(nbdkit_uri, sizeof(nbdkit_uri), "nbd://127.0.0.1:%d/", nbdkit_port);
	argv[n++] = "nbdkit";
	argv[n++] = "-f";
	argv[n++] = "--exit-with-parent";
	argv[n++] = "-i";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = port;
	for (int i = 0; words[i] && n < 23; i++)
		argv[n++] = (char *)words[i];
	argv[n] = NULL;
	nbdkit_pid = spawn(argv, "nbdkit");
	h = connect_wait(nbdkit_uri);
	if (!h)
		return -1;
	nbd_close(h);
	return 0;
}

/* nbdkit's memory plugin (64 MiB), with @filter (or NULL) and @params. */
static int start_nbdkit(const char *filter, const char *const *params)
{
	const char *words[16];
	int n = 0;

	if (filter)
		words[n++] = filter;
	words[n++] = "memory";
	words[n++] = "64M";
	for (int i = 0; params && params[i] && n < 15; i++)
		words[n++] = params[i];
	words[n] = NULL;
	return start_nbdkit_words(words);
}

/*
 * The harness's nbd backend on @uri (less its "nbd" prefix), with
 * nbd-retry-ms @retry_ms and nbd-timeout-ms @timeout_ms (NULL: the defaults).
 */
static int start_with(struct hdrv *h, const char *uri, const char *retry_ms,
		      const char *timeout_ms, bool is_readonly, uint32_t block_size)
{
	struct hdrv_opts o = { .queue_size = 64, .backend = "nbd", .is_readonly = is_readonly,
			       .block_size = block_size };
	int n = 0;

	if (retry_ms)
		o.backend_opts[n].key = "nbd-retry-ms", o.backend_opts[n++].value = retry_ms;
	if (timeout_ms)
		o.backend_opts[n].key = "nbd-timeout-ms", o.backend_opts[n++].value = timeout_ms;
	assert_int_equal(strncmp(uri, "nbd", 3), 0);
	return hdrv_start(h, uri + 3, &o);
}

static int start_on(struct hdrv *h, const char *uri, const char *retry_ms, bool is_readonly,
		    uint32_t block_size)
{
	return start_with(h, uri, retry_ms, NULL, is_readonly, block_size);
}

static struct hdrv *start(const char *uri)
{
	struct hdrv *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	assert_int_equal(start_on(h, uri, NULL, false, 0), 0);
	assert_int_equal(h->img.size_bytes, IMAGE_BYTES);
	return h;
}

static void stop(struct hdrv *h)
{
	assert_int_equal(hdrv_stop(h), 0);
	free(h);
}

/* The backing file's byte at @off (base.raw's pattern). */
static uint8_t base_byte(uint64_t off)
{
	return (uint8_t)(off / 4096 * 13 + 5);
}

/* What @uri's server holds, read through a connection of the test's own. */
static void assert_export(const char *uri, uint64_t off, const void *want, size_t len)
{
	struct nbd_handle *nbd = nbd_create();
	uint8_t *got = malloc(len);

	assert_non_null(nbd);
	assert_non_null(got);
	assert_int_equal(nbd_connect_uri(nbd, uri), 0);
	/* In pieces no server here refuses (test_block_sizes: 64 KiB at most). */
	for (size_t done = 0; done < len; done += 65536)
		assert_int_equal(nbd_pread(nbd, got + done, len - done < 65536 ? len - done : 65536,
					   off + done, 0), 0);
	assert_memory_equal(got, want, len);
	nbd_close(nbd);
	free(got);
}

/* hio_check_fn: the server at URI @ctx holds @want at @off. */
static void check_export(void *ctx, uint64_t off, const void *want, size_t len)
{
	assert_export(ctx, off, want, len);
}

static void round_trip(struct hdrv *h, const char *uri, uint64_t sector, uint32_t len,
		       unsigned int seed)
{
	hio_round_trip(h, sector, len, seed, check_export, (void *)uri);
}

static void test_round_trip(void **state)
{
	struct hdrv *h = start(qemu_uri);

	(void)state;
	assert_false(h->img.is_readonly);
	assert_true(h->img.can_discard);
	assert_true(h->img.can_write_zeroes);
	round_trip(h, qemu_uri, 0, 4096, 1);
	round_trip(h, qemu_uri, 9, 512, 2);            /* one sector, not 4 KiB aligned */
	round_trip(h, qemu_uri, 1000, 1 << 20, 3);     /* 1 MiB from one buffer */
	stop(h);
}

/* Where nothing was written, the qcow2 image reads its backing file. */
static void test_backing_file(void **state)
{
	struct hdrv *h = start(qemu_uri);
	const uint64_t sector = 40000;
	uint8_t want[8192];

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = base_byte(sector * 512 + i);
	hio_read_expect(h, sector, want, sizeof(want));
	/* Half of it written over: the other half still comes from the backing file. */
	hio_fill(want, 4096, 30);
	hio_write_ok(h, sector, want, 4096);
	hio_read_expect(h, sector, want, sizeof(want));
	stop(h);
}

static void test_multi_segment(void **state)
{
	static const uint32_t small[8] = { 512, 1024, 4096, 8192, 1536, 2048, 512, 3584 };
	uint32_t large[20];
	struct hdrv *h = start(qemu_uri);

	(void)state;
	/* 21 KiB: one command through a bounce buffer. */
	hio_multi_segment(h, 2048, small, 8, 4, check_export, qemu_uri);
	/* 12 x 64 KiB less a sector on every other: 6 bounce buffers of 128 KiB, unaligned. */
	for (int i = 0; i < 12; i++)
		large[i] = (64u << 10) - (i % 2 ? 512 : 0);
	hio_multi_segment(h, 8192, large, 12, 5, check_export, qemu_uri);
	/* 20 x 128 KiB: more than 16 bounce buffers, a command per segment. */
	for (int i = 0; i < 20; i++)
		large[i] = 128u << 10;
	hio_multi_segment(h, 16384, large, 20, 6, check_export, qemu_uri);
	stop(h);
}

static void test_many_in_flight(void **state)
{
	struct hdrv *h = start(qemu_uri);

	(void)state;
	hio_many_in_flight(h, 4096, 20, check_export, qemu_uri);
	stop(h);
}

static void test_flush(void **state)
{
	struct hdrv *h = start(qemu_uri);

	(void)state;
	round_trip(h, qemu_uri, 64, 8192, 5);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	stop(h);
}

/* WRITE_ZEROES, with and without unmap, over data and over the backing file. */
static void test_write_zeroes(void **state)
{
	struct hdrv *h = start(qemu_uri);
	uint8_t *zeroes = calloc(1, 64 << 10), *data = malloc(64 << 10);
	const uint64_t sector = 50000;

	(void)state;
	assert_non_null(zeroes);
	assert_non_null(data);
	round_trip(h, qemu_uri, sector, 64 << 10, 6);
	assert_int_equal(hio_dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, sector + 8, 64, false),
			 VIRTIO_BLK_S_OK);
	assert_export(qemu_uri, (sector + 8) * 512, zeroes, 64 * 512);
	hio_read_expect(h, sector + 8, zeroes, 64 * 512);
	/* The sectors beside the range keep their data. */
	hio_fill(data, 64 << 10, 6);
	assert_export(qemu_uri, sector * 512, data, 8 * 512);
	assert_export(qemu_uri, (sector + 72) * 512, data + 72 * 512, (64 << 10) - 72 * 512);
	/* Unmap allowed, over the backing file's data: zeroes all the same. */
	assert_int_equal(hio_dwz(h, VIRTIO_BLK_T_WRITE_ZEROES, sector + 1024, 128, true),
			 VIRTIO_BLK_S_OK);
	hio_read_expect(h, sector + 1024, zeroes, 128 * 512);
	free(zeroes);
	free(data);
	stop(h);
}

static void test_export_end(void **state)
{
	struct hdrv *h = start(qemu_uri);
	uint8_t buf[4096];
	uint32_t used;

	(void)state;
	round_trip(h, qemu_uri, IMAGE_SECTORS - 8, 4096, 9);
	round_trip(h, qemu_uri, IMAGE_SECTORS - 1, 512, 10);
	/* Past the end: IOERR, decided before the backend. */
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 4, buf, 4096, &used),
			 VIRTIO_BLK_S_IOERR);
	stop(h);
}

static void test_readonly(void **state)
{
	struct hdrv *h = calloc(1, sizeof(*h));
	uint8_t buf[4096], want[4096];

	(void)state;
	assert_non_null(h);
	assert_int_equal(start_on(h, qemu_uri, NULL, true, 0), 0);
	assert_true(h->img.is_readonly);
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = base_byte(60000 * 512ULL + i);
	hio_read_expect(h, 60000, want, sizeof(want));
	hio_fill(buf, sizeof(buf), 31);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_OUT, 60000, buf, sizeof(buf), NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	assert_export(qemu_uri, 60000 * 512ULL, want, sizeof(want));
	stop(h);
}

/*
 * A server that stays connected and answers nothing (stopped): after
 * nbd-timeout-ms the backend drops the connection, the READ it held fails
 * with IOERR, and once the server runs again a new connection serves what
 * was written before.
 */
static void test_server_stalls(void **state)
{
	struct hdrv *h = calloc(1, sizeof(*h));
	uint8_t before[8192];
	struct hreq r;
	uint64_t t0, waited;

	(void)state;
	assert_non_null(h);
	assert_int_equal(start_with(h, qemu_uri, RETRY_MS, "500", false, 0), 0);
	hio_fill(before, sizeof(before), 21);
	hio_write_ok(h, 900, before, sizeof(before));
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);

	reap(&qemu_pid, SIGSTOP);
	t0 = monotonic_ms();
	hdrv_blk_req(h, &r, VIRTIO_BLK_T_IN, 900, NULL, sizeof(before));
	hdrv_blk_submit(h, &r);
	assert_int_equal(hio_wait_req(h, &r, 5000), VIRTIO_BLK_S_IOERR);
	waited = monotonic_ms() - t0;
	print_message("a stopped server's READ failed after %llu ms (nbd-timeout-ms 500)\n",
		      (unsigned long long)waited);
	assert_true(waited >= 450 && waited < 3000);
	assert_true(h->is_running);

	/* Running again: a READ waits for the new connection and gets the data. */
	kill(qemu_pid, SIGCONT);
	hdrv_blk_req(h, &r, VIRTIO_BLK_T_IN, 900, NULL, sizeof(before));
	hdrv_blk_submit(h, &r);
	assert_int_equal(hio_wait_req(h, &r, 10000), VIRTIO_BLK_S_OK);
	assert_memory_equal(hdrv_ptr(h, r.data_iova), before, sizeof(before));
	stop(h);
}

static void test_server_killed_and_back(void **state)
{
	char log_path[PATH_MAX + 32];
	struct hdrv *h = calloc(1, sizeof(*h));
	uint8_t before[8192], buf[8192], id[VIRTIO_BLK_ID_BYTES];
	int saved_stderr, log_fd;
	struct hreq r;
	uint64_t t0;

	(void)state;
	assert_non_null(h);
	assert_int_equal(start_on(h, qemu_uri, RETRY_MS, false, 0), 0);
	hio_fill(before, sizeof(before), 11);
	hio_write_ok(h, 300, before, sizeof(before));
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	/* What the backend logs from here on, to count it. */
	snprintf(log_path, sizeof(log_path), "%s/test-log.txt", dir);
	print_message("the backend's log until the server is back: %s\n", log_path);
	fflush(stderr);
	saved_stderr = dup(2);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved_stderr >= 0 && log_fd >= 0);
	assert_true(dup2(log_fd, 2) == 2);
	close(log_fd);

	/* A READ the server holds when it dies: IOERR. */
	reap(&qemu_pid, SIGSTOP);
	hdrv_blk_req(h, &r, VIRTIO_BLK_T_IN, 300, NULL, sizeof(buf));
	hdrv_blk_submit(h, &r);
	assert_int_equal(hio_wait_req(h, &r, 300), -ETIMEDOUT);
	reap(&qemu_pid, SIGKILL);
	assert_int_equal(hio_wait_req(h, &r, 5000), VIRTIO_BLK_S_IOERR);
	/* The queue still serves: GET_ID needs no server. */
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), NULL),
			 VIRTIO_BLK_S_OK);
	/* No server for nbd-retry-ms: a WRITE fails with IOERR then, not before. */
	hio_fill(buf, sizeof(buf), 12);
	t0 = monotonic_ms();
	assert_int_equal(hio_do_slow(h, VIRTIO_BLK_T_OUT, 600, buf, sizeof(buf), 10000),
			 VIRTIO_BLK_S_IOERR);
	assert_true(monotonic_ms() - t0 >= 2900);
	assert_true(h->is_running);

	/* A READ waits for the restarted server and succeeds: the data written before is there. */
	hdrv_blk_req(h, &r, VIRTIO_BLK_T_IN, 300, NULL, sizeof(buf));
	hdrv_blk_submit(h, &r);
	assert_int_equal(start_qemu_nbd(), 0);
	assert_int_equal(hio_wait_req(h, &r, 10000), VIRTIO_BLK_S_OK);
	assert_memory_equal(hdrv_ptr(h, r.data_iova), before, sizeof(before));
	round_trip(h, qemu_uri, 600, 8192, 13);
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	hio_show_file(log_path);
	stop(h);
	/* Said once that the connection was lost, once that it is back. */
	assert_int_equal(hio_count_lines(log_path, "connection lost"), 1);
	assert_int_equal(hio_count_lines(log_path, "connected again"), 1);
	assert_int_equal(hio_count_lines(log_path, "request(s) fail with IOERR"), 1);
	assert_int_equal(hio_count_lines(log_path, "connecting again failed"), 1);
}

/*
 * nbdkit on TCP killed and started again on its port: the queue connects
 * again over TCP under the filter (resolving "localhost" too); a READ that
 * waited for it succeeds (the memory plugin starts empty: zeroes).
 */
static void test_nbdkit_restart(void **state)
{
	char port[16], uri[64];
	struct hdrv *h = calloc(1, sizeof(*h));
	uint8_t zeroes[4096] = { 0 };
	struct hreq r;

	(void)state;
	assert_non_null(h);
	assert_int_equal(start_nbdkit(NULL, NULL), 0);
	snprintf(port, sizeof(port), "%d", nbdkit_port);
	/* A host name: getaddrinfo() under the filter too. */
	snprintf(uri, sizeof(uri), "nbd://localhost:%d/", nbdkit_port);
	assert_int_equal(start_on(h, uri, RETRY_MS, false, 0), 0);
	round_trip(h, uri, 16, 4096, 50);
	reap(&nbdkit_pid, SIGKILL);
	hdrv_blk_req(h, &r, VIRTIO_BLK_T_IN, 16, NULL, sizeof(zeroes));
	hdrv_blk_submit(h, &r);
	{
		char *const argv[] = { "nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1",
				       "-p", port, "memory", "64M", NULL };

		usleep(300000);
		nbdkit_pid = spawn(argv, "nbdkit");
	}
	assert_int_equal(hio_wait_req(h, &r, 10000), VIRTIO_BLK_S_OK);
	assert_memory_equal(hdrv_ptr(h, r.data_iova), zeroes, sizeof(zeroes));
	round_trip(h, uri, 16, 4096, 51);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
}

/* nbdkit's memory plugin on TCP: DISCARD reads back as zeroes; a round trip. */
static void test_nbdkit_tcp(void **state)
{
	struct hdrv *h;
	uint8_t *zeroes = calloc(1, 64 << 10);

	(void)state;
	assert_non_null(zeroes);
	assert_int_equal(start_nbdkit(NULL, NULL), 0);
	h = start(nbdkit_uri);
	assert_true(h->img.can_discard);
	round_trip(h, nbdkit_uri, 100, 64 << 10, 40);
	assert_int_equal(hio_dwz(h, VIRTIO_BLK_T_DISCARD, 100, 128, false), VIRTIO_BLK_S_OK);
	assert_export(nbdkit_uri, 100 * 512, zeroes, 64 << 10);
	hio_read_expect(h, 100, zeroes, 64 << 10);
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
	free(zeroes);
}

/* The server's block sizes: a 4 KiB minimum is the device's block size; a 64 KiB maximum splits. */
static void test_block_sizes(void **state)
{
	static const char *const args[] = { "blocksize-minimum=4096",
		"blocksize-preferred=65536", "blocksize-maximum=65536",
		"blocksize-error-policy=error", NULL };
	static const uint32_t sizes[8] = { 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768 };
	struct hdrv *h = calloc(1, sizeof(*h));

	(void)state;
	assert_non_null(h);
	assert_int_equal(start_nbdkit("--filter=blocksize-policy", args), 0);
	assert_int_equal(start_on(h, nbdkit_uri, NULL, false, 4096), 0);
	assert_int_equal(h->img.logical_block_size, 4096);
	assert_int_equal(h->img.physical_block_size, 65536);
	/* 512 KiB in one buffer: 8 commands of 64 KiB (the server refuses more). */
	round_trip(h, nbdkit_uri, 4096, 512 << 10, 41);
	/* 8 x 32 KiB: 2 bounce buffers of 128 KiB, 2 commands each. */
	hio_multi_segment(h, 8192, sizes, 8, 44, check_export, nbdkit_uri);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
}

/* A server that cannot zero: WRITE_ZEROES is not offered. */
static void test_no_zero(void **state)
{
	struct hdrv *h;

	(void)state;
	assert_int_equal(start_nbdkit("--filter=nozero", NULL), 0);
	h = start(nbdkit_uri);
	assert_false(h->img.can_write_zeroes);
	assert_true(h->img.can_discard);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
}

/*
 * A writable server that advertises no flush (nbdkit's eval plugin saying so):
 * writes are stable when answered, so FLUSH is not offered to the driver.  A
 * FLUSH sent anyway (a driver that ignores the features) completes at once.
 */
static void test_no_flush(void **state)
{
	static const char *const words[] = {
		"eval", "get_size=echo 64M",
		"pread=dd if=/dev/zero count=$3 iflag=count_bytes status=none",
		"pwrite=cat >/dev/null", "can_write=exit 0", "can_flush=exit 3", NULL,
	};
	struct hdrv *h;

	(void)state;
	assert_int_equal(start_nbdkit_words(words), 0);
	h = start(nbdkit_uri);
	assert_true(h->img.is_write_through);
	assert_false(blk_dev_features(&h->dev) & (1ULL << VIRTIO_BLK_F_FLUSH));
	assert_int_equal(hdrv_blk_do(h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);

	/* The memory plugin flushes: FLUSH is offered. */
	assert_int_equal(start_nbdkit(NULL, NULL), 0);
	h = start(nbdkit_uri);
	assert_false(h->img.is_write_through);
	assert_true(blk_dev_features(&h->dev) & (1ULL << VIRTIO_BLK_F_FLUSH));
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
}

/*
 * No multi-conn: a writable export is refused for a device of 2 queues at
 * open, and a second queue of one opened for 1 refuses to start; read-only,
 * both serve.
 */
static void test_no_multi_conn(void **state)
{
	static const char *const args[] = { "multi-conn-mode=disable", NULL };
	struct hdrv *h = calloc(1, sizeof(*h)), *h2 = calloc(1, sizeof(*h2));
	struct hdrv_opts o = { .queue_size = 64, .backend = "nbd" };
	uint8_t buf[4096];

	(void)state;
	assert_non_null(h);
	assert_non_null(h2);
	assert_int_equal(start_nbdkit("--filter=multi-conn", args), 0);
	/* A device of 2 queues: refused at open, before anything serves; read-only, served. */
	{
		const struct backend_ops *be = backend_find("nbd");
		struct image_spec spec = { .path = nbdkit_uri + 3, .adopt_fd = -1, .nr_queues = 2 };
		struct image img;

		assert_int_equal(be->open(&spec, &img), -EOPNOTSUPP);
		spec.is_readonly = true;
		assert_int_equal(be->open(&spec, &img), 0);
		be->close(&img);
	}
	assert_int_equal(start_on(h, nbdkit_uri, NULL, false, 0), 0);
	round_trip(h, nbdkit_uri, 8, 4096, 42);
	/* A second queue on the same image: the backend refuses, the queue fails its requests. */
	o.shared_img = &h->img;
	assert_int_equal(hdrv_start(h2, h->image_path, &o), 0);
	hio_fill(buf, sizeof(buf), 43);
	assert_int_equal(hdrv_blk_do(h2, VIRTIO_BLK_T_OUT, 16, buf, sizeof(buf), NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(hdrv_stop(h2), 0);
	stop(h);
	/* Read-only: a connection per queue. */
	h = calloc(1, sizeof(*h));
	assert_non_null(h);
	assert_int_equal(start_on(h, nbdkit_uri, NULL, true, 0), 0);
	o.shared_img = &h->img;
	assert_int_equal(hdrv_start(h2, h->image_path, &o), 0);
	hio_fill(buf, sizeof(buf), 42);
	hio_read_expect(h2, 8, buf, sizeof(buf));
	hio_read_expect(h, 8, buf, sizeof(buf));
	assert_int_equal(hdrv_stop(h2), 0);
	free(h2);
	stop(h);
	reap(&nbdkit_pid, SIGTERM);
}

/* Start errors: nothing listening, an export the server does not have. */
static void test_open_errors(void **state)
{
	struct hdrv *h = calloc(1, sizeof(*h));
	char uri[PATH_MAX + 64];

	(void)state;
	assert_non_null(h);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/none.sock", dir);
	assert_true(start_on(h, uri, NULL, false, 0) < 0);
	hdrv_stop(h);
	snprintf(uri, sizeof(uri), "nbd+unix:///nosuch?socket=%s", sock_path);
	assert_true(start_on(h, uri, NULL, false, 0) < 0);
	hdrv_stop(h);
	assert_int_equal(start_on(h, "nbd:/x", NULL, false, 0), -EINVAL);
	hdrv_stop(h);
	assert_int_equal(start_on(h, qemu_uri, "soon", false, 0), -EINVAL);
	hdrv_stop(h);
	free(h);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* base.raw (a pattern per 4 KiB), and top.qcow2 over it. */
static int make_images(void)
{
	char path[PATH_MAX + 16], cmd[3 * PATH_MAX];
	uint8_t block[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/base.raw", dir);
	f = fopen(path, "we");
	if (!f)
		return -1;
	for (uint64_t off = 0; off < IMAGE_BYTES; off += sizeof(block)) {
		memset(block, base_byte(off), sizeof(block));
		if (fwrite(block, 1, sizeof(block), f) != sizeof(block))
			break;
	}
	if (fclose(f) != 0)
		return -1;
	snprintf(top_path, sizeof(top_path), "%s/top.qcow2", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -b '%s' -F raw '%s'", path,
		 top_path);
	return run(cmd);
}

static void on_signal(int sig)
{
	(void)sig;
	reap(&qemu_pid, SIGKILL);
	reap(&nbdkit_pid, SIGKILL);
	_exit(1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_backing_file),
		cmocka_unit_test(test_multi_segment),
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_write_zeroes),
		cmocka_unit_test(test_export_end),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_nbdkit_tcp),
		cmocka_unit_test(test_block_sizes),
		cmocka_unit_test(test_no_zero),
		cmocka_unit_test(test_no_flush),
		cmocka_unit_test(test_no_multi_conn),
		cmocka_unit_test(test_server_killed_and_back),
		cmocka_unit_test(test_server_stalls),
		cmocka_unit_test(test_nbdkit_restart),
	};
	static const char *const tools[] = { "qemu-nbd", "qemu-img", "nbdkit" };
	const char *tmp = getenv("TMPDIR");
	char cmd[PATH_MAX + 32];
	int r;

	(void)argc;
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tools[i]);
		if (run(cmd) != 0) {
			printf("SKIP: %s: %s is missing (Debian: qemu-utils, nbdkit)\n", argv[0],
			       tools[i]);
			return 77;
		}
	}
	snprintf(dir, sizeof(dir), "%s/vdb-nbd.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("test_nbd: mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/qemu-nbd.sock", dir);
	snprintf(qemu_uri, sizeof(qemu_uri), "nbd+unix:///?socket=%s", sock_path);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (make_images() != 0 || start_qemu_nbd() != 0) {
		fprintf(stderr, "test_nbd: qemu-nbd did not start (logs in %s)\n", dir);
		reap(&qemu_pid, SIGKILL);
		return 1;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	reap(&qemu_pid, SIGTERM);
	reap(&nbdkit_pid, SIGTERM);
	if (r == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (run(cmd) != 0)
			fprintf(stderr, "test_nbd: could not remove %s\n", dir);
	}
	return r;
}
#else
int main(int argc, char **argv)
{
	(void)argc;
	printf("SKIP: %s: this build has no nbd backend (libnbd-dev was not found)\n", argv[0]);
	return 77;
}
#endif
