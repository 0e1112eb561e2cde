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
#include "log.h"
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
	const char *name;
	unsigned int nr_queues;
	unsigned int queue_size;
	unsigned int block_size;
	const char *serial;
	const char *backend;
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
"  -i, --image PATH        image file or block device to serve (required)\n"
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
"                          aio (libaio), or null (discards writes, reads zeroes)\n"
"  -d, --direct            open the image with O_DIRECT (bypass the host page cache)\n"
"  -a, --attach[=DRIVER]   add the device to the vdpa bus and bind it to DRIVER:\n"
"                          virtio (default: /dev/vdX on this host, printed on stdout)\n"
"                          or vhost (/dev/vhost-vdpa-N for a VM); detached again on exit\n"
"  -v, --verbose           log more\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Runs in the foreground and logs to stderr.  SIGTERM or SIGINT stops the queues,\n"
"flushes the image and destroys the device.  Without --attach, detach it first\n"
"(vdpa dev del NAME); with --attach the daemon detaches it itself.\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 on a command-line error.\n",
		DEFAULT_MAX_QUEUES, MAX_QUEUES);
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*o = (struct options){
		.nr_queues = default_queues(), .queue_size = 256,
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
		log_err("--backend: unknown backend '%s' (%s)", o->backend, backend_names());
		return -EINVAL;
	}
	return 0;
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

static int open_image(const struct options *o, struct image *img)
{
	int r = image_open(o->image, o->is_readonly, o->is_direct, img);

	if (!o->is_readonly && (r == -EACCES || r == -EROFS || r == -EPERM)) {
		r = image_open(o->image, true, o->is_direct, img);
		if (r == 0)
			log_warn("image '%s' cannot be opened for writing: serving it read-only",
				 o->image);
	}
	if (r == -EINVAL)
		log_err("image '%s': not a regular file or block device", o->image);
	else if (r < 0)
		log_err("image '%s': %s", o->image, strerror(-r));
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
	blk->has_write_zeroes = !img->is_readonly;
	if (o->serial) {
		memset(blk->serial, 0, sizeof(blk->serial));
		memcpy(blk->serial, o->serial, strlen(o->serial));
	} else {
		default_serial(o->image, blk->serial);
	}
	return 0;
}

