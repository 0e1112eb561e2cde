// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blkd: serve a disk image as a virtio-blk device through VDUSE.
 *
 * This file decides policy: options, defaults, messages, signals and exit
 * codes.  Everything else returns error codes and leaves the words to us.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/vduse.h>

#include "backend.h"
#include "blk.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "privileges.h"
#include "sandbox.h"
#include "state.h"
#include "takeover.h"
#include "upgrade.h"
#include "util.h"
#include "vdpa.h"
#include "vduse_dev.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1,   /* setup or runtime failure */
	EXIT_USAGE = 2,             /* bad command line */
};

#define DEFAULT_MAX_QUEUES 8
#define MAX_QUEUES 64

struct options {
	const char *image;
	const char *image_path;       /* --image without a backend's prefix */
	const char *name;
	unsigned int nr_queues;
	unsigned int queue_size;
	unsigned int block_size;
	const char *serial;
	const char *backend;
	const char *ceph_conf;
	const char *ceph_id;
	const char *state_dir;
	const char *user;
	struct run_as run_as;         /* --user, looked up */
	bool is_sandboxed;            /* --sandbox on (the default) */
	const struct backend_ops *be;
	bool is_readonly;
	bool is_direct;
	bool is_verbose;
	bool is_attach;
	enum vdpa_bus_driver attach_driver;
};

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
"  -a, --attach[=DRIVER]   add the device to the vdpa bus and bind it to DRIVER:\n"
"                          virtio (default: /dev/vdX on this host, printed on stdout)\n"
"                          or vhost (/dev/vhost-vdpa-N for a VM); detached again on exit\n"
"      --state-dir DIR     where NAME.state records requests in flight, so a restarted\n"
"                          daemon takes the device over (default %s)\n"
"      --user USER         once the device serves, run as USER (a name or UID[:GID])\n"
"                          with no capability (CAP_NET_ADMIN with --attach)\n"
"      --sandbox on|off    once the device serves, allow only the system calls serving\n"
"                          makes (seccomp; default on)\n"
"  -v, --verbose           log more\n"
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
		DEFAULT_MAX_QUEUES, MAX_QUEUES, VDB_STATE_DIR);
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

