// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket: its protocol parser against truncated, oversized,
 * malformed, wrong-version and unknown-command requests; sizes; the latency
 * histogram's percentiles; and the server in a loop driven here (a stalled
 * client does not hold it, a live socket is not taken, a stale one is).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/backend.h"
#include "backends/fd/image.h"
#include "ctl/command.h"
#include "ctl/ctl.h"
#include "ctl_ask.h"
#include "ctl/proto.h"
#include "blk/stats.h"
#include "util.h"

static int parse(const char *s, struct ctl_request *req)
{
	const char *why = NULL;
	int r = ctl_request_parse(s, strlen(s), req, &why);

	if (r < 0)
		assert_non_null(why);
	return r;
}

static void test_parse_valid(void **state)
{
	struct ctl_request req;

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"info\"}", &req), 0);
	assert_int_equal(req.cmd, CTL_CMD_INFO);
	assert_int_equal(parse(" { \"cmd\" : \"stats\", \"v\" : 1 } ", &req), 0);
	assert_int_equal(req.cmd, CTL_CMD_STATS);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":1073741824}", &req), 0);
	assert_int_equal(req.cmd, CTL_CMD_RESIZE);
	assert_true(req.size_bytes == 1073741824ULL);
	assert_false(req.is_shrink);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":18446744073709551615,"
			       "\"shrink\":true}", &req), 0);
	assert_true(req.size_bytes == UINT64_MAX);
	assert_true(req.is_shrink);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"log-level\",\"level\":\"debug\"}", &req), 0);
	assert_int_equal(req.cmd, CTL_CMD_LOG_LEVEL);
	assert_int_equal(req.level, LOG_DEBUG);
}

static void test_parse_truncated(void **state)
{
	static const char *const cases[] = {
		"", "{", "{\"v\":1,\"cmd\":\"sta", "{\"v\":1,\"cmd\":\"stats\"", "{\"v\":1,",
		"{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":10",
	};
	struct ctl_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(parse(cases[i], &req), -EBADMSG);
}

static void test_parse_oversized(void **state)
{
	char *big = malloc(CTL_MAX_REQUEST + 16);
	struct ctl_request req;
	const char *why;
	size_t n;

	(void)state;
	/* Valid JSON but too long: padded with spaces. */
	n = (size_t)sprintf(big, "{\"v\":1,\"cmd\":\"info\"");
	memset(big + n, ' ', CTL_MAX_REQUEST + 10 - n);
	big[CTL_MAX_REQUEST + 10] = '}';
	assert_int_equal(ctl_request_parse(big, CTL_MAX_REQUEST + 11, &req, &why), -EMSGSIZE);
	/* One byte under the limit is fine. */
	big[CTL_MAX_REQUEST - 2] = '}';
	assert_int_equal(ctl_request_parse(big, CTL_MAX_REQUEST - 1, &req, &why), 0);
	free(big);
}

static void test_parse_malformed(void **state)
{
	static const char *const cases[] = {
		"not json", "[1,2,3]", "\"info\"", "42", "null",
		"{\"v\":1,\"cmd\":5}", "{\"v\":1,\"cmd\":null}", "{\"v\":1}",
		"{\"v\":1,\"cmd\":\"info\"} trailing", "{\"v\":1,\"cmd\":\"info\"}{}",
		"{\"v\":1,\"cmd\":\"info\"}\n{\"v\":1,\"cmd\":\"stats\"}",
	};
	struct ctl_request req;
	const char nul[] = "{\"v\":1,\"cmd\":\"info\"}\0x";
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(parse(cases[i], &req), -EBADMSG);
	assert_int_equal(ctl_request_parse(nul, sizeof(nul) - 1, &req, &why), -EBADMSG);
}

static void test_parse_version(void **state)
{
	struct ctl_request req;

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"info\"}", &req), -EPROTONOSUPPORT);
	assert_int_equal(parse("{\"v\":2,\"cmd\":\"info\"}", &req), -EPROTONOSUPPORT);
	assert_int_equal(parse("{\"v\":0,\"cmd\":\"info\"}", &req), -EPROTONOSUPPORT);
	assert_int_equal(parse("{\"v\":\"1\",\"cmd\":\"info\"}", &req), -EPROTONOSUPPORT);
	assert_int_equal(parse("{\"v\":1.0,\"cmd\":\"info\"}", &req), -EPROTONOSUPPORT);
}

