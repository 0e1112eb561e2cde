/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef TESTS_CTL_ASK_H
#define TESTS_CTL_ASK_H

/*
 * A test's own control loop for a daemon's control socket (src/ctl/): the
 * tests play vduse-blkctl and the loop that serves the socket, in one
 * thread.  Shared by test_ctl and test_rbd.
 */

#include "ctl/ctl.h"

struct json_object;

/* ctl_ask_pump() - what the control loop does for the socket: poll and handle, for @ms. */
void ctl_ask_pump(struct ctl_server *s, int ms);

/* ctl_ask_send() - connect to @s's socket and send @req; the connection's fd. */
int ctl_ask_send(struct ctl_server *s, const char *req);

/*
 * ctl_ask_reply() - run the loop until @fd has its whole reply (the server
 * closes after it), at most @ms; closes @fd.  Returns the reply's result
 * (ctl_reply_parse(), the object in *ret_obj, may be NULL), or -ETIMEDOUT.
 */
int ctl_ask_reply(struct ctl_server *s, int fd, int ms, struct json_object **ret_obj);

#endif