/* Returns 0 to go on, 1 to exit successfully (--help, --version), -EINVAL. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 's' },
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*o = (struct options){
		.nr_queues = default_queues(), .queue_size = 256, .state_dir = VDB_STATE_DIR,
		.is_sandboxed = true,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:n:q:s:rb:S:B:da::vhV", longopts, NULL)) != -1) {
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
		case 'Z':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_err("--sandbox: '%s' is not on or off", optarg);
				return -EINVAL;
			}
			o->is_sandboxed = !strcmp(optarg, "on");
			break;
		case 'C':
			o->ceph_conf = optarg;
			break;
		case 'I':
			o->ceph_id = optarg;
			break;
		case 'v':
			o->is_verbose = true;
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
	return parse_image(o);
}

/* A serial stable across restarts: a hash of the image's canonical path. */
static void default_serial(const char *image, char serial[VIRTIO_BLK_ID_BYTES])
{
	char path[PATH_MAX];
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[VIRTIO_BLK_ID_BYTES + 1];

	if (!realpath(image, path))
		snprintf(path, sizeof(path), "%s", image);
	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	snprintf(buf, sizeof(buf), "vdb-%016llx", (unsigned long long)h);
	memset(serial, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(serial, buf, strlen(buf));
}

/* The backend opens its image; an image that refuses writes is served read-only. */
static int open_image(const struct options *o, int adopt_fd, struct image *img)
{
	struct image_spec spec = {
		.path = o->image_path, .is_readonly = o->is_readonly, .is_direct = o->is_direct,
		.adopt_fd = adopt_fd, .ceph_conf = o->ceph_conf, .ceph_id = o->ceph_id,
	};
	int r = o->be->open(&spec, img);

	if (adopt_fd < 0 && !o->is_readonly && (r == -EACCES || r == -EROFS || r == -EPERM)) {
		spec.is_readonly = true;
		r = o->be->open(&spec, img);
		if (r == 0)
			log_warn("image '%s' cannot be opened for writing: serving it read-only",
				 o->image);
	}
	if (r < 0 && adopt_fd >= 0)
		log_err("live upgrade: the image handed over: %s", strerror(-r));
	else if (r == -EINVAL && !o->be->image_prefix)
		log_err("image '%s': not a regular file or block device", o->image);
	else if (r < 0 && !o->be->image_prefix)
		log_err("image '%s': %s", o->image, strerror(-r));
	/* A backend with its own prefix (rbd:) logged its reason itself. */
	return r;
}

static int describe_device(const struct options *o, const struct image *img, struct blk_dev *blk)
{
	/* By default the device's own logical block size (512 for files). */
	uint32_t block_size = o->block_size ? o->block_size : MAX(img->logical_block_size, 512u);
	uint64_t bytes = img->size_bytes;
	uint64_t usable = bytes - bytes % block_size;

	if (img->logical_block_size > block_size) {
		log_err("--block-size %u is smaller than the logical block size %u of '%s'",
			block_size, img->logical_block_size, o->image);
		return -EINVAL;
	}
	if (usable < BLK_SECTOR_SIZE || usable < block_size) {
		log_err("image '%s' is %llu bytes: too small to serve (at least %u bytes)",
			o->image, (unsigned long long)bytes, MAX(block_size, BLK_SECTOR_SIZE));
		return -EINVAL;
	}
	if (usable != bytes)
		log_warn("image '%s' is %llu bytes, not a multiple of %u: serving the first %llu",
			 o->image, (unsigned long long)bytes, block_size,
			 (unsigned long long)usable);
	memset(blk, 0, sizeof(*blk));
	blk->capacity_sectors = usable >> BLK_SECTOR_SHIFT;
	blk->logical_block_size = block_size;
	blk->physical_block_size = MAX(img->physical_block_size, block_size);
	blk->min_io_bytes = img->min_io_bytes;
	blk->opt_io_bytes = img->opt_io_bytes;
	blk->num_queues = (uint16_t)o->nr_queues;
	blk->queue_size = (uint16_t)o->queue_size;
	blk->is_readonly = img->is_readonly;
	blk->has_discard = !img->is_readonly && img->can_discard;
	blk->has_write_zeroes = !img->is_readonly && img->can_write_zeroes;
	if (o->serial) {
		memset(blk->serial, 0, sizeof(blk->serial));
		memcpy(blk->serial, o->serial, strlen(o->serial));
	} else {
		default_serial(o->image, blk->serial);
	}
	return 0;
}

static int block_signals(int *ret_sfd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so queue threads inherit the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	*ret_sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return *ret_sfd < 0 ? -errno : 0;
}

/* The backend: as asked, or io_uring with libaio as the fallback. */
static const struct backend_ops *choose_backend(const struct options *o)
{
	int r;

	if (o->be)
		return o->be;
	if (o->backend && strcmp(o->backend, "io_uring") != 0)
		return backend_find(o->backend);
	r = backend_io_uring_probe();
	if (r == 0)
		return &backend_io_uring;
	if (o->backend) {
		log_err("--backend io_uring: io_uring is unavailable here: %s%s", strerror(-r),
			r == -EPERM ? " (kernel.io_uring_disabled?)" : "");
		return NULL;
	}
#if HAVE_LIBAIO
	log_warn("io_uring is unavailable (%s%s): using the aio backend", strerror(-r),
		 r == -EPERM ? ", kernel.io_uring_disabled?" : r == -ENOSYS ? ", seccomp?" : "");
	return &backend_aio;
#else
	log_err("io_uring is unavailable (%s) and this build has no aio backend", strerror(-r));
	return NULL;
#endif
}

/* Which kernel and VDUSE API this run uses: the first thing to ask in a bug report. */
static void log_kernel(void)
{
	struct utsname u;
	uint64_t kernel_max = 0;
	int version = vduse_api_negotiate(&kernel_max);

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "(unknown)");
	if (version < 0)
		log_info("kernel %s, VDUSE API version unknown: %s", u.release, strerror(-version));
	else
		log_info("kernel %s, VDUSE API version %d (the kernel offers up to %llu)",
			 u.release, version, (unsigned long long)kernel_max);
}

/* SIGHUP: pause the queues and execute the installed binary in place. */
static void live_upgrade(char **argv, const struct options *o, struct vduse_dev *dev,
			 struct vdb_state *state, struct image *img)
{
	/*
	 * An image without an fd (rbd) is not handed over: it is closed before
	 * the exec, releasing what it holds (the image's exclusive lock, which
	 * the new image would otherwise wait for), and the new image opens it.
	 */
	bool is_reopened = img->fd < 0;
	struct handover h = {
		.dev_fd = dev->fd, .state_fd = state->fd, .image_fd = img->fd, .ctl_fd = dev->ctl_fd,
	};
	int r;