static void explain_create_error(const struct options *o, int r)
{
	switch (r) {
	case -ENOENT:
	case -ENODEV:
	case -ENXIO:
		log_err("creating VDUSE device '%s': %s is missing: load the vduse module "
			"(modprobe vduse)", o->name, VDUSE_CONTROL_PATH);
		break;
	case -EEXIST:
		log_err("creating VDUSE device '%s': a device of that name already exists "
			"(another vduse-blkd, or one that was not cleaned up)", o->name);
		break;
	case -EACCES:
	case -EPERM:
		log_err("creating VDUSE device '%s': permission denied (run as root)", o->name);
		break;
	default:
		log_err("creating VDUSE device '%s': %s", o->name, strerror(-r));
		break;
	}
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

static const char *msg_name(uint32_t type)
{
	switch (type) {
	case VDUSE_GET_VQ_STATE:
		return "GET_VQ_STATE";
	case VDUSE_SET_STATUS:
		return "SET_STATUS";
	case VDUSE_UPDATE_IOTLB:
		return "UPDATE_IOTLB";
	default:
		return "unknown message";
	}
}

static void explain_attach_error(const char *name, const struct vdpa_job *job)
{
	const char *drv = vdpa_driver_name(job->drv);
	int r = job->result;

	if (job->step == VDPA_STEP_ADD && r == -ENOENT)
		log_err("attaching '%s': the vdpa netlink family is missing: load the vdpa "
			"module (modprobe vdpa)", name);
	else if (job->step == VDPA_STEP_ADD && (r == -EPERM || r == -EACCES))
		log_err("attaching '%s': permission denied (needs CAP_NET_ADMIN)", name);
	else if (job->step == VDPA_STEP_ADD && r == -EEXIST)
		log_err("attaching '%s': a vdpa device of that name already exists", name);
	else if (job->step == VDPA_STEP_ADD)
		log_err("attaching '%s' (vdpa dev add): %s", name, strerror(-r));
	else if (job->step == VDPA_STEP_BIND && r == -ENOENT)
		log_err("attaching '%s': the %s bus driver is not loaded (modprobe %s)", name,
			drv, drv);
	else if (job->step == VDPA_STEP_BIND)
		log_err("attaching '%s': binding it to %s: %s", name, drv, strerror(-r));
	else
		log_err("attaching '%s': no %s appeared%s", name,
			job->drv == VDPA_DRIVER_VHOST ? "/dev/vhost-vdpa-N" : "/dev/vdX",
			job->drv == VDPA_DRIVER_VIRTIO ? " (is virtio_blk loaded?)" : "");
}

/* The control loop: messages, signals, and the attach/detach job. */
struct control {
	const struct options *o;
	struct vduse_dev *dev;
	int sfd;
	struct vdpa_job job;
	bool is_attached;     /* by us, with --attach */
	bool is_stopping;     /* a signal came, or attaching failed */
	bool is_broken;       /* the kernel gave up on the device */
	int code;
	uint8_t old_status;
};

static void log_status_change(struct control *c)
{
	uint8_t status = c->dev->status;

	if (status == c->old_status)
		return;
	if ((status & 0x4 /* DRIVER_OK */) && !(c->old_status & 0x4))
		log_info("driver ready: serving %u queue(s)", c->dev->nr_queues);
	else if (status == 0)
		log_info("driver reset the device");
	c->old_status = status;
}

/* Begin shutting down; returns true when the loop can end now. */
static bool begin_stop(struct control *c)
{
	int r;

	c->is_stopping = true;
	if (c->job.is_running)
		return false;   /* an attach in progress: detach once it is done */
	if (!c->is_attached)
		return true;
	r = vdpa_job_detach(&c->job, c->o->name);
	if (r < 0) {
		log_err("detaching '%s': %s", c->o->name, strerror(-r));
		return true;
	}
	return false;
}

/* The job is over.  Returns true when the loop can end now. */
static bool job_done(struct control *c)
{
	bool was_detach = c->job.is_detach;
	int r = vdpa_job_finish(&c->job);

	if (was_detach) {
		if (r < 0)
			log_err("detaching '%s' (vdpa dev del): %s", c->o->name, strerror(-r));
		else
			log_info("detached '%s' from the vdpa bus", c->o->name);
		c->is_attached = r < 0;
		return true;
	}
	if (r < 0) {
		explain_attach_error(c->o->name, &c->job);
		c->code = EXIT_FAILURE_RUNTIME;
		c->is_stopping = true;
		return true;
	}
	c->is_attached = true;
	log_info("attached '%s' to %s: %s", c->o->name, vdpa_driver_name(c->job.drv), c->job.node);
	printf("%s\n", c->job.node);
	fflush(stdout);
	return c->is_stopping ? begin_stop(c) : false;
}

/*
 * The kernel marked the device broken (a control message went unanswered
 * for its timeout): nothing can use it again.  Detach what we attached, so
 * that its disk goes away and a new daemon can create the device again,
 * then exit with an error.  Returns true when the loop can end now.
 */
static bool device_broken(struct control *c)
{
	log_err("the kernel marked device '%s' broken (a control message went "
		"unanswered); it must be recreated", c->dev->name);
	c->is_broken = true;
	c->code = EXIT_FAILURE_RUNTIME;
	return c->is_stopping || begin_stop(c);
}

/* Serve control messages until a signal.  Returns 0 or -errno. */
static int serve(struct control *c)
{
	struct vduse_dev *dev = c->dev;

	if (c->o->is_attach) {
		int r = vdpa_job_attach(&c->job, c->o->name, c->o->attach_driver);

		if (r < 0) {
			log_err("attaching '%s': %s", c->o->name, strerror(-r));
			return r;
		}
	}
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = c->is_broken ? -1 : dev->fd, .events = POLLIN },
			{ .fd = c->sfd, .events = POLLIN },
			{ .fd = c->job.is_running ? c->job.done_fd : -1, .events = POLLIN },
		};
		int r;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents & POLLERR) {
			if (device_broken(c))
				return -EIO;
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			r = vduse_dev_handle_msg(dev);
			/* Answered too late: the kernel gave up on the message. */
			if (r == -ENOENT) {
				if (device_broken(c))
					return -EIO;
				continue;
			}
			if (r < 0 && r != -EAGAIN) {
				log_err("reading control messages of '%s': %s", dev->name,
					strerror(-r));
				return r;
			}
			if (r == 0 && dev->last_msg_error)
				log_err("%s refused: %s", msg_name(dev->last_msg_type),
					strerror(-dev->last_msg_error));
			log_status_change(c);
		}
		if ((pfd[2].revents & POLLIN) && job_done(c))
			return 0;
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(c->sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("%s received: shutting down", strsignal((int)si.ssi_signo));
				if (!c->is_stopping && begin_stop(c))
					return 0;
			}
		}
	}
}

