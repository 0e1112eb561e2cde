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

#define HELP_COLUMN 26     /* where an option's text starts */
#define HELP_WIDTH 88      /* and where its lines end */

/* "  LEFT" padded to HELP_COLUMN (or a line of its own), then @text wrapped at word ends. */
static void help_item(FILE *out, const char *left, const char *text)
{
	int col = fprintf(out, "  %s", left);
	const char *p = text;

	if (col >= HELP_COLUMN - 1) {
		fputc('\n', out);
		col = 0;
	}
	while (*p) {
		size_t word = strcspn(p, " ");
		bool is_first = col < HELP_COLUMN;

		if (!is_first && col + 1 + (int)word > HELP_WIDTH) {
			fputc('\n', out);
			col = 0;
			is_first = true;
		}
		col += is_first ? fprintf(out, "%*s", HELP_COLUMN - col, "") :
				  fprintf(out, " ");
		col += fprintf(out, "%.*s", (int)word, p);
		p += word;
		p += strspn(p, " ");
	}
	fputc('\n', out);
}

/*
 * The backends, each with its --image form and its options: a block of its
 * own (a new backend changes no line of the options above it).
 */
static void help_backends(FILE *out)
{
	const struct backend_ops *be;
	char left[64], text[512];

	fputs("\nBackends (--backend NAME, or an --image in the form shown):\n", out);
	for (unsigned int i = 0; (be = backend_at(i)); i++) {
		snprintf(text, sizeof(text), "%s%s%s%s", be->image_form ? be->image_form : "",
			 be->image_form ? ": " : "", be->summary,
			 be->missing ? " (not in this build)" : "");
		help_item(out, be->name, text);
		for (const struct backend_opt *bo = be->opts; bo && bo->key; bo++) {
			snprintf(left, sizeof(left), bo->is_cli ? "    --%s %s" :
				 "    --backend-opt %s=%s", bo->key, bo->arg);
			help_item(out, left, bo->help);
		}
	}
}

