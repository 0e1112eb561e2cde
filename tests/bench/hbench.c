// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hbench: the data path's own cost, on the host, in seconds.
 *
 * The harness driver (tests/harness/hdrv.c) keeps QD requests in flight on
 * one split ring served by the real queue loop (vq -> blk -> backend ->
 * used ring -> interrupt) and reports requests per second.  With the null
 * backend that is the daemon's whole per-request cost; with io_uring on a
 * tmpfs image it adds the kernel's I/O.  Run under callgrind (scripts/
 * hbench.sh) it also gives instructions per request of the queue thread.
 *
 * It measures, it does not judge: the only failure is a request that does
 * not come back, or comes back with a status other than OK.
 */

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_blk.h>

#include "hdrv.h"

#define MAX_QD 128
#define MAX_SEGMENTS 16

struct bench_opts {
	const char *backend;
	unsigned int qd;
	unsigned int bs;
	bool is_write;
	double seconds;               /* run for this long ... */
	unsigned long nr_requests;    /* ... or this many requests (callgrind) */
	unsigned int image_mb;
	const char *dir;
	bool is_iotlb;                /* the daemon's IOTLB memory path (default) */
	unsigned int poll_us;
	bool is_packed;               /* --ring packed */
	const char *image;            /* --image: a backend's own (nbd://...), not a scratch file */
	unsigned int nr_segments;     /* --segments: data descriptors per request (split rings) */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hbench [--backend null|io_uring|aio] [--qd N] [--bs BYTES] [--write]\n"
		"              [--seconds S | --requests N] [--image-mb MB] [--dir DIR]\n"
		"              [--simple-memory] [--poll-us N] [--ring split|packed]\n"
		"              [--image PREFIXED-IMAGE (nbd://..., rbd:...: its backend)]\n"
		"              [--segments N (the data in N descriptors; split rings)]\n"
		"One queue, QD requests in flight, the real queue loop; prints requests/s.\n"
		"Driver memory is reached through the daemon's IOTLB path unless\n"
		"--simple-memory (the harness's flat model) is given.\n");
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "bs", required_argument, NULL, 's' },
		{ "write", no_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 't' },
		{ "requests", required_argument, NULL, 'n' },
		{ "image-mb", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'd' },
		{ "simple-memory", no_argument, NULL, 'S' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "ring", required_argument, NULL, 'r' },
		{ "image", required_argument, NULL, 'i' },
		{ "segments", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct bench_opts){ .backend = "null", .qd = 32, .bs = 4096, .seconds = 2,
				  .image_mb = 64, .dir = "/dev/shm", .is_iotlb = true,
				  .nr_segments = 1 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->backend = optarg; break;
		case 'q': o->qd = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 's': o->bs = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'w': o->is_write = true; break;
		case 't': o->seconds = strtod(optarg, NULL); break;
		case 'n': o->nr_requests = strtoul(optarg, NULL, 0); break;
		case 'm': o->image_mb = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'd': o->dir = optarg; break;
		case 'S': o->is_iotlb = false; break;
		case 'p': o->poll_us = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'i': o->image = optarg; break;
		case 'g': o->nr_segments = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'r':
			if (strcmp(optarg, "split") && strcmp(optarg, "packed")) {
				usage(stderr);
				exit(2);
			}
			o->is_packed = !strcmp(optarg, "packed");
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || o->qd == 0 || o->qd > MAX_QD || o->bs == 0 || o->bs % 512 ||
	    o->nr_segments == 0 || o->nr_segments > MAX_SEGMENTS ||
	    o->bs % (512 * o->nr_segments) || (o->nr_segments > 1 && o->is_packed) ||
	    o->qd * (o->nr_segments + 2) > 256 ||   /* descriptors in the ring of 256 */
	    (uint64_t)o->bs > (uint64_t)o->image_mb << 20) {
		usage(stderr);
		exit(2);
	}
	return 0;
}

/* A random block-aligned sector for the next request (xorshift: cheap, no libc lock). */
static uint64_t next_sector(uint64_t *seed, uint64_t nr_blocks, unsigned int bs)
{
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return (*seed % nr_blocks) * (bs / 512);
}

/*
 * Wait for used entries as Linux's virtio driver does: ask for an interrupt
 * at the next entry (used_event), look once more, then sleep on the call
 * eventfd.  Returns 0 when there are entries, -ETIMEDOUT after 5 s.
 */
static int wait_used(struct hdrv *h)
{
	struct pollfd pfd = { .fd = h->call_fd, .events = POLLIN };
	eventfd_t v;

	for (;;) {
		if (h->last_used_idx != hdrv_used_idx(h))
			return 0;
		hdrv_set_used_event(h, 0);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (h->last_used_idx != hdrv_used_idx(h))
			return 0;
		if (poll(&pfd, 1, 5000) <= 0)
			return -ETIMEDOUT;
		eventfd_read(h->call_fd, &v);
	}
}

