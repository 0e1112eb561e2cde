// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-blk-test: drive a virtio-blk device through /dev/vhost-vdpa-N from
 * userspace, the way a VMM does, and check what a guest would see: data
 * both ways (and on the image file), FLUSH, GET_ID, errors, multi-segment,
 * odd and indirect layouts, batches, ring wrap-around and, with --remap, an
 * IOTLB remap of all guest memory while the device runs; on split rings or,
 * with --ring packed, on packed ones.
 *
 * One line per check: "ok: ..." or "FAIL: ...".  Exit 0 when every check
 * passed, 1 otherwise, 2 on a usage error, 77 when the node cannot be
 * opened.  Every wait has a timeout, and a watchdog ends the run if a step
 * (an ioctl the kernel holds, say) makes no progress.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "vhost-blk-test.h"

#define MEM_BYTES (4u << 20)
#define DEFAULT_IOVA 0x40000000ULL       /* deliberately unlike any host address */
#define WATCHDOG_MS 60000

/* --- the watchdog ------------------------------------------------------------ */

static long long g_deadline_ms;
static const char *g_step = "start";

void progress(const char *step)
{
	__atomic_store_n(&g_step, step, __ATOMIC_RELEASE);
	__atomic_store_n(&g_deadline_ms, now_ms() + WATCHDOG_MS, __ATOMIC_RELEASE);
}

static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(200000);
		if (now_ms() > __atomic_load_n(&g_deadline_ms, __ATOMIC_ACQUIRE)) {
			printf("FAIL: watchdog: no progress for %d s in step '%s'\n",
			       WATCHDOG_MS / 1000, __atomic_load_n(&g_step, __ATOMIC_ACQUIRE));
			fflush(stdout);
			_exit(1);
		}
	}
	return NULL;
}

/* --- setup -------------------------------------------------------------------- */