	r = upgrade_check_exe();
	if (r < 0) {
		log_err("live upgrade: %s cannot be executed: %s; serving on with this binary",
			upgrade_exe(), strerror(-r));
		return;
	}
	log_info("live upgrade: re-executing %s", upgrade_exe());
	h.paused_at_ms = upgrade_now_ms();
	/* Requests in flight finish first: the new image starts with none. */
	vduse_dev_stop_queues(dev);
	if (is_reopened)
		o->be->close(img);
	r = upgrade_exec(argv, &h);
	log_err("live upgrade: executing %s: %s; serving on with this binary", upgrade_exe(),
		strerror(-r));
	if (is_reopened && open_image(o, -1, img) < 0) {
		/* As a crash: the device waits for a new daemon, which takes it over. */
		log_err("live upgrade: cannot open the image again: exiting");
		exit(EXIT_FAILURE_RUNTIME);
	}
	r = vduse_dev_resume(dev);
	if (r < 0)
		log_err("live upgrade: restarting the queues of '%s': %s", dev->name, strerror(-r));
}

/* --user: the uid, gid and capabilities of a serving daemon.  Returns 1 when dropped now. */
static int drop_privileges(struct options *o)
{
	int r;

	o->run_as.keeps_net_admin = o->is_attach;
	/* A live upgrade's new image: the old one dropped them, and its filter forbids capset. */
	if (sandbox_seccomp_is_active() && getuid() == o->run_as.uid)
		return 0;
	r = privileges_drop(&o->run_as);
	if (r < 0) {
		log_err("dropping privileges to user '%s': %s", o->user, strerror(-r));
		return r;
	}
	log_info("running as uid %u, gid %u, %s", (unsigned int)o->run_as.uid,
		 (unsigned int)o->run_as.gid, o->is_attach ?
		 "with CAP_NET_ADMIN alone (to detach at exit)" : "without capabilities");
	return 1;
}

/* --sandbox on: the seccomp allowlist, in every thread, after privileges are dropped. */
static int start_sandbox(const struct options *o)
{
	struct sandbox_opts so = {
		.backend = o->be == &backend_io_uring ? SANDBOX_BACKEND_IO_URING :
#if HAVE_LIBAIO
			   o->be == &backend_aio ? SANDBOX_BACKEND_AIO :
#endif
#if HAVE_LIBRBD
			   o->be == &backend_rbd ? SANDBOX_BACKEND_RBD :
#endif
			   SANDBOX_BACKEND_NULL,
		.may_exec = true,
		.may_attach = o->is_attach,
		.may_notify = getenv("NOTIFY_SOCKET") != NULL,
	};
	int r = sandbox_seccomp_apply(&so);

	if (r < 0) {
		log_err("installing the seccomp sandbox: %s (--sandbox off serves without it)",
			strerror(-r));
		return r;
	}
	log_info(r == 1 ? "seccomp sandbox: kept the filter of the previous binary" :
		 "seccomp sandbox on");
	if (getenv("VDUSE_BLKD_TEST_SECCOMP_VIOLATION")) {
#ifdef VDB_TEST_HOOKS
		log_info("test hook: making a forbidden system call");
		r = sandbox_test_violation();
		log_err("test hook: the forbidden call returned %d", r);
#else
		log_err("VDUSE_BLKD_TEST_SECCOMP_VIOLATION: test hooks are not compiled in");
#endif
		return -EPERM;
	}
	return 0;
}

/* The device serves: from here on only what serving needs (a failure stops the daemon). */
static int on_ready(struct control *c, void *opaque)
{
	struct options *o = opaque;
	int r;

	if (o->user) {
		r = drop_privileges(o);
		if (r < 0)
			return r;
		/*
		 * Queues that served before the drop have io_uring workers, kernel
		 * threads that keep the credentials they were made with: root's.
		 * Start the queues again (the in-flight log carries them over), so
		 * their workers are made as the user.
		 */
		if (r == 1) {
			vduse_dev_stop_queues(c->dev);
			r = vduse_dev_resume(c->dev);
			if (r < 0) {
				log_err("restarting the queues of '%s' as user '%s': %s",
					c->dev->name, o->user, strerror(-r));
				return r;
			}
		}
	}
	return o->is_sandboxed ? start_sandbox(o) : 0;
}