static void test_parse_unknown_and_bad_args(void **state)
{
	struct ctl_request req;

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"reboot\"}", &req), -EOPNOTSUPP);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"\"}", &req), -EOPNOTSUPP);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"info\",\"x\":1}", &req), -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\"}", &req), -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":0}", &req), -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":-4096}", &req), -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":\"1G\"}", &req),
			 -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":4096,\"shrink\":1}",
			       &req), -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"log-level\",\"level\":\"trace\"}", &req),
			 -EINVAL);
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"log-level\"}", &req), -EINVAL);
	/* vduse-blkctl's own command never travels on the socket. */
	assert_int_equal(parse("{\"v\":1,\"cmd\":\"list\"}", &req), -EOPNOTSUPP);
}

/*
 * The command table: each row where its enum says, found by its name; the
 * rows vduse-blkctl runs have a usage, a help and a run, the daemon's an
 * execute (resize answers through its job), and only list stays local.
 */
static void test_command_table(void **state)
{
	const struct ctl_command *c;
	size_t n = 0;

	(void)state;
	for (size_t i = 0; (c = ctl_command_at(i)); i++, n++) {
		assert_ptr_equal(ctl_command_of(c->cmd), c);
		assert_ptr_equal(ctl_command_find(c->name), c);
		assert_string_equal(ctl_cmd_name(c->cmd), c->name);
		if (c->usage) {
			assert_non_null(c->help);
			assert_non_null(c->run);
		}
		assert_int_equal(c->is_local, c->cmd == CTL_CMD_LIST);
		assert_int_equal(c->execute == NULL, c->is_local || c->cmd == CTL_CMD_RESIZE);
		assert_int_equal(c->parse == NULL, c->keys == NULL);
	}
	assert_int_equal(n, CTL_CMD_LIST + 1);
	assert_null(ctl_command_find("reboot"));
	assert_null(ctl_command_find(NULL));
}

static void test_format_round_trip(void **state)
{
	const struct ctl_request reqs[] = {
		{ .cmd = CTL_CMD_INFO }, { .cmd = CTL_CMD_STATS },
		{ .cmd = CTL_CMD_RESIZE, .size_bytes = 12345678901ULL, .is_shrink = true },
		{ .cmd = CTL_CMD_LOG_LEVEL, .level = LOG_WARN },
	};
	char line[CTL_MAX_REQUEST];
	struct ctl_request back;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int n = ctl_request_format(&reqs[i], line, sizeof(line));

		assert_true(n > 1);
		assert_int_equal(line[n - 1], '\n');
		assert_int_equal(ctl_request_parse(line, (size_t)n - 1, &back, &why), 0);
		assert_memory_equal(&back, &reqs[i], sizeof(back));
	}
	assert_int_equal(ctl_request_format(&reqs[0], line, 8), -ENOSPC);
}

static void test_reply_parse(void **state)
{
	struct json_object *obj;
	const char *why;
	char *line;

	(void)state;
	line = ctl_reply_ok(json_object_new_object());
	assert_int_equal(ctl_reply_parse(line, strlen(line), &obj, &why), 0);
	json_object_put(obj);
	free(line);
	line = ctl_reply_error(-EROFS, "the device is read-only");
	assert_int_equal(ctl_reply_parse(line, strlen(line), &obj, &why), -EROFS);
	assert_string_equal(why, "the device is read-only");
	json_object_put(obj);
	free(line);
	assert_int_equal(ctl_reply_parse("{\"v\":2,\"ok\":true}", 17, &obj, &why), -EPROTONOSUPPORT);
	assert_null(obj);
	assert_int_equal(ctl_reply_parse("{\"v\":1}", 7, &obj, &why), -EBADMSG);
	assert_int_equal(ctl_reply_parse("garbage", 7, &obj, &why), -EBADMSG);
}

