// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blkd: serve a disk image as a virtio-blk device through VDUSE.
 *
 * This file parses the command line and hands it to the daemon (daemon.c,
 * which runs the lifecycle).  Both decide policy: options, defaults,
 * messages, signals and exit codes.  Everything else returns error codes and
 * leaves the words to them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "blk/blk.h"
#include "config.h"
#include "daemon/daemon.h"
#include "log.h"
#include "sandbox/privileges.h"
#include "sandbox/sandbox.h"
#include "recovery/state.h"
#include "recovery/upgrade.h"
#include "util.h"
#include "vduse/vdpa.h"
#include "virtio/vq.h"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: vduse-blkd --image PATH --name NAME [OPTIONS]\n"
"\n"
"Serve a disk image or block device as a virtio-blk device through VDUSE.\n"
"Attach it with: vdpa dev add name NAME mgmtdev vduse\n"
"\n"
"Options:\n"
"  -i, --image PATH        image file or block device to serve (required), or\n"
"                          rbd:POOL/IMAGE[@SNAP], a Ceph RBD image (a snapshot read-only)\n"
"  -n, --name NAME         VDUSE device name, /dev/vduse/NAME (required)\n"
"  -q, --queues N          virtqueues, one thread each (default: online CPUs, at most %d;\n"
"                          1..%d)\n"
"  -s, --queue-size N      descriptors per queue, a power of two 2..1024 (default 256)\n"
"  -r, --readonly          refuse writes; also chosen when the image cannot be opened\n"
"                          for writing\n"
"  -b, --block-size N      logical block size: 512, 1024, 2048 or 4096 (default: 512,\n"
"                          or a block device's own logical block size)\n"
"  -S, --serial STR        serial reported by GET_ID, at most 20 bytes\n"
"                          (default: derived from the image path)\n"
"  -B, --backend NAME      io_uring (default; aio is used when io_uring is unavailable),\n"
"                          aio (libaio), null (discards writes, reads zeroes), or rbd\n"
"                          (chosen by an rbd: image)\n"
"  -d, --direct            open the image with O_DIRECT (bypass the host page cache)\n"
"      --ceph-conf PATH    rbd: the Ceph configuration (default: librados' search,\n"
"                          /etc/ceph/ceph.conf)\n"
"      --ceph-id NAME      rbd: the cephx client name without \"client.\" (default admin);\n"
"                          the keyring is found where ceph.conf says\n"
"      --poll-us N         when a queue runs empty, watch its ring for N microseconds\n"
"                          before sleeping (0..1000; default 0: sleep at once)\n"
"      --ring LAYOUT       virtqueue layout: auto (offer packed and split, the driver\n"
"                          picks), split, or packed (the driver must accept it)\n"
"                          (default split)\n"
"  -a, --attach[=DRIVER]   add the device to the vdpa bus and bind it to DRIVER:\n"
"                          virtio (default: /dev/vdX on this host, printed on stdout)\n"
"                          or vhost (/dev/vhost-vdpa-N for a VM); detached again on exit\n"
"      --state-dir DIR     where NAME.state records requests in flight, so a restarted\n"
"                          daemon takes the device over (default %s)\n"
"      --user USER         once the device serves, run as USER (a name or UID[:GID])\n"
"                          with no capability (CAP_NET_ADMIN with --attach)\n"
"      --sandbox MODE      once the device serves, allow only the system calls serving\n"
"                          makes (seccomp) and the files it opens (Landlock): on\n"
"                          (default; a forbidden call kills the daemon), off, or record\n"
"                          (a forbidden call fails with ENOSYS and is logged)\n"
"  -v, --verbose[=LIST]    debug messages: all, or the categories in LIST, comma-separated\n"
"                          from %s\n"
"                          (trace: every request, in builds with -Dtrace only)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Runs in the foreground and logs to stderr.  SIGTERM or SIGINT stops the queues,\n"
"flushes the image and destroys the device.  Without --attach, detach it first\n"
"(vdpa dev del NAME); with --attach the daemon detaches it itself.\n"
"SIGHUP re-executes the binary in place (live upgrade) keeping the device; a daemon\n"
"started for a device that exists takes it over and replays requests in flight.\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 on a command-line error.\n",
		DEFAULT_MAX_QUEUES, MAX_QUEUES, VDB_STATE_DIR, LOG_CAT_NAMES);
}

