// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef VDB_DAEMON_PREPARE_H
#define VDB_DAEMON_PREPARE_H

#include "backends/backend.h"
#include "blk/blk.h"
#include "daemon/daemon.h"

/* prepare_image_spec() - what the backend opens: the image and the backend's options. */
struct image_spec prepare_image_spec(const struct options *o, int adopt_fd);

/*
 * prepare_open_image() - the backend opens its image (@adopt_fd: a live
 * upgrade's, or -1); one that refuses writes is served read-only.  Logs why not.
 */
int prepare_open_image(const struct options *o, int adopt_fd, struct image *img);

/**
 * daemon_prepare() - choose the backend (o->be), open its image, describe the device
 * @handover: a live upgrade's image fd is adopted, not opened
 *
 * Logs why it gives up.  Returns 0 (the image open: o->be->close() it), or
 * -errno with nothing open.
 */
int daemon_prepare(struct options *o, const struct handover *handover, struct image *img,
		   struct blk_dev *blk);

#endif
