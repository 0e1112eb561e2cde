/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_DAEMON_H
#define VDB_DAEMON_H

/*
 * The daemon's lifecycle: open the image, describe and create (or take
 * over) the device, serve it through the control loop, narrow privileges
 * once it serves, re-execute in place on SIGHUP, tear it down on SIGTERM.
 * main.c parses the command line into struct options and calls daemon_run().
 */

#include <stdbool.h>

#include "backends/backend.h"
#include "sandbox/privileges.h"
#include "recovery/state.h"
#include "recovery/upgrade.h"
#include "vduse/vdpa.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_RUNTIME = 1,   /* setup or runtime failure */
	EXIT_USAGE = 2,             /* bad command line */
};

#define DEFAULT_MAX_QUEUES 8
#define MAX_QUEUES VDB_STATE_MAX_QUEUES   /* a state file holds no more */

/* The command line, parsed and checked (main.c). */
struct options {
	const char *image;
	const char *image_path;       /* --image without a backend's prefix */
	const char *name;
	unsigned int nr_queues;
	unsigned int queue_size;
	unsigned int poll_us;
	int ring;                     /* --ring: enum vq_ring_choice */
	unsigned int block_size;
	const char *serial;
	const char *backend;
	/* The backend's options (--backend-opt, --ceph-conf...), by their index in its opts[]. */
	const char *backend_opts[BACKEND_MAX_OPTS];
	const char *state_dir;
	const char *user;
	struct run_as run_as;         /* --user, looked up */
	bool is_sandboxed;            /* --sandbox on (the default) or record */
	bool is_sandbox_recording;    /* --sandbox record */
	const struct backend_ops *be;
	bool is_readonly;
	bool is_direct;               /* --direct */
	bool is_buffered;             /* --buffered */
	unsigned int debug_mask;      /* --verbose: enum log_category bits */
	bool is_attach;
	enum vdpa_bus_driver attach_driver;
};

/**
 * daemon_run() - serve the device described by @o until a signal stops it
 * @o: the options (its run_as filled when --user was given)
 * @handover: what a live upgrade's previous image handed over (fds -1 for a
 *            plain start), from upgrade_take_handover()
 * @argv: the command line, executed again on SIGHUP
 *
 * Logs what goes wrong.  Returns the exit status: EXIT_OK or
 * EXIT_FAILURE_RUNTIME.
 */
int daemon_run(struct options *o, struct handover *handover, char **argv);

/*
 * daemon_sandbox_handler() - a live upgrade's new image, under the filter
 * it inherited: handle SIGSYS as the options say (name the call, or record
 * it) before anything else can make a refused call.
 */
void daemon_sandbox_handler(const struct options *o);

#endif