/* The backend: as asked, or io_uring with libaio as the fallback. */
static const struct backend_ops *choose_backend(const struct options *o)
{
	int r;

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

int main(int argc, char **argv)
{
	struct options o;
	struct image img = { .fd = -1 };
	struct blk_dev blk;
	struct vduse_dev dev;
	const struct backend_ops *be;
	_cleanup_close_ int sfd = -1;
	int r, code = EXIT_FAILURE_RUNTIME;

	r = parse_options(argc, argv, &o);
	if (r == 1)
		return EXIT_OK;
	if (r < 0) {
		fprintf(stderr, "Try 'vduse-blkd --help' for more information.\n");
		return EXIT_USAGE;
	}
	if (o.is_verbose)
		log_max_level = LOG_DEBUG;
	if (open_image(&o, &img) < 0)
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
	be = choose_backend(&o);
	if (!be)
		goto out_image;
	if (block_signals(&sfd) < 0) {
		log_err("setting up signal handling: %s", strerror(errno));
		goto out_image;
	}
	r = vduse_dev_create(&dev, o.name, &blk, &img, be);
	if (r < 0) {
		explain_create_error(&o, r);
		goto out_image;
	}
	log_kernel();
	log_info("serving '%s' as /dev/vduse/%s: %llu sectors, %u queue(s) of %u, block size %u, "
		 "backend %s%s%s", o.image, o.name, (unsigned long long)blk.capacity_sectors,
		 blk.num_queues, blk.queue_size, blk.logical_block_size, be->name,
		 blk.is_readonly ? ", read-only" : "", img.is_direct ? ", O_DIRECT" : "");
	if (!o.is_attach)
		log_info("attach with: vdpa dev add name %s mgmtdev vduse", o.name);

	struct control c = { .o = &o, .dev = &dev, .sfd = sfd, .code = EXIT_OK,
			     .job = { .done_fd = -1 } };

	r = serve(&c);
	code = r < 0 ? EXIT_FAILURE_RUNTIME : c.code;
	vdpa_job_finish(&c.job);
	vduse_dev_stop_queues(&dev);
	if (!img.is_readonly && fdatasync(img.fd) < 0) {
		log_err("flushing '%s': %s", o.image, strerror(errno));
		code = EXIT_FAILURE_RUNTIME;
	}
	r = vduse_dev_destroy(&dev);
	if (r == -EBUSY) {
		log_err("device '%s' is still attached to the vdpa bus and was not destroyed; "
			"detach it with 'vdpa dev del %s' before stopping vduse-blkd "
			"(its I/O now waits for a new daemon)", o.name, o.name);
		code = EXIT_FAILURE_RUNTIME;
	} else if (r < 0) {
		log_err("destroying device '%s': %s", o.name, strerror(-r));
		code = EXIT_FAILURE_RUNTIME;
	} else {
		log_info("device '%s' destroyed", o.name);
	}
out_image:
	image_close(&img);
	return code;
}