static void test_size_parse(void **state)
{
	static const struct { const char *s; int r; uint64_t v; } cases[] = {
		{ "4096", 0, 4096 }, { "0", 0, 0 }, { "1k", 0, 1024 }, { "1K", 0, 1024 },
		{ "1KiB", 0, 1024 }, { "1KB", 0, 1024 }, { "512M", 0, 512ULL << 20 },
		{ "10G", 0, 10ULL << 30 }, { "2T", 0, 2ULL << 40 }, { "1P", 0, 1ULL << 50 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 }, { "16777216T", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "G", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "10X", -EINVAL, 0 },
		{ "10GiBx", -EINVAL, 0 }, { "1.5G", -EINVAL, 0 }, { " 10", -EINVAL, 0 },
		{ "10 G", -EINVAL, 0 }, { "1E", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int r = ctl_size_parse(cases[i].s, &v);

		if (r != cases[i].r)
			fail_msg("'%s': %d, expected %d", cases[i].s, r, cases[i].r);
		if (r == 0 && v != cases[i].v)
			fail_msg("'%s': %llu", cases[i].s, (unsigned long long)v);
	}
}

static void test_histogram_buckets(void **state)
{
	unsigned int last = 0;

	(void)state;
	for (uint64_t us = 0; us < (1u << 20); us += 1 + us / 64) {
		unsigned int b = stats_bucket(us);
		uint64_t max = stats_bucket_max_us(b);
		uint64_t min = b ? stats_bucket_max_us(b - 1) + 1 : 0;

		assert_true(b >= last);          /* monotonic */
		assert_true(b < STATS_NR_BUCKETS);
		assert_true(min <= us && us <= max);
		/* At most 1/8 wide: the percentile's error bound. */
		assert_true((max - min) * 8 <= min || max < STATS_SUB);
		last = b;
	}
	assert_int_equal(stats_bucket(UINT64_MAX), STATS_NR_BUCKETS - 1);
	assert_true(stats_bucket_max_us(STATS_NR_BUCKETS - 1) == UINT64_MAX);
}

static void add(struct blk_stats *st, uint64_t us, unsigned int n)
{
	st->latency[stats_bucket(us)] += n;
}

static void test_histogram_percentiles(void **state)
{
	struct blk_stats st;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_true(stats_percentile_us(&st, 500) == 0);
	add(&st, 5, 1);
	assert_true(stats_percentile_us(&st, 500) == 5);        /* exact below 8 us */
	assert_true(stats_percentile_us(&st, 999) == 5);
	memset(&st, 0, sizeof(st));
	/* 1000 requests of 100 us, 10 of 5000 us. */
	add(&st, 100, 1000);
	add(&st, 5000, 10);
	assert_true(stats_percentile_us(&st, 500) == 103);      /* bucket [96, 103] */
	assert_true(stats_percentile_us(&st, 990) == 103);      /* rank 1000 of 1010 */
	assert_true(stats_percentile_us(&st, 999) == 5119);     /* rank 1009: [4608, 5119] */
	/* 1..1000 us, one each: p50 near 500, p99 near 990, p99.9 near 999. */
	memset(&st, 0, sizeof(st));
	for (uint64_t us = 1; us <= 1000; us++)
		add(&st, us, 1);
	assert_in_range(stats_percentile_us(&st, 500), 500, 500 * 9 / 8);
	assert_in_range(stats_percentile_us(&st, 990), 990, 990 * 9 / 8);
	assert_in_range(stats_percentile_us(&st, 999), 999, 1000 * 9 / 8);
}

static void test_stats_counting(void **state)
{
	struct blk_stats st, snap, total;
	struct blk_req req;

	(void)state;
	memset(&st, 0, sizeof(st));
	memset(&req, 0, sizeof(req));
	req.op = BLK_OP_READ;
	req.data_bytes = 4096;
	stats_req_start(&st, &req, 1, monotonic_ns());
	assert_true(st.in_flight == 1);
	stats_req_done(&st, &req, VIRTIO_BLK_S_OK, 0, monotonic_ns());
	req.op = BLK_OP_WRITE;
	stats_req_start(&st, &req, 1, monotonic_ns());
	stats_req_done(&st, &req, VIRTIO_BLK_S_IOERR, 0, monotonic_ns());      /* an error: no bytes */
	req.op = BLK_OP_NONE;
	stats_req_start(&st, &req, 1, monotonic_ns());
	stats_req_done(&st, &req, -1, 0, monotonic_ns());                      /* no status: a driver fault */
	stats_driver_fault(&st, VQ_ERR_NONE);
	stats_driver_fault(&st, VQ_ERR_LOOP);
	stats_snapshot(&st, &snap);
	assert_true(snap.ops[STATS_OP_READ] == 1 && snap.ops[STATS_OP_WRITE] == 1);
	assert_true(snap.ops[STATS_OP_OTHER] == 1);
	assert_true(snap.read_bytes == 4096 && snap.write_bytes == 0);
	assert_true(snap.errors == 1 && snap.in_flight == 0);
	assert_true(snap.driver_faults == 2);
	assert_true(snap.driver_fault_reasons[VQ_ERR_LOOP] == 1);
	assert_true(stats_nr_ops(&snap) == 3);
	memset(&total, 0, sizeof(total));
	stats_sum(&total, &snap);
	stats_sum(&total, &snap);
	assert_true(total.read_bytes == 8192 && stats_nr_ops(&total) == 6);
}

/* --- The server, driven by this test's own loop. --- */

struct srv_fixture {
	char dir[64];
	struct blk_dev blk;
	struct vduse_queue queues[2];
	struct vduse_dev dev;
	struct ctl_server s;
};

static int srv_setup(void **state)
{
	struct srv_fixture *f = calloc(1, sizeof(*f));
	struct ctl_target t;
	struct blk_req req = { .op = BLK_OP_READ, .data_bytes = 512 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ctl.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->blk = (struct blk_dev){ .capacity_sectors = 2048, .logical_block_size = 512,
				   .num_queues = 2, .queue_size = 64 };
	f->dev.nr_queues = 2;
	f->dev.queues = f->queues;
	f->dev.status = 0x4 | 0x2 | 0x1;
	f->dev.fd = -1;
	/* Three reads on queue 1. */
	for (int i = 0; i < 3; i++) {
		stats_req_start(&f->queues[1].stats, &req, 1, monotonic_ns());
		stats_req_done(&f->queues[1].stats, &req, VIRTIO_BLK_S_OK, 0, monotonic_ns());
	}
	t = (struct ctl_target){ .name = "disk0", .image_path = "/img", .backend_name = "null",
				 .dev = &f->dev, .blk = &f->blk };
	assert_int_equal(ctl_server_open(&f->s, f->dir, &t, NULL, false), 0);
	*state = f;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv_fixture *f = *state;

	ctl_server_close(&f->s);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* What the control loop does: poll and handle, for @ms. */
static void pump(struct ctl_server *s, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		struct pollfd pfd[CTL_NR_POLLFDS];
		unsigned int n = ctl_server_pollfds(s, pfd);

		poll(pfd, n, 10);
		ctl_server_handle(s, pfd, n);
	}
}

/* Send @req, run the loop, read the whole reply (the server closes after it). */
static struct json_object *ask(struct srv_fixture *f, const char *req, size_t len, int *ret_r)
{
	int fd = connect_to(f->s.path);
	static char buf[CTL_MAX_REPLY];
	struct json_object *obj;
	const char *why;
	size_t got = 0;
	ssize_t n;
	struct timeval tv = { .tv_sec = 2 };

	assert_true(fd >= 0);
	/* A test that fails must not hang: no reply in 2 s reads as none. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	shutdown(fd, SHUT_WR);      /* the request ends here, newline or not */
	pump(&f->s, 50);
	while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	close(fd);
	*ret_r = ctl_reply_parse(buf, got, &obj, &why);
	return obj;
}

static void test_server_answers(void **state)
{
	struct srv_fixture *f = *state;
	struct json_object *obj, *v, *queues;
	struct stat st;
	int r;

	assert_int_equal(stat(f->s.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* What a live upgrade's new image adopts: this socket. */
	assert_non_null(getenv(CTL_FD_ENV));
	assert_int_equal(atoi(getenv(CTL_FD_ENV)), f->s.listen_fd);
	obj = ask(f, "{\"v\":1,\"cmd\":\"stats\"}\n", strlen("{\"v\":1,\"cmd\":\"stats\"}\n"), &r);
	assert_int_equal(r, 0);
	assert_true(json_object_object_get_ex(obj, "read_ops", &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(obj, "read_bytes", &v));
	assert_int_equal(json_object_get_int(v), 1536);
	assert_true(json_object_object_get_ex(obj, "queues", &queues));
	assert_int_equal(json_object_array_length(queues), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(queues, 1), "read_ops",
					      &v));
	assert_int_equal(json_object_get_int(v), 3);
	assert_true(json_object_object_get_ex(obj, "latency_us", &v));
	json_object_put(obj);
	obj = ask(f, "{\"v\":1,\"cmd\":\"info\"}\n", strlen("{\"v\":1,\"cmd\":\"info\"}\n"), &r);
	assert_int_equal(r, 0);
	assert_true(json_object_object_get_ex(obj, "capacity_bytes", &v));
	assert_int_equal(json_object_get_int64(v), 2048 * 512);
	assert_true(json_object_object_get_ex(obj, "state", &v));
	assert_string_equal(json_object_get_string(v), "serving");
	json_object_put(obj);
	/* Errors come back as replies, and the server goes on. */
	obj = ask(f, "{\"v\":9,\"cmd\":\"info\"}\n", strlen("{\"v\":9,\"cmd\":\"info\"}\n"), &r);
	assert_int_equal(r, -EPROTONOSUPPORT);
	json_object_put(obj);
	obj = ask(f, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":1000}\n", strlen("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":1000}\n"), &r);
	assert_int_equal(r, -EINVAL);      /* not a multiple of the block size */
	json_object_put(obj);
	obj = ask(f, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":512}\n", strlen("{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":512}\n"), &r);
	assert_int_equal(r, -EINVAL);      /* smaller, without shrink */
	json_object_put(obj);
	/* Without a newline, ended by the client's EOF: still one request. */
	obj = ask(f, "{\"v\":1,\"cmd\":\"info\"", strlen("{\"v\":1,\"cmd\":\"info\""), &r);
	assert_int_equal(r, -EBADMSG);     /* truncated */
	json_object_put(obj);
}

static void test_server_oversized(void **state)
{
	struct srv_fixture *f = *state;
	char *big = malloc(CTL_MAX_REQUEST * 2);
	struct json_object *obj;
	int r;

	memset(big, 'x', CTL_MAX_REQUEST * 2);
	obj = ask(f, big, CTL_MAX_REQUEST * 2, &r);
	assert_int_equal(r, -EMSGSIZE);
	json_object_put(obj);
	free(big);
}

static void test_server_stalled_client(void **state)
{
	struct srv_fixture *f = *state;
	int stalled[CTL_MAX_CLIENTS - 1];
	struct json_object *obj;
	int r;

	/* Clients that connect and send nothing hold a slot each, not the loop. */
	for (int i = 0; i < CTL_MAX_CLIENTS - 1; i++)
		stalled[i] = connect_to(f->s.path);
	pump(&f->s, 30);
	obj = ask(f, "{\"v\":1,\"cmd\":\"info\"}\n", strlen("{\"v\":1,\"cmd\":\"info\"}\n"), &r);
	assert_int_equal(r, 0);
	json_object_put(obj);
	/* Past their deadline they are dropped: the server closed them. */
	for (int i = 0; i < CTL_MAX_CLIENTS - 1; i++) {
		f->s.clients[i].deadline_ms = 0;
	}
	pump(&f->s, 30);
	for (int i = 0; i < CTL_MAX_CLIENTS - 1; i++) {
		char c;

		assert_int_equal(read(stalled[i], &c, 1), 0);
		close(stalled[i]);
	}
}

static void test_server_live_and_stale(void **state)
{
	struct srv_fixture *f = *state;
	struct ctl_server other;
	struct ctl_target t = f->s.t;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	/* A live daemon owns it: refused, and its socket stays. */
	assert_int_equal(ctl_server_open(&other, f->dir, &t, NULL, false), -EADDRINUSE);
	ctl_server_close(&other);
	assert_int_equal(access(f->s.path, F_OK), 0);
	/* Closed: removed. */
	ctl_server_close(&f->s);
	assert_int_equal(access(f->s.path, F_OK), -1);
	/* A stale socket file (nobody listens): replaced. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->s.path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(connect_to(f->s.path), -ECONNREFUSED);
	assert_int_equal(ctl_server_open(&f->s, f->dir, &t, NULL, false), 0);
	fd = connect_to(f->s.path);
	assert_true(fd >= 0);
	close(fd);
}

/* --- Resize: the backend's slow part off the loop, the reply when it is over. --- */

struct rsz_fixture {
	struct srv_fixture srv;       /* first: the helpers above take it */
	char image[128];
	int image_fd;
	struct image img;
	struct backend_ops be;
	int nr_config_changes;
};

static struct rsz_fixture *rsz_fx;
static int release_fd = -1;          /* the slow backend's resize waits for it */

static int fake_config_changed(struct vduse_dev *dev)
{
	(void)dev;
	rsz_fx->nr_config_changes++;
	return 0;
}

/* A backend whose image sits on a stalled disk: resize() waits to be released. */
static int slow_resize(struct image *img, uint64_t size_bytes, bool is_shrink, const char **why)
{
	struct pollfd pfd = { .fd = release_fd, .events = POLLIN };

	poll(&pfd, 1, 10000);
	return image_fd_resize(img, size_bytes, is_shrink, why);
}

static int rsz_setup(void **state)
{
	struct rsz_fixture *f = calloc(1, sizeof(*f));
	struct ctl_target t;

	rsz_fx = f;
	snprintf(f->srv.dir, sizeof(f->srv.dir), "/tmp/test_ctl.XXXXXX");
	assert_non_null(mkdtemp(f->srv.dir));
	snprintf(f->image, sizeof(f->image), "%s/img", f->srv.dir);
	f->image_fd = open(f->image, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(f->image_fd >= 0);
	assert_int_equal(ftruncate(f->image_fd, 1 << 20), 0);
	f->img = (struct image){ .fd = f->image_fd, .size_bytes = 1 << 20,
				 .logical_block_size = 512 };
	f->be = backend_null;
	f->srv.blk = (struct blk_dev){ .capacity_sectors = 2048, .logical_block_size = 512,
				       .num_queues = 2, .queue_size = 64 };
	f->srv.dev.nr_queues = 2;
	f->srv.dev.queues = f->srv.queues;
	f->srv.dev.status = 0x4 | 0x2 | 0x1;
	f->srv.dev.fd = -1;
	release_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(release_fd >= 0);
	t = (struct ctl_target){ .name = "disk0", .image_path = f->image, .backend_name = "null",
				 .dev = &f->srv.dev, .blk = &f->srv.blk, .img = &f->img,
				 .be = &f->be, .config_changed = fake_config_changed };
	assert_int_equal(ctl_server_open(&f->srv.s, f->srv.dir, &t, NULL, false), 0);
	*state = f;
	return 0;
}

static int rsz_teardown(void **state)
{
	struct rsz_fixture *f = *state;

	eventfd_write(release_fd, 1);
	ctl_server_close(&f->srv.s);
	close(release_fd);
	close(f->image_fd);
	unlink(f->image);
	rmdir(f->srv.dir);
	free(f);
	return 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void test_resize_grow_and_shrink(void **state)
{
	struct rsz_fixture *f = *state;
	struct json_object *obj, *v;

	assert_int_equal(ctl_ask_reply(&f->srv.s, ctl_ask_send(&f->srv.s, "{\"v\":1,\"cmd\":"
				    "\"resize\",\"size_bytes\":2097152}\n"), 2000, &obj), 0);
	assert_true(json_object_object_get_ex(obj, "capacity_sectors", &v));
	assert_int_equal(json_object_get_int64(v), 4096);
	json_object_put(obj);
	assert_int_equal(blk_dev_capacity(&f->srv.blk), 4096);
	assert_int_equal(file_size(f->image), 2 << 20);
	assert_int_equal(f->nr_config_changes, 1);
	/* A shrink: the driver hears first, then the file is cut. */
	assert_int_equal(ctl_ask_reply(&f->srv.s, ctl_ask_send(&f->srv.s, "{\"v\":1,\"cmd\":"
				    "\"resize\",\"size_bytes\":524288,\"shrink\":true}\n"), 2000,
				    &obj), 0);
	json_object_put(obj);
	assert_int_equal(blk_dev_capacity(&f->srv.blk), 1024);
	assert_int_equal(file_size(f->image), 512 << 10);
	assert_int_equal(f->nr_config_changes, 2);
}

/* A backend that cannot resize: refused before anything changed. */
static void test_resize_unsupported_changes_nothing(void **state)
{
	struct rsz_fixture *f = *state;
	struct json_object *obj;

	f->be.resize = NULL;
	assert_int_equal(ctl_ask_reply(&f->srv.s, ctl_ask_send(&f->srv.s, "{\"v\":1,\"cmd\":"
				    "\"resize\",\"size_bytes\":524288,\"shrink\":true}\n"), 2000,
				    &obj), -EOPNOTSUPP);
	json_object_put(obj);
	assert_int_equal(blk_dev_capacity(&f->srv.blk), 2048);
	assert_int_equal(f->nr_config_changes, 0);
	assert_int_equal(file_size(f->image), 1 << 20);
}

/*
 * The image's file system stalls (a slow disk, a hung NFS server): the
 * resize waits in its job, and the loop goes on answering meanwhile.
 */
static void test_resize_waits_off_the_loop(void **state)
{
	struct rsz_fixture *f = *state;
	struct json_object *obj;
	uint64_t t0;
	int fd, other;

	f->be.resize = slow_resize;
	fd = ctl_ask_send(&f->srv.s, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":2097152}\n");
	pump(&f->srv.s, 100);
	t0 = monotonic_ms();
	assert_int_equal(ctl_ask_reply(&f->srv.s, ctl_ask_send(&f->srv.s,
				    "{\"v\":1,\"cmd\":\"info\"}\n"), 2000, &obj), 0);
	json_object_put(obj);
	print_message("info answered in %llu ms while the resize waits\n",
		      (unsigned long long)(monotonic_ms() - t0));
	assert_true(monotonic_ms() - t0 < 1000);
	/* One resize at a time. */
	other = ctl_ask_send(&f->srv.s, "{\"v\":1,\"cmd\":\"resize\",\"size_bytes\":4194304}\n");
	assert_int_equal(ctl_ask_reply(&f->srv.s, other, 2000, &obj), -EBUSY);
	json_object_put(obj);
	assert_int_equal(blk_dev_capacity(&f->srv.blk), 2048);
	assert_int_equal(f->nr_config_changes, 0);
	eventfd_write(release_fd, 1);
	assert_int_equal(ctl_ask_reply(&f->srv.s, fd, 5000, &obj), 0);
	json_object_put(obj);
	assert_int_equal(blk_dev_capacity(&f->srv.blk), 4096);
	assert_int_equal(f->nr_config_changes, 1);
}

/* Clears one capability from this thread's effective set. */
static int drop_effective(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	data[cap / 32].effective &= ~(1u << (cap % 32));
	data[cap / 32].permitted &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/*
 * The systemd unit's case: setup runs as root without CAP_CHOWN, in a state
 * directory of root and the service's group (0770).  The socket is still the
 * --user's (bound with its file system ids), so that vduse-blkctl reaches
 * the daemon, and that user can remove it at stop.  In a forked child, which
 * drops CAP_CHOWN for good; skipped when not root.
 */
static void test_server_owner_without_cap_chown(void **state)
{
	struct srv_fixture *f = *state;
	struct ctl_target t = f->s.t;
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (the daemon's setup runs as root)\n");
		skip();
	}
	ctl_server_close(&f->s);
	assert_int_equal(chown(f->dir, 0, 65534), 0);
	assert_int_equal(chmod(f->dir, 0770), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct run_as owner = { .uid = 65534, .gid = 65534 };
		struct ctl_server s;
		struct stat st;

		/* As the unit's CapabilityBoundingSet leaves it: no CAP_CHOWN. */
		if (prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0) < 0 || drop_effective(CAP_CHOWN) < 0)
			_exit(10);
		if (chown(f->dir, 65534, 65534) == 0 || errno != EPERM)
			_exit(11);          /* CAP_CHOWN is really gone */
		if (ctl_server_open(&s, f->dir, &t, &owner, false) != 0)
			_exit(12);
		if (stat(s.path, &st) < 0 || st.st_uid != 65534 || st.st_gid != 65534 ||
		    (st.st_mode & 0777) != 0600)
			_exit(13);
		/* The process's own file system ids are root's again. */
		if (setfsuid(-1) != 0)
			_exit(14);
		/* Closing removes it, as the user could. */
		ctl_server_close(&s);
		_exit(access(s.path, F_OK) == 0 ? 15 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Without an owner's write access (root's 0700 directory) it is chowned, as before. */
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(ctl_server_open(&f->s, f->dir, &t,
					 &(struct run_as){ .uid = 65534, .gid = 65534 }, false), 0);
	{
		struct stat st;

		assert_int_equal(stat(f->s.path, &st), 0);
		assert_int_equal(st.st_uid, 65534);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_oversized),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_version),
		cmocka_unit_test(test_parse_unknown_and_bad_args),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_histogram_percentiles),
		cmocka_unit_test(test_stats_counting),
		cmocka_unit_test_setup_teardown(test_server_answers, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_oversized, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_stalled_client, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_live_and_stale, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_resize_grow_and_shrink, rsz_setup,
						rsz_teardown),
		cmocka_unit_test_setup_teardown(test_resize_unsupported_changes_nothing, rsz_setup,
						rsz_teardown),
		cmocka_unit_test_setup_teardown(test_resize_waits_off_the_loop, rsz_setup,
						rsz_teardown),
		cmocka_unit_test_setup_teardown(test_server_owner_without_cap_chown, srv_setup,
						srv_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
