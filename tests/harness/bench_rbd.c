// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_rbd: random I/O through the real data path (vq + blk + the rbd
 * backend) against a Ceph image, the harness playing the driver: QUEUES
 * queues, each with DEPTH requests of BS bytes always in flight, for
 * SECONDS.  Prints IOPS and MiB/s; tests/ceph/bench.sh compares them with
 * `rbd bench` on the same cluster (the cluster's own ceiling).
 *
 * usage: bench_rbd CEPH_CONF POOL/IMAGE read|write [BS [DEPTH [QUEUES [SECONDS]]]]
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hdrv.h"

#define RING_SIZE 1024u          /* 3 descriptors a request; room to spare for reuse */

struct bench_queue {
	pthread_t thread;
	struct hdrv h;
	const char *conf, *image;
	bool is_write;
	uint32_t bs;
	unsigned int depth;
	double seconds;
	uint64_t nr_done;
	uint64_t nr_errors;
	unsigned int seed;
	int err;
	double t_start, t_end;       /* of the I/O, without connecting */
	const struct image *shared_img; /* queue 0's: the queues of one device */
	pthread_barrier_t *started;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t random_sector(struct bench_queue *b)
{
	uint64_t nr_blocks = b->h.img.size_bytes / b->bs;

	return (uint64_t)(rand_r(&b->seed) % nr_blocks) * (b->bs / 512);
}

static void submit(struct bench_queue *b, struct hreq *r)
{
	struct virtio_blk_outhdr *hdr = hdrv_ptr(&b->h, r->hdr_iova);

	hdr->sector = htole64(random_sector(b));
	*(uint8_t *)hdrv_ptr(&b->h, r->status_iova) = 0xff;
	hdrv_blk_submit(&b->h, r);
}

static void *bench_thread(void *arg)
{
	struct bench_queue *b = arg;
	struct hdrv_opts o = { .queue_size = RING_SIZE, .backend = "rbd", .backend_opts = { { "ceph-conf", b->conf } },
			       .shared_img = b->shared_img };
	struct hreq *reqs = calloc(b->depth, sizeof(*reqs));
	struct hreq **by_head = calloc(RING_SIZE, sizeof(*by_head));
	double end;

	b->err = reqs && by_head ? hdrv_start(&b->h, b->image, &o) : -ENOMEM;
	pthread_barrier_wait(b->started);
	if (b->err < 0)
		return NULL;
	for (unsigned int i = 0; i < b->depth; i++) {
		hdrv_blk_req(&b->h, &reqs[i], b->is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0,
			     NULL, b->bs);
		submit(b, &reqs[i]);
		by_head[reqs[i].head] = &reqs[i];
	}
	b->t_start = now_s();
	end = b->t_start + b->seconds;
	for (unsigned int in_flight = b->depth; in_flight > 0;) {
		uint32_t id, len;
		struct hreq *r;

		if (hdrv_wait_used(&b->h, &id, &len, 60000) < 0) {
			b->err = -ETIMEDOUT;
			break;
		}
		r = by_head[id];
		by_head[id] = NULL;
		if (hdrv_status(&b->h, r) != VIRTIO_BLK_S_OK)
			b->nr_errors++;
		b->nr_done++;
		if (now_s() < end) {
			submit(b, r);
			by_head[r->head] = r;
		} else {
			in_flight--;
		}
	}
	b->t_end = now_s();
	free(reqs);
	free(by_head);
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_queue *qs;
	unsigned int nr_queues;
	uint64_t total = 0, errors = 0;
	double t0 = 0, t1 = 0, secs;
	pthread_barrier_t b0, b1;

	if (argc < 4) {
		fprintf(stderr, "usage: %s CEPH_CONF POOL/IMAGE read|write [BS [DEPTH [QUEUES "
			"[SECONDS]]]]\n", argv[0]);
		return 2;
	}
	nr_queues = argc > 6 ? (unsigned int)atoi(argv[6]) : 1;
	qs = calloc(nr_queues, sizeof(*qs));
	if (!qs || nr_queues == 0)
		return 2;
	for (unsigned int i = 0; i < nr_queues; i++) {
		qs[i] = (struct bench_queue){
			.conf = argv[1], .image = argv[2], .is_write = !strcmp(argv[3], "write"),
			.bs = argc > 4 ? (uint32_t)atoi(argv[4]) : 4096,
			.depth = argc > 5 ? (unsigned int)atoi(argv[5]) : 32,
			.seconds = argc > 7 ? atof(argv[7]) : 10, .seed = 1234 + i,
		};
		if (qs[i].bs % 512 || qs[i].bs == 0 || qs[i].depth == 0 ||
		    qs[i].depth * 3 > RING_SIZE / 4) {
			fprintf(stderr, "%s: BS must be a multiple of 512, DEPTH 1..%u\n", argv[0],
				RING_SIZE / 12);
			return 2;
		}
	}
	/* Queue 0 opens the image; the others serve it too, as a device's queues do. */
	pthread_barrier_init(&b0, NULL, 2);
	if (nr_queues > 1)
		pthread_barrier_init(&b1, NULL, nr_queues - 1);
	qs[0].started = &b0;
	pthread_create(&qs[0].thread, NULL, bench_thread, &qs[0]);
	pthread_barrier_wait(&b0);
	if (qs[0].err < 0) {
		fprintf(stderr, "%s: opening %s: %s\n", argv[0], argv[2], strerror(-qs[0].err));
		return 1;
	}
	for (unsigned int i = 1; i < nr_queues; i++) {
		qs[i].shared_img = &qs[0].h.img;
		qs[i].started = &b1;
		pthread_create(&qs[i].thread, NULL, bench_thread, &qs[i]);
	}
	for (unsigned int i = 0; i < nr_queues; i++)
		pthread_join(qs[i].thread, NULL);
	/* Queue 0 stops last: the others use its image. */
	for (unsigned int i = nr_queues; i-- > 0;)
		hdrv_stop(&qs[i].h);
	for (unsigned int i = 0; i < nr_queues; i++) {
		if (qs[i].err < 0) {
			fprintf(stderr, "%s: queue %u: %s\n", argv[0], i, strerror(-qs[i].err));
			return 1;
		}
		total += qs[i].nr_done;
		if (t0 == 0 || qs[i].t_start < t0)
			t0 = qs[i].t_start;
		if (qs[i].t_end > t1)
			t1 = qs[i].t_end;
		errors += qs[i].nr_errors;
	}
	secs = t1 - t0;
	printf("vduse-blkd rbd %s bs=%s depth=%u queues=%u: %llu ops in %.2f s: %.0f IOPS, "
	       "%.1f MiB/s, %llu errors\n", argv[3], argc > 4 ? argv[4] : "4096", qs[0].depth,
	       nr_queues, (unsigned long long)total, secs, (double)total / secs,
	       (double)total * qs[0].bs / secs / (1 << 20), (unsigned long long)errors);
	return errors ? 1 : 0;
}
