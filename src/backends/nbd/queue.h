/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_BACKENDS_NBD_QUEUE_H
#define VDB_BACKENDS_NBD_QUEUE_H

/*
 * Private to the nbd backend: a queue (queue.c, its requests) and its
 * connection (conn.c: connect, lose, connect again), which share struct
 * backend_queue.  One thread uses a queue: no locks.
 */

#include <stdbool.h>
#include <stdint.h>

#include "backends/nbd/nbd.h"

#define NBD_BOUNCE_BYTES (128u << 10)
#define NBD_MAX_RANGE_BYTES (1u << 30)      /* of one TRIM or WRITE_ZEROES command */
#define NBD_BACKOFF_MIN_MS 100u
#define NBD_BACKOFF_MAX_MS 5000u
#define NBD_CONNECT_TIMEOUT_MS 10000u       /* a server that accepts but never answers */

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

enum conn_state {
	CONN_READY,
	CONN_CONNECTING,            /* nbd_aio_connect_uri() under way */
	CONN_DOWN,                  /* no handle: the next try at retry_at_ns */
};

struct backend_queue {
	struct nbd_image *ni;
	struct nbd_handle *h;       /* NULL when down */
	enum conn_state state;
	int kick_fd;
	unsigned int depth;
	struct backend_req **waiting; /* prepared, or waiting for a connection: in arrival order */
	unsigned int nr_waiting;
	struct backend_req **done;  /* finished, not yet reported */
	unsigned int nr_done;
	unsigned int nr_in_libnbd;  /* requests with commands in libnbd */
	uint8_t *bounce_arena;      /* depth buffers of NBD_BOUNCE_BYTES */
	uint8_t **free_bounce;      /* a stack of them */
	unsigned int nr_free_bounce;
	uint32_t backoff_ms;
	uint64_t retry_at_ns;
	uint64_t connect_by_ns;     /* CONN_CONNECTING: given up after this */
	uint64_t progress_ns;       /* the last reply, or the first command sent after none was out */
	bool has_progress;          /* a reply since the wait last looked */
	bool is_dropped;            /* we ended the connection: the server stalled */
	bool is_lost;               /* we said the connection was lost: say when it is back */
	bool has_said_retrying;     /* we said why connecting again failed (once per loss) */
	bool is_counted;            /* in ni->nr_queues */
};

/*
 * nbd_conn_open() - the queue's first connection: the one open() made (the
 * first queue) or a new one.  A server gone since open() leaves the queue
 * CONN_DOWN, connecting again from its wait.
 */
void nbd_conn_open(struct backend_queue *bq);

/* nbd_conn_close() - drain, flush what it wrote, say goodbye, close (NULL-safe handle). */
void nbd_conn_close(struct backend_queue *bq);

/*
 * nbd_conn_tick() - at each wait: give up a handshake that took too long,
 * start connecting again when the back-off says.  Returns how long the
 * wait may sleep for the connection's sake, in ms (-1: no limit).
 */
int nbd_conn_tick(struct backend_queue *bq, uint64_t now);

/*
 * nbd_conn_stall_ms() - how long the wait may sleep before the server, owing
 * replies, counts as stalled (nbd-timeout-ms; the next tick drops it), in ms
 * (-1: no limit).
 */
int nbd_conn_stall_ms(const struct backend_queue *bq, uint64_t now);

/* nbd_conn_drive() - the socket is ready (@revents): libnbd reads or writes; where is it now? */
void nbd_conn_drive(struct backend_queue *bq, short revents);

/* nbd_conn_lost() - the handle is dead: close it, log once, schedule the next try. */
void nbd_conn_lost(struct backend_queue *bq);

#endif