static const char *feature_names(uint64_t f, char *buf, size_t len)
{
	static const struct { unsigned int bit; const char *name; } names[] = {
		{ VIRTIO_BLK_F_SIZE_MAX, "SIZE_MAX" }, { VIRTIO_BLK_F_SEG_MAX, "SEG_MAX" },
		{ VIRTIO_BLK_F_RO, "RO" }, { VIRTIO_BLK_F_BLK_SIZE, "BLK_SIZE" },
		{ VIRTIO_BLK_F_FLUSH, "FLUSH" }, { VIRTIO_BLK_F_TOPOLOGY, "TOPOLOGY" },
		{ VIRTIO_BLK_F_CONFIG_WCE, "CONFIG_WCE" }, { VIRTIO_BLK_F_MQ, "MQ" },
		{ VIRTIO_BLK_F_DISCARD, "DISCARD" }, { VIRTIO_BLK_F_WRITE_ZEROES, "WRITE_ZEROES" },
		{ VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC" }, { VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
		{ VIRTIO_F_VERSION_1, "VERSION_1" }, { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
		{ VIRTIO_F_RING_PACKED, "RING_PACKED" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1ULL << names[i].bit) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", names[i].name);
	return buf;
}

static bool setup_probe(struct vbt *t)
{
	struct vdrv *d = &t->d;
	struct virtio_blk_config cfg;
	uint32_t cfg_len = sizeof(cfg);
	const uint64_t must = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	char names[400];

	progress("probe");
	if (vdrv_probe(d) < 0) {
		fail(t, "probe: %s", vdrv_err(d));
		return false;
	}
	if (d->device_id != VIRTIO_ID_BLOCK) {
		fail(t, "device id %u, expected %u (virtio-blk)", d->device_id, VIRTIO_ID_BLOCK);
		return false;
	}
	ok(t, "device id %u (virtio-blk); vhost backend features 0x%llx%s%s", d->device_id,
	   (unsigned long long)d->backend_features,
	   d->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) ? " IOTLB_MSG_V2" : "",
	   d->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_BATCH) ? " IOTLB_BATCH" : "");
	if ((d->dev_features & must) != must) {
		fail(t, "device features 0x%llx lack VERSION_1 or ACCESS_PLATFORM",
		     (unsigned long long)d->dev_features);
		return false;
	}
	ok(t, "device features 0x%llx: %s", (unsigned long long)d->dev_features,
	   feature_names(d->dev_features, names, sizeof(names)));

	if (d->config_size && d->config_size < cfg_len)
		cfg_len = d->config_size;
	memset(&cfg, 0, sizeof(cfg));
	if (vdrv_get_config(d, 0, &cfg, cfg_len) < 0) {
		fail(t, "config: %s", vdrv_err(d));
		return false;
	}
	t->capacity = le64toh(cfg.capacity);
	t->seg_max = d->dev_features & (1ULL << VIRTIO_BLK_F_SEG_MAX) ? le32toh(cfg.seg_max) : 1;
	t->blk_size = d->dev_features & (1ULL << VIRTIO_BLK_F_BLK_SIZE) ? le32toh(cfg.blk_size) : 512;
	t->num_queues = d->dev_features & (1ULL << VIRTIO_BLK_F_MQ) ? le16toh(cfg.num_queues) : 1;
	if (!t->capacity || !t->seg_max || t->blk_size < 512 || (t->blk_size & (t->blk_size - 1)) ||
	    !t->num_queues || (d->nr_vqs && d->nr_vqs != t->num_queues)) {
		fail(t, "config: capacity %llu, seg_max %u, blk_size %u, num_queues %u, %u vqs: inconsistent",
		     (unsigned long long)t->capacity, t->seg_max, t->blk_size, t->num_queues, d->nr_vqs);
		return false;
	}
	ok(t, "config (%u bytes): capacity %llu sectors (%llu MiB), blk_size %u, seg_max %u, num_queues %u; max ring size %u",
	   d->config_size, (unsigned long long)t->capacity, (unsigned long long)(t->capacity >> 11),
	   t->blk_size, t->seg_max, t->num_queues, d->max_vring_num);
	if (t->img_fd >= 0) {
		struct stat st;

		if (fstat(t->img_fd, &st) == 0 && S_ISREG(st.st_mode)) {
			if ((uint64_t)st.st_size / 512 == t->capacity)
				ok(t, "capacity matches the image file (%lld bytes)", (long long)st.st_size);
			else
				fail(t, "capacity %llu sectors, but the image file has %lld bytes",
				     (unsigned long long)t->capacity, (long long)st.st_size);
		}
	}
	return true;
}

bool setup_start(struct vbt *t)
{
	struct vdrv *d = &t->d;
	uint64_t iova = DEFAULT_IOVA, want, opt;
	uint16_t num;
	uint8_t status;
	char names[400];

	/* Guest memory first, as QEMU maps RAM once features are known. */
	progress("status ACKNOWLEDGE|DRIVER");
	if (vdrv_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE) < 0 ||
	    vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER) < 0) {
		fail(t, "status ACKNOWLEDGE|DRIVER: %s", vdrv_err(d));
		return false;
	}
	want = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	opt = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
	      1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_TOPOLOGY | 1ULL << VIRTIO_BLK_F_MQ |
	      1ULL << VIRTIO_BLK_F_RO | 1ULL << VIRTIO_BLK_F_DISCARD |
	      1ULL << VIRTIO_BLK_F_WRITE_ZEROES | 1ULL << VIRTIO_BLK_F_SIZE_MAX;
	if (!t->o.no_event_idx)
		opt |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (!t->o.no_indirect)
		opt |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	want |= d->dev_features & opt;
	if (t->o.is_packed) {
		if (!(d->dev_features & (1ULL << VIRTIO_F_RING_PACKED))) {
			fail(t, "--ring packed: the device does not offer RING_PACKED (features 0x%llx)",
			     (unsigned long long)d->dev_features);
			return false;
		}
		want |= 1ULL << VIRTIO_F_RING_PACKED;
	}
	progress("features");
	if (vdrv_set_features(d, want) < 0) {
		fail(t, "features 0x%llx: %s", (unsigned long long)want, vdrv_err(d));
		return false;
	}
	ok(t, "features 0x%llx accepted, FEATURES_OK set: %s", (unsigned long long)want,
	   feature_names(want, names, sizeof(names)));
	t->is_ro = want & (1ULL << VIRTIO_BLK_F_RO);
	t->has_indirect = want & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	t->has_wz = want & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	t->has_flush = want & (1ULL << VIRTIO_BLK_F_FLUSH);

	if (iova < d->iova_range.first || iova + MEM_BYTES - 1 > d->iova_range.last)
		iova = (d->iova_range.first + 0xfff) & ~0xfffULL;
	progress("IOTLB map");
	if (vdrv_map_mem(d, iova, MEM_BYTES) < 0) {
		fail(t, "mapping guest memory: %s", vdrv_err(d));
		return false;
	}
	ok(t, "%u MiB memfd mapped at IOVA 0x%llx (device IOVA range 0x%llx-0x%llx)%s",
	   MEM_BYTES >> 20, (unsigned long long)iova, (unsigned long long)d->iova_range.first,
	   (unsigned long long)d->iova_range.last,
	   d->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_BATCH) ? " in one IOTLB batch" : "");

	num = d->max_vring_num < VDRV_MAX_NUM ? d->max_vring_num : VDRV_MAX_NUM;
	if (t->o.queue_size)
		num = (uint16_t)t->o.queue_size;
	progress("queue setup");
	if (num < 8 || vdrv_vq_setup(d, 0, num) < 0) {
		fail(t, "queue 0 with %u entries: %s", num,
		     num < 8 ? "this tool needs at least 8" : vdrv_err(d));
		return false;
	}
	d->vq.is_always_kick = t->o.is_always_kick;
	ok(t, "queue 0: %u entries, %s at IOVA 0x%llx/0x%llx/0x%llx, kick and call eventfds, enabled",
	   num, d->vq.is_packed ? "packed ring/driver event/device event" : "desc/avail/used", (unsigned long long)vdrv_iova_of(d, VDRV_DESC_OFF),
	   (unsigned long long)vdrv_iova_of(d, VDRV_AVAIL_OFF),
	   (unsigned long long)vdrv_iova_of(d, VDRV_USED_OFF));

	progress("DRIVER_OK");
	if (vdrv_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK) < 0) {
		fail(t, "DRIVER_OK: %s", vdrv_err(d));
		return false;
	}
	if (vdrv_get_status(d, &status) < 0 || (status & VIRTIO_CONFIG_S_NEEDS_RESET) ||
	    (status & VIRTIO_CONFIG_S_FAILED)) {
		fail(t, "DRIVER_OK: status 0x%02x", status);
		return false;
	}
	ok(t, "DRIVER_OK: status 0x%02x", status);
	return true;
}