/* Stopping: flush, destroy, and forget the state of a device that is gone. */
static int teardown(const struct options *o, struct vduse_dev *dev, struct vdb_state *state,
		    const struct image *img)
{
	int code = EXIT_OK;
	int r;

	vduse_dev_stop_queues(dev);
	r = o->be->flush(img);
	if (r < 0) {
		log_err("flushing '%s': %s", o->image, strerror(-r));
		code = EXIT_FAILURE_RUNTIME;
	}
	r = vduse_dev_destroy(dev);
	if (r == -EBUSY) {
		log_err("device '%s' is still attached to the vdpa bus and was not destroyed; "
			"its I/O waits for a new vduse-blkd with the same options, which takes it "
			"over (or detach it with 'vdpa dev del %s' before stopping)", o->name,
			o->name);
		vdb_state_close(state);
		return EXIT_FAILURE_RUNTIME;
	}
	if (r < 0) {
		log_err("destroying device '%s': %s", o->name, strerror(-r));
		vdb_state_close(state);
		return EXIT_FAILURE_RUNTIME;
	}
	log_info("device '%s' destroyed", o->name);
	vdb_state_remove(state);
	return code;
}

int main(int argc, char **argv)
{
	struct options o;
	struct image img = { .fd = -1 };
	struct blk_dev blk;
	struct vduse_dev dev;
	struct vdb_state state;
	struct handover handover;
	struct device_setup setup;
	const struct backend_ops *be;
	_cleanup_close_ int sfd = -1;
	int r, code = EXIT_FAILURE_RUNTIME;

	/* The new image of a live upgrade runs under the old one's filter: name what it refuses. */
	if (upgrade_take_handover(&handover) && sandbox_seccomp_is_active())
		sandbox_seccomp_apply(&(struct sandbox_opts){ .backend = SANDBOX_BACKEND_NULL });
	r = parse_options(argc, argv, &o);
	if (r == 1)
		return EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "Try 'vduse-blkd --help' for more information.\n");
		return EXIT_USAGE;
	}
	if (o.is_verbose)
		log_max_level = LOG_DEBUG;
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
	if (upgrade_save_exe() < 0)
		log_warn("cannot tell this binary's path: SIGHUP (live upgrade) will fail");
	be = choose_backend(&o);
	if (!be)
		return EXIT_FAILURE_RUNTIME;
	o.be = be;
	if (open_image(&o, handover.image_fd, &img) < 0)
		return EXIT_FAILURE_RUNTIME;
	if (describe_device(&o, &img, &blk) < 0)
		goto out_image;
	r = image_fit_direct(&img, blk.logical_block_size);
	if (r < 0) {
		log_err("reopening image '%s': %s", o.image, strerror(-r));
		goto out_image;
	}
	if (r > 0)
		log_warn("--direct: '%s' needs %u-byte aligned direct I/O but the device's blocks "
			 "are %u bytes: serving it through the page cache instead (--block-size %u "
			 "keeps O_DIRECT)", o.image, img.dio_offset_align, blk.logical_block_size,
			 img.dio_offset_align);
	if (block_signals(&sfd) < 0) {
		log_err("setting up signal handling: %s", strerror(errno));
		goto out_image;
	}
	if (handover.dev_fd < 0)
		log_kernel();
	setup = (struct device_setup){
		.name = o.name, .state_dir = o.state_dir, .blk = &blk, .img = &img, .be = be,
		.handover = &handover, .state = &state, .dev = &dev,
	};
	if (device_setup(&setup) < 0)
		goto out_image;
	log_info("serving '%s' as /dev/vduse/%s: %llu sectors, %u queue(s) of %u, block size %u, "
		 "backend %s%s%s", o.image, o.name, (unsigned long long)blk.capacity_sectors,
		 blk.num_queues, blk.queue_size, blk.logical_block_size, be->name,
		 blk.is_readonly ? ", read-only" : "", img.is_direct ? ", O_DIRECT" : "");
	if (!o.is_attach && !setup.is_taken_over)
		log_info("attach with: vdpa dev add name %s mgmtdev vduse", o.name);

	struct control c = { .name = o.name, .is_attach = o.is_attach,
			     .attach_driver = o.attach_driver, .dev = &dev, .sfd = sfd,
			     .on_ready = on_ready, .opaque = &o, .job = { .done_fd = -1 } };

	while ((r = control_serve(&c)) == CONTROL_RELOAD)
		live_upgrade(argv, &o, &dev, &state, &img);
	control_exit(&c);
	code = teardown(&o, &dev, &state, &img);
	if (r < 0 || c.has_failed)
		code = EXIT_FAILURE_RUNTIME;
out_image:
	be->close(&img);
	return code;
}