static void usage(FILE *out)
{
	fputs("Usage: vduse-blkd --image PATH --name NAME [OPTIONS]\n"
	      "\n"
	      "Serve a disk image or block device as a virtio-blk device through VDUSE.\n"
	      "Attach it with: vdpa dev add name NAME mgmtdev vduse\n"
	      "\n"
	      "Options:\n", out);
	fprintf(out,
"  -i, --image PATH        image file or block device to serve (required), or an image\n"
"                          of a backend below, in the form it shows\n"
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
"  -B, --backend NAME      one of the backends below (default io_uring, or aio when\n"
"                          io_uring is unavailable; the form of --image may choose it)\n"
"      --backend-opt KEY=VALUE\n"
"                          an option of the backend, as listed below with it (the same\n"
"                          as --KEY VALUE where shown so)\n"
"  -d, --direct            open the image with O_DIRECT, bypassing the host page cache\n"
"                          (the default for a block device)\n"
"      --buffered          open the image without O_DIRECT, through the host page\n"
"                          cache (the default for a file)\n"
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
"  -V, --version           show the version and exit\n",
		DEFAULT_MAX_QUEUES, MAX_QUEUES, VDB_STATE_DIR, LOG_CAT_NAMES);
	help_backends(out);
	fputs("\n"
"Runs in the foreground and logs to stderr.  SIGTERM or SIGINT stops the queues,\n"
"flushes the image and destroys the device.  Without --attach, detach it first\n"
"(vdpa dev del NAME); with --attach the daemon detaches it itself.\n"
"SIGHUP re-executes the binary in place (live upgrade) keeping the device; a daemon\n"
"started for a device that exists takes it over and replays requests in flight.\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 on a command-line error.\n", out);
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

static int parse_serial(const char *arg, struct options *o)
{
	if (strlen(arg) > VIRTIO_BLK_ID_BYTES) {
		log_err("--serial: '%s' is longer than %d bytes", arg, VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	o->serial = arg;
	return 0;
}

static int parse_attach(const char *arg, struct options *o)
{
	o->is_attach = true;
	if (!arg || strcmp(arg, "virtio") == 0) {
		o->attach_driver = VDPA_DRIVER_VIRTIO;
	} else if (strcmp(arg, "vhost") == 0) {
		o->attach_driver = VDPA_DRIVER_VHOST;
	} else {
		log_err("--attach: unknown driver '%s' (virtio or vhost)", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_state_dir(const char *arg, struct options *o)
{
	if (!arg[0]) {
		log_err("--state-dir: the directory must not be empty");
		return -EINVAL;
	}
	o->state_dir = arg;
	return 0;
}

static int parse_ring(const char *arg, struct options *o)
{
	if (!strcmp(arg, "auto")) {
		o->ring = VQ_RING_AUTO;
	} else if (!strcmp(arg, "split")) {
		o->ring = VQ_RING_SPLIT;
	} else if (!strcmp(arg, "packed")) {
		o->ring = VQ_RING_PACKED;
	} else {
		log_err("--ring: '%s' is not auto, split or packed", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_sandbox(const char *arg, struct options *o)
{
	if (strcmp(arg, "on") && strcmp(arg, "off") && strcmp(arg, "record")) {
		log_err("--sandbox: '%s' is not on, off or record", arg);
		return -EINVAL;
	}
	o->is_sandboxed = strcmp(arg, "off") != 0;
	o->is_sandbox_recording = !strcmp(arg, "record");
	return 0;
}

static int parse_verbose(const char *arg, struct options *o)
{
	if (!arg) {
		o->debug_mask = LOG_CAT_ALL;
	} else if (log_parse_debug(arg, &o->debug_mask) < 0) {
		log_err("--verbose: '%s' is not a list of %s or all", arg, LOG_CAT_NAMES);
		return -EINVAL;
	}
	return 0;
}

/*
 * A backend's option as given (--backend-opt KEY=VALUE, --KEY VALUE): the
 * backend is known once every option is read (--image, --backend).
 */
#define MAX_GIVEN_OPTS 16
#define OPT_BACKEND_KEY 0x100      /* getopt's value of the backends' own --KEY */

struct given_opt {
	const char *key;
	const char *value;
	bool is_cli;               /* as --KEY VALUE, not --backend-opt KEY=VALUE */
};

static struct given_opt given_opts[MAX_GIVEN_OPTS];
static unsigned int nr_given_opts;

static int give_opt(const char *key, const char *value, bool is_cli)
{
	if (nr_given_opts == MAX_GIVEN_OPTS) {
		log_err("more than %d options of the backend", MAX_GIVEN_OPTS);
		return -EINVAL;
	}
	given_opts[nr_given_opts++] = (struct given_opt){ key, value, is_cli };
	return 0;
}

/* --backend-opt KEY=VALUE: argv stays as it was (a live upgrade executes it again). */
static int parse_backend_opt(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *key;

	if (!eq || eq == arg) {
		log_err("--backend-opt: '%s' is not KEY=VALUE", arg);
		return -EINVAL;
	}
	key = strndup(arg, (size_t)(eq - arg));
	if (!key) {
		log_err("--backend-opt: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return give_opt(key, eq + 1, false);
}

/* One option of getopt_long(); returns 0, 1 to exit successfully (--help, --version), -EINVAL. */
static int parse_option(int c, const char *arg, const struct option *longopts, int index,
			struct options *o)
{
	switch (c) {
	case 'i': o->image = arg; return 0;
	case 'n': o->name = arg; return 0;
	case 'q': return parse_uint("--queues", arg, 1, MAX_QUEUES, &o->nr_queues);
	case 's': return parse_pow2("--queue-size", arg, 2, VQ_MAX_SIZE, &o->queue_size);
	case 'r': o->is_readonly = true; return 0;
	case 'b': return parse_pow2("--block-size", arg, 512, 4096, &o->block_size);
	case 'S': return parse_serial(arg, o);
	case 'B': o->backend = arg; return 0;
	case 'O': return parse_backend_opt(arg);
	case 'd': o->is_direct = true; return 0;
	case 'C': o->is_buffered = true; return 0;
	case 'a': return parse_attach(arg, o);
	case 'D': return parse_state_dir(arg, o);
	case 'u': o->user = arg; return 0;
	case 'P': return parse_uint("--poll-us", arg, 0, 1000, &o->poll_us);
	case 'R': return parse_ring(arg, o);
	case 'Z': return parse_sandbox(arg, o);
	case 'v': return parse_verbose(arg, o);
	case 'h': usage(stdout); return 1;
	case 'V': printf("vduse-blkd %s\n", VDB_VERSION); return 1;
	case OPT_BACKEND_KEY: return give_opt(longopts[index].name, arg, true);
	default: return -EINVAL;
	}
}

/* The options: the daemon's own, then every backend's own --KEY. */
static const struct option *long_options(void)
{
	static const struct option core[] = {
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
		{ "backend-opt", required_argument, NULL, 'O' },
		{ "direct", no_argument, NULL, 'd' },
		{ "buffered", no_argument, NULL, 'C' },
		{ "attach", optional_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "user", required_argument, NULL, 'u' },
		{ "sandbox", required_argument, NULL, 'Z' },
		{ "verbose", optional_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
	};
	static struct option all[ARRAY_SIZE(core) + 32 + 1];
	const struct backend_ops *be;
	unsigned int n = ARRAY_SIZE(core);

	memcpy(all, core, sizeof(core));
	for (unsigned int i = 0; (be = backend_at(i)); i++)
		for (const struct backend_opt *bo = be->opts; bo && bo->key; bo++)
			if (bo->is_cli && n + 1 < ARRAY_SIZE(all))
				all[n++] = (struct option){ bo->key, required_argument, NULL,
							    OPT_BACKEND_KEY };
	all[n] = (struct option){ 0 };
	return all;
}

static int check_options(struct options *o);

/* Returns 0 to go on, 1 to exit successfully (--help, --version), -EINVAL. */
static int parse_options(int argc, char **argv, struct options *o)
{
	const struct option *longopts = long_options();
	int c, index = 0, r;

	*o = (struct options){
		.nr_queues = default_queues(), .queue_size = 256, .state_dir = VDB_STATE_DIR,
		.is_sandboxed = true,
		.ring = VQ_RING_SPLIT,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:n:q:s:rb:S:B:da::v::hV", longopts,
				&index)) != -1) {
		if (c == ':') {
			log_err("option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		}
		if (c == '?') {
			log_err("unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
		r = parse_option(c, optarg, longopts, index, o);
		if (r != 0)
			return r;
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return check_options(o);
}

/* A backend this build lacks, named by @what: say why, as a command-line error. */
static int refuse_missing(const char *what, const struct backend_ops *be)
{
	log_err("%s: this build has no %s backend (%s)", what, be->name, be->missing);
	return -EINVAL;
}

/* --image's prefix and --backend: which backend, if the command line says. */
static int parse_backend(struct options *o, const struct backend_ops **ret_be)
{
	const struct backend_ops *by_image = backend_for_image(o->image, &o->image_path);
	const struct backend_ops *named = o->backend ? backend_find_any(o->backend) : NULL;
	char what[256];

	*ret_be = by_image ? by_image : named;
	if (o->backend && !named) {
		log_err("--backend: unknown backend '%s' (%s)", o->backend, backend_names());
		return -EINVAL;
	}
	if (named && named->missing) {
		snprintf(what, sizeof(what), "--backend %s", named->name);
		return refuse_missing(what, named);
	}
	if (by_image && by_image->missing) {
		snprintf(what, sizeof(what), "--image '%s'", o->image);
		return refuse_missing(what, by_image);
	}
	if (named && by_image && named != by_image) {
		log_err("--image '%s' is served by the %s backend, not --backend %s", o->image,
			by_image->name, o->backend);
		return -EINVAL;
	}
	if (!by_image && named && named->image_prefix) {
		log_err("--backend %s: --image must be %s...", named->name, named->image_prefix);
		return -EINVAL;
	}
	if (by_image && (o->is_direct || o->is_buffered)) {
		log_err("%s: the %s backend has no page cache to bypass or use",
			o->is_direct ? "--direct" : "--buffered", by_image->name);
		return -EINVAL;
	}
	o->be = by_image;
	return 0;
}

/* A backend option given to the wrong backend, or to none: say whose it is. */
static int refuse_opt(const struct given_opt *g, const struct backend_ops *be)
{
	const struct backend_ops *owner = backend_opt_owner(g->key);
	char what[128], theirs[256] = "";

	snprintf(what, sizeof(what), "--%s%s", g->is_cli ? "" : "backend-opt ", g->key);
	if (owner) {
		log_err("%s is an option of the %s backend (%s%s%s), not of %s%s%s", what,
			owner->name, owner->image_form ? "an " : "--backend ",
			owner->image_form ? owner->image_form : owner->name,
			owner->image_form ? " --image" : "", be ? "the " : "a file image's backend",
			be ? be->name : "", be ? " backend" : "");
		return -EINVAL;
	}
	for (const struct backend_opt *bo = be ? be->opts : NULL; bo && bo->key; bo++)
		snprintf(theirs + strlen(theirs), sizeof(theirs) - strlen(theirs), "%s%s",
			 theirs[0] ? ", " : "", bo->key);
	if (be)
		log_err("%s: the %s backend has no option '%s' (%s%s)", what, be->name, g->key,
			theirs[0] ? "its options: " : "it has none", theirs);
	else
		log_err("%s: no backend has an option '%s'", what, g->key);
	return -EINVAL;
}

/* Each backend option given goes to @be, whose it must be (@be NULL: a file image's default). */
static int set_backend_opts(struct options *o, const struct backend_ops *be)
{
	for (unsigned int i = 0; i < nr_given_opts; i++) {
		int index = be ? backend_opt_index(be, given_opts[i].key) : -ENOENT;

		if (index < 0)
			return refuse_opt(&given_opts[i], be);
		o->backend_opts[index] = given_opts[i].value;
	}
	return 0;
}

/* What the options say together, once all are read. */
static int check_options(struct options *o)
{
	const struct backend_ops *be;

	if (!o->image || !o->name) {
		log_err("%s is required", !o->image ? "--image" : "--name");
		return -EINVAL;
	}
	if (o->is_direct && o->is_buffered) {
		log_err("--direct and --buffered: give one of them");
		return -EINVAL;
	}
	if (!o->name[0] || strlen(o->name) >= 256 || strchr(o->name, '/')) {
		log_err("--name: '%s' must be 1 to 255 bytes without '/'", o->name);
		return -EINVAL;
	}
	if (parse_backend(o, &be) < 0 || set_backend_opts(o, be) < 0)
		return -EINVAL;
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