/* --- main --------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
"Usage: vhost-blk-test NODE [OPTIONS]\n"
"\n"
"Drive the virtio-blk device at NODE (/dev/vhost-vdpa-N) as a VMM would and\n"
"check reads, writes, FLUSH, GET_ID, errors and descriptor layouts.  The\n"
"device must be writable with at least 8 MiB; its data is overwritten.\n"
"\n"
"  --image PATH      the image the device serves: compare it after FLUSH\n"
"  --serial STR      the serial GET_ID must return\n"
"  --remap           also remap all guest memory while the device runs\n"
"  --no-event-idx    do not negotiate EVENT_IDX\n"
"  --no-indirect     do not negotiate INDIRECT_DESC\n"
"  --always-kick     kick on every publish, even when the device says it polls\n"
"  --ring LAYOUT     split (default) or packed (negotiate VIRTIO_F_RING_PACKED)\n"
"  --queue-size N    ring entries (default: the device's maximum, at most 1024;\n"
"                    a power of two: vhost takes no other, packed or not)\n"
"  --timeout-ms N    wait this long for each completion (default 10000)\n"
"\n"
"Fault injection (instead of the checks):\n"
"  --reset-stall SECTOR  READs at SECTOR, which the image stalls, then a reset\n"
"                    without waiting for them: it must be answered within\n"
"                    --reset-budget-ms (default 10000); then the device is set\n"
"                    up again in fresh memory and must work\n"
"  --fast-sector N   a sector outside the stalled range (default 8192)\n"
"  --direct-dma      the daemon's image is O_DIRECT: abandoned READs may still\n"
"                    land in the pages they pinned (reported, not a failure)\n"
"  --stall-end CMD   shell command that ends the stall, run after the checks on\n"
"                    the fresh device: no stalled READ may then land anywhere\n"
"  --remap-storm N   N IOTLB remaps of all memory, each with a second region\n"
"                    mapped and unmapped while WRITEs are in flight; all data\n"
"                    verified\n"
"  -h, --help\n"
"\n"
"Exit status: 0 all checks passed, 1 a check failed, 2 usage, 77 NODE cannot be opened.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "serial", required_argument, NULL, 'S' },
		{ "remap", no_argument, NULL, 'R' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "no-indirect", no_argument, NULL, 'I' },
		{ "always-kick", no_argument, NULL, 'K' },
		{ "ring", required_argument, NULL, 'L' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "reset-stall", required_argument, NULL, 'r' },
		{ "fast-sector", required_argument, NULL, 'f' },
		{ "reset-budget-ms", required_argument, NULL, 'b' },
		{ "stall-end", required_argument, NULL, 'e' },
		{ "direct-dma", no_argument, NULL, 'D' },
		{ "remap-storm", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .timeout_ms = 10000, .fast_sector = 8192, .reset_budget_ms = 10000 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o->image = optarg; break;
		case 'S': o->serial = optarg; break;
		case 'R': o->is_remap = true; break;
		case 'E': o->no_event_idx = true; break;
		case 'I': o->no_indirect = true; break;
		case 'K': o->is_always_kick = true; break;
		case 'L':
			if (strcmp(optarg, "packed") && strcmp(optarg, "split")) {
				usage(stderr);
				return -EINVAL;
			}
			o->is_packed = !strcmp(optarg, "packed");
			break;
		case 'q': o->queue_size = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 't': o->timeout_ms = atoi(optarg); break;
		case 'r': o->is_reset_stall = true; o->stall_sector = strtoull(optarg, NULL, 0); break;
		case 'f': o->fast_sector = strtoull(optarg, NULL, 0); break;
		case 'b': o->reset_budget_ms = atoi(optarg); break;
		case 'e': o->stall_end_cmd = optarg; break;
		case 'D': o->is_direct_dma = true; break;
		case 'm': o->remap_storm = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc - 1 || o->timeout_ms <= 0 || o->reset_budget_ms <= 0 ||
	    (o->is_reset_stall && o->remap_storm) ||
	    (o->serial && strlen(o->serial) > VIRTIO_BLK_ID_BYTES) ||
	    (o->queue_size && (o->queue_size > VDRV_MAX_NUM || (o->queue_size & (o->queue_size - 1))))) {
		usage(stderr);
		return -EINVAL;
	}
	o->node = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	static struct vbt t;
	pthread_t wd;
	uint8_t status = 0xff;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_opts(argc, argv, &t.o) < 0)
		return 2;
	t.img_fd = -1;
	if (t.o.image) {
		t.img_fd = open(t.o.image, O_RDWR | O_CLOEXEC);
		t.is_img_writable = t.img_fd >= 0;
		if (t.img_fd < 0)
			t.img_fd = open(t.o.image, O_RDONLY | O_CLOEXEC);
		if (t.img_fd < 0) {
			printf("FAIL: opening the image %s: %s\n", t.o.image, strerror(errno));
			return 1;
		}
	}
	progress("open");
	pthread_create(&wd, NULL, watchdog, NULL);

	r = vdrv_open(&t.d, t.o.node);
	if (r < 0 && t.d.fd < 0) {
		printf("skip: cannot open %s: %s\n", t.o.node, strerror(-r));
		return 77;
	}
	if (r < 0)
		fail(&t, "%s", vdrv_err(&t.d));
	else
		ok(&t, "opened %s, VHOST_SET_OWNER", t.o.node);

	if (r == 0 && setup_probe(&t) && setup_start(&t)) {
		if (t.o.is_reset_stall)
			run_reset_stall(&t);
		else if (t.o.remap_storm)
			run_remap_storm(&t);
		else
			run_checks(&t);
	}

	/*
	 * What a stopping VM asks (VHOST_GET_VRING_BASE -> VDUSE GET_VQ_STATE):
	 * with nothing in flight, the device has consumed every published chain
	 * (packed: it is at the driver's avail slot and wrap counter, and has used
	 * up to the slot the driver reads next).
	 */
	if (r == 0 && !t.is_stuck && t.d.vq.avail && vdrv_nr_inflight(&t.d) == 0) {
		struct vhost_vring_state vs = { .index = 0 };

		if (ioctl(t.d.fd, VHOST_GET_VRING_BASE, &vs) < 0) {
			fail(&t, "VHOST_GET_VRING_BASE: %s", strerror(errno));
		} else if (t.d.vq.is_packed) {
			uint16_t avail = vdrv_packed_pos(&t.d, false), used = vdrv_packed_pos(&t.d, true);
			uint16_t dev_avail = (uint16_t)vs.num, dev_used = (uint16_t)(vs.num >> 16);

			if (dev_avail != avail || dev_used != used)
				fail(&t, "VHOST_GET_VRING_BASE (packed): device avail %u wrap %u, used %u wrap %u; driver published %u wrap %u, used %u wrap %u",
				     dev_avail & 0x7fff, dev_avail >> 15, dev_used & 0x7fff, dev_used >> 15,
				     avail & 0x7fff, avail >> 15, used & 0x7fff, used >> 15);
			else
				ok(&t, "VHOST_GET_VRING_BASE (GET_VQ_STATE, packed): avail %u wrap %u, used %u wrap %u, after %u chains",
				   dev_avail & 0x7fff, dev_avail >> 15, dev_used & 0x7fff, dev_used >> 15,
				   t.d.vq.published_idx);
		} else if (vs.num != t.d.vq.published_idx)
			fail(&t, "VHOST_GET_VRING_BASE: device at avail index %u, driver published %u",
			     vs.num, t.d.vq.published_idx);
		else
			ok(&t, "VHOST_GET_VRING_BASE (GET_VQ_STATE): avail index %u", vs.num);
	}

	progress("reset");
	if (t.d.fd >= 0) {
		if (vdrv_set_status(&t.d, 0) == 0 && vdrv_get_status(&t.d, &status) == 0 && status == 0)
			ok(&t, "reset: status 0");
		else
			fail(&t, "reset: status 0x%02x: %s", status, vdrv_err(&t.d));
	}
	info("%llu kicks (%llu suppressed by the device), %llu interrupts",
	     (unsigned long long)t.d.vq.nr_kicks, (unsigned long long)t.d.vq.nr_kicks_suppressed,
	     (unsigned long long)t.d.vq.nr_calls);
	progress("close");
	vdrv_close(&t.d);
	if (t.img_fd >= 0)
		close(t.img_fd);
	printf("%u ok, %u failed, %u skipped\n", t.nr_ok, t.nr_fail, t.nr_skip);
	return t.nr_fail || !t.nr_ok ? 1 : 0;
}