static int parse_uint(const char *opt, const char *s, unsigned int min, unsigned int max,
		      unsigned int *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		log_err("%s: '%s' is not a number from %u to %u", opt, s, min, max);
		return -EINVAL;
	}
	*ret = (unsigned int)v;
	return 0;
}

static int parse_pow2(const char *opt, const char *s, unsigned int min, unsigned int max,
		      unsigned int *ret)
{
	if (parse_uint(opt, s, min, max, ret) < 0)
		return -EINVAL;
	if (!is_power_of_2(*ret)) {
		log_err("%s: %u is not a power of two", opt, *ret);
		return -EINVAL;
	}
	return 0;
}

static unsigned int default_queues(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > DEFAULT_MAX_QUEUES ? DEFAULT_MAX_QUEUES : (unsigned int)n;
}

/* Returns 0 to go on, 1 to exit successfully (--help, --version), -EINVAL. */
static int parse_image(struct options *o);

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 's' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "ring", required_argument, NULL, 'R' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "serial", required_argument, NULL, 'S' },
		{ "backend", required_argument, NULL, 'B' },
		{ "direct", no_argument, NULL, 'd' },
		{ "attach", optional_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "user", required_argument, NULL, 'u' },
		{ "sandbox", required_argument, NULL, 'Z' },
		{ "ceph-conf", required_argument, NULL, 'C' },
		{ "ceph-id", required_argument, NULL, 'I' },
		{ "verbose", optional_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*o = (struct options){
		.nr_queues = default_queues(), .queue_size = 256, .state_dir = VDB_STATE_DIR,
		.is_sandboxed = true,
		.ring = VQ_RING_SPLIT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:n:q:s:rb:S:B:da::v::hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->image = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'q':
			if (parse_uint("--queues", optarg, 1, MAX_QUEUES, &o->nr_queues) < 0)
				return -EINVAL;
			break;
		case 's':
			if (parse_pow2("--queue-size", optarg, 2, VQ_MAX_SIZE, &o->queue_size) < 0)
				return -EINVAL;
			break;
		case 'r':
			o->is_readonly = true;
			break;
		case 'b':
			if (parse_pow2("--block-size", optarg, 512, 4096, &o->block_size) < 0)
				return -EINVAL;
			break;
		case 'S':
			if (strlen(optarg) > VIRTIO_BLK_ID_BYTES) {
				log_err("--serial: '%s' is longer than %d bytes", optarg,
					VIRTIO_BLK_ID_BYTES);
				return -EINVAL;
			}
			o->serial = optarg;
			break;
		case 'B':
			o->backend = optarg;
			break;
		case 'd':
			o->is_direct = true;
			break;
		case 'a':
			o->is_attach = true;
			if (!optarg || strcmp(optarg, "virtio") == 0) {
				o->attach_driver = VDPA_DRIVER_VIRTIO;
			} else if (strcmp(optarg, "vhost") == 0) {
				o->attach_driver = VDPA_DRIVER_VHOST;
			} else {
				log_err("--attach: unknown driver '%s' (virtio or vhost)", optarg);
				return -EINVAL;
			}
			break;
		case 'D':
			if (!optarg[0]) {
				log_err("--state-dir: the directory must not be empty");
				return -EINVAL;
			}
			o->state_dir = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			if (parse_uint("--poll-us", optarg, 0, 1000, &o->poll_us) < 0)
				return -EINVAL;
			break;
		case 'R':
			if (!strcmp(optarg, "auto")) {
				o->ring = VQ_RING_AUTO;
			} else if (!strcmp(optarg, "split")) {
				o->ring = VQ_RING_SPLIT;
			} else if (!strcmp(optarg, "packed")) {
				o->ring = VQ_RING_PACKED;
			} else {
				log_err("--ring: '%s' is not auto, split or packed", optarg);
				return -EINVAL;
			}
			break;
		case 'Z':
			if (strcmp(optarg, "on") && strcmp(optarg, "off") && strcmp(optarg, "record")) {
				log_err("--sandbox: '%s' is not on, off or record", optarg);
				return -EINVAL;
			}
			o->is_sandboxed = strcmp(optarg, "off") != 0;
			o->is_sandbox_recording = !strcmp(optarg, "record");
			break;
		case 'C':
			o->ceph_conf = optarg;
			break;
		case 'I':
			o->ceph_id = optarg;
			break;
		case 'v':
			if (!optarg) {
				o->debug_mask = LOG_CAT_ALL;
			} else if (log_parse_debug(optarg, &o->debug_mask) < 0) {
				log_err("--verbose: '%s' is not a list of %s or all", optarg,
					LOG_CAT_NAMES);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("vduse-blkd %s\n", VDB_VERSION);
			return 1;
		case ':':
			log_err("option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			log_err("unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->image || !o->name) {
		log_err("%s is required", !o->image ? "--image" : "--name");
		return -EINVAL;
	}
	if (!o->name[0] || strlen(o->name) >= 256 || strchr(o->name, '/')) {
		log_err("--name: '%s' must be 1 to 255 bytes without '/'", o->name);
		return -EINVAL;
	}
	if (o->backend && !backend_find(o->backend)) {
		if (strcmp(o->backend, "rbd") == 0)
			log_err("--backend rbd: this build has no rbd backend (librbd was not "
				"found at build time: install librbd-dev, -Drbd=enabled)");
		else
			log_err("--backend: unknown backend '%s' (%s)", o->backend,
				backend_names());
		return -EINVAL;
	}
	if (parse_image(o) < 0)
		return -EINVAL;
	return 0;
}

/* --image: a path, or a backend's prefix (rbd:) that chooses the backend. */
static int parse_image(struct options *o)
{
	const struct backend_ops *be;
	int r = backend_for_image(o->image, &be, &o->image_path);

	if (r == -ENOTSUP) {
		log_err("--image '%s': this build has no rbd backend (librbd was not found at "
			"build time: install librbd-dev, -Drbd=enabled)", o->image);
		return -EINVAL;
	}
	if (o->backend && be && strcmp(o->backend, be->name) != 0) {
		log_err("--image '%s' is served by the %s backend, not --backend %s", o->image,
			be->name, o->backend);
		return -EINVAL;
	}
	if (!be && o->backend && backend_find(o->backend)->image_prefix) {
		log_err("--backend %s: --image must be %s...", o->backend,
			backend_find(o->backend)->image_prefix);
		return -EINVAL;
	}
	if (be)
		o->be = be;
	if ((o->ceph_conf || o->ceph_id) && (!be || strcmp(be->name, "rbd") != 0)) {
		log_err("--ceph-conf and --ceph-id are for an rbd:POOL/IMAGE --image");
		return -EINVAL;
	}
	if (be && o->is_direct) {
		log_err("--direct: the %s backend has no page cache to bypass", be->name);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct handover handover;
	int r;

	log_init();
	/* The new image of a live upgrade runs under the old one's filter: name what it refuses. */
	if (upgrade_take_handover(&handover) && sandbox_seccomp_is_active())
		sandbox_seccomp_catch_sigsys();
	r = parse_options(argc, argv, &o);
	/* ... and record them instead, as the options say. */
	if (handover.dev_fd >= 0 && sandbox_seccomp_is_active())
		daemon_sandbox_handler(&o);
	if (r == 1)
		return EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "Try 'vduse-blkd --help' for more information.\n");
		return EXIT_USAGE;
	}
	if (o.debug_mask)
		log_set_debug(o.debug_mask);
	/*
	 * The new image of a live upgrade runs as the user already, under a
	 * filter that refuses what a passwd lookup may do (nscd's socket).
	 */
	if (o.user && handover.dev_fd >= 0) {
		o.run_as = (struct run_as){ .uid = getuid(), .gid = getgid() };
	} else if (o.user && privileges_lookup(o.user, &o.run_as) < 0) {
		log_err("--user: no user '%s' (a name, or UID[:GID] other than 0)", o.user);
		fprintf(stderr, "Try 'vduse-blkd --help' for more information.\n");
		return EXIT_USAGE;
	}
	return daemon_run(&o, &handover, argv);
}