int main(int argc, char **argv)
{
	static struct hdrv h;
	struct hreq reqs[MAX_QD];
	struct bench_opts o;
	char image[256];
	uint64_t seed = 88172645463325252ULL, nr_blocks;
	unsigned long nr_done = 0, nr_started = 0;
	struct blk_queue_stats st;
	double t0, elapsed;
	int r;

	parse(argc, argv, &o);
	nr_blocks = ((uint64_t)o.image_mb << 20) / o.bs;
	if (o.image) {
		/* The image a backend names by its prefix: it chooses the backend. */
		const char *path;
		const struct backend_ops *be = backend_for_image(o.image, &path);

		if (!be || be->missing) {
			fprintf(stderr, "hbench: --image %s: no backend of this build takes it\n",
				o.image);
			return 1;
		}
		o.backend = be->name;
		snprintf(image, sizeof(image), "%s", path);
	} else if (hdrv_make_image_in(o.dir, image, sizeof(image), (uint64_t)o.image_mb << 20,
				       0x5a)) {
		fprintf(stderr, "hbench: cannot create an image in %s\n", o.dir);
		return 1;
	}
	/* Queue size 256 as the daemon offers; every request is 3 descriptors. */
	r = hdrv_start(&h, image, &(struct hdrv_opts){ .queue_size = 256, .has_event_idx = true,
						       .backend = o.backend,
						       .is_iotlb = o.is_iotlb, .poll_us = o.poll_us,
						       .is_packed = o.is_packed });
	if (!o.image)
		unlink(image);
	if (r < 0) {
		fprintf(stderr, "hbench: starting the queue (%s): %s\n", o.backend, strerror(-r));
		return 1;
	}
	for (unsigned int i = 0; i < o.qd; i++) {
		hdrv_blk_req(&h, &reqs[i], o.is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			     next_sector(&seed, nr_blocks, o.bs), NULL, o.bs);
		if (o.nr_segments == 1) {
			hdrv_blk_chain(&h, &reqs[i]);
			continue;
		}
		/* The same buffer in nr_segments descriptors: a multi-segment request. */
		{
			struct hbuf bufs[MAX_SEGMENTS + 2];
			uint32_t seg = o.bs / o.nr_segments;

			bufs[0] = (struct hbuf){ reqs[i].hdr_iova, sizeof(struct virtio_blk_outhdr),
						 false };
			for (unsigned int k = 0; k < o.nr_segments; k++)
				bufs[1 + k] = (struct hbuf){ reqs[i].data_iova + k * seg, seg,
							     !o.is_write };
			bufs[1 + o.nr_segments] = (struct hbuf){ reqs[i].status_iova, 1, true };
			reqs[i].head = hdrv_chain(&h, bufs, o.nr_segments + 2);
		}
	}
	t0 = now_s();
	for (unsigned int i = 0; i < o.qd; i++) {
		hdrv_publish(&h, reqs[i].head);
		nr_started++;
	}
	for (;;) {
		uint16_t again[MAX_QD];
		unsigned int nr_again = 0;
		bool is_ending;

		r = wait_used(&h);
		if (r < 0) {
			fprintf(stderr, "hbench: no request came back within 5 s\n");
			return 1;
		}
		is_ending = o.nr_requests ? nr_started >= o.nr_requests
					  : now_s() - t0 >= o.seconds;
		/* Every used entry there is, then the chains go out again in one batch. */
		for (;;) {
			uint32_t id, len;
			unsigned int k;

			if (hdrv_take_used(&h, &id, &len) < 0)
				break;
			for (k = 0; k < o.qd && reqs[k].head != id; k++)
				;
			if (k == o.qd || hdrv_status(&h, &reqs[k]) != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "hbench: head %u came back %s\n", id,
					k == o.qd ? "unknown" : "with an error");
				return 1;
			}
			nr_done++;
			if (is_ending || (o.nr_requests && nr_started + nr_again >= o.nr_requests))
				continue;
			/* Same chain, new sector, fresh status: drivers reuse their buffers. */
			((struct virtio_blk_outhdr *)hdrv_ptr(&h, reqs[k].hdr_iova))->sector =
				htole64(next_sector(&seed, nr_blocks, o.bs));
			*(uint8_t *)hdrv_ptr(&h, reqs[k].status_iova) = 0xff;
			/* A packed ring's buffer ID went back to the free list: take one again. */
			if (o.is_packed)
				hdrv_blk_chain(&h, &reqs[k]);
			again[nr_again++] = reqs[k].head;
		}
		if (nr_again) {
			hdrv_publish_batch(&h, again, nr_again);
			nr_started += nr_again;
		}
		if (nr_done == nr_started)
			break;
	}
	elapsed = now_s() - t0;
	blk_queue_get_stats(h.q, &st);
	printf("hbench: backend %s, %s %u B in %u segment(s), QD%u: %lu requests in %.2f s, %.0f requests/s, "
	       "%u kicks (%u saved), %llu interrupts, %llu/%llu busy-polls hit\n",
	       o.backend, o.is_write ? "write" : "read", o.bs, o.nr_segments, o.qd, nr_done, elapsed,
	       (double)nr_done / elapsed, h.nr_kicks, h.nr_kicks_suppressed, (unsigned long long)st.nr_notifies,
	       (unsigned long long)st.nr_poll_hits,
	       (unsigned long long)(st.nr_poll_hits + st.nr_poll_misses));
	r = hdrv_stop(&h);
	return r < 0 ? 1 : 0;
}
