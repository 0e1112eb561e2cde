// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A queue's connection (see queue.h): made at the queue's start, lost when
 * the server goes away, made again from the queue's wait with back-off
 * (100 ms doubling to 5 s) and nbd_aio_connect_uri(), so the queue keeps
 * serving kicks meanwhile.  A new connection must reach the export open()
 * saw (nbd_check_same()).  Logged once per loss: that it was lost (with
 * libnbd's reason), why connecting again fails, that it is back.  A server
 * that stays connected but answers nothing for nbd-timeout-ms is dropped by
 * us and handled the same way.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "backends/nbd/queue.h"
#include "log.h"
#include "util.h"

/* Reconnect no sooner than the back-off says; the next wait doubles it. */
static void schedule_retry(struct backend_queue *bq)
{
	bq->state = CONN_DOWN;
	bq->retry_at_ns = monotonic_ns() + (uint64_t)bq->backoff_ms * 1000000u;
	bq->backoff_ms = (uint32_t)min_u64(bq->backoff_ms * 2, NBD_BACKOFF_MAX_MS);
}

/* Why connecting again failed: the first time after each loss. */
static void say_retrying(struct backend_queue *bq, const char *why)
{
	if (bq->has_said_retrying)
		return;
	log_warn("nbd: %s: connecting again failed: %s; retrying up to every %u ms",
		 bq->ni->uri, why, NBD_BACKOFF_MAX_MS);
	bq->has_said_retrying = true;
}

/* The handle is dead (lost, or the new connection failed): close it, try again later. */
void nbd_conn_lost(struct backend_queue *bq)
{
	const char *why = nbd_get_error();

	if (bq->state == CONN_READY) {
		/* Dropped by us (check_stalled()): said already. */
		if (!bq->is_dropped)
			log_err("nbd: %s: connection lost (%s): requests in flight fail with "
				"IOERR; connecting again", bq->ni->uri,
				why ? why : "closed by the server");
		bq->is_dropped = false;
		bq->is_lost = true;
		bq->backoff_ms = NBD_BACKOFF_MIN_MS;
		bq->has_said_retrying = false;
	} else {
		say_retrying(bq, why ? why : "closed by the server");
	}
	nbd_close(bq->h);
	bq->h = NULL;
	/* libnbd failed every command it had when the connection died: none may be left. */
	if (bq->nr_in_libnbd)
		log_err("nbd: %s: %u request(s) never completed by libnbd", bq->ni->uri,
			bq->nr_in_libnbd);
	schedule_retry(bq);
}

static void start_connecting(struct backend_queue *bq)
{
	bq->h = nbd_connect_start(bq->ni, true);
	if (bq->h) {
		bq->state = CONN_CONNECTING;
		bq->connect_by_ns = monotonic_ns() + NBD_CONNECT_TIMEOUT_MS * 1000000ull;
		return;
	}
	say_retrying(bq, nbd_connect_error(NULL));
	schedule_retry(bq);
}

/* The handshake is done: the same export, or not served. */
static void connected(struct backend_queue *bq)
{
	if (nbd_check_same(bq->ni, bq->h) < 0) {
		nbd_close(bq->h);
		bq->h = NULL;
		schedule_retry(bq);
		return;
	}
	bq->state = CONN_READY;
	bq->backoff_ms = NBD_BACKOFF_MIN_MS;
	if (bq->is_lost)
		log_info("nbd: %s: connected again", bq->ni->uri);
	bq->is_lost = false;
	bq->has_said_retrying = false;
}

/* The socket is ready: let libnbd read or write, then see where the connection stands. */
void nbd_conn_drive(struct backend_queue *bq, short revents)
{
	if (revents & (POLLIN | POLLHUP | POLLERR))
		nbd_aio_notify_read(bq->h);
	if ((revents & POLLOUT) && (nbd_aio_get_direction(bq->h) & LIBNBD_AIO_DIRECTION_WRITE))
		nbd_aio_notify_write(bq->h);
	if (nbd_aio_is_dead(bq->h) || nbd_aio_is_closed(bq->h))
		nbd_conn_lost(bq);
	else if (bq->state == CONN_CONNECTING && nbd_aio_is_ready(bq->h))
		connected(bq);
}

/* Milliseconds from @now to @then, rounded up (0 when it passed). */
static int ms_until(uint64_t then, uint64_t now)
{
	return then > now ? (int)((then - now + 999999) / 1000000) : 0;
}

/*
 * A server still connected that answers nothing for nbd-timeout-ms while it
 * owes replies (stopped, or its storage hung): end the connection from our
 * side.  libnbd then sees it closed and fails what it holds with ENOTCONN,
 * as when the server goes away (IOERR, one log line, connect again).
 */
static bool is_owed(const struct backend_queue *bq)
{
	return bq->state == CONN_READY && bq->nr_in_libnbd && bq->ni->timeout_ms;
}

static uint64_t stalled_at(const struct backend_queue *bq)
{
	return bq->progress_ns + (uint64_t)bq->ni->timeout_ms * 1000000u;
}

static void check_stalled(struct backend_queue *bq, uint64_t now)
{
	if (!is_owed(bq) || now < stalled_at(bq))
		return;
	log_err("nbd: %s: no reply for %u ms (nbd-timeout-ms) with %u request(s) in flight: "
		"dropping the connection; they fail with IOERR; connecting again", bq->ni->uri,
		bq->ni->timeout_ms, bq->nr_in_libnbd);
	bq->is_dropped = true;
	shutdown(nbd_aio_get_fd(bq->h), SHUT_RDWR);
	nbd_conn_drive(bq, POLLIN);
}

int nbd_conn_tick(struct backend_queue *bq, uint64_t now)
{
	check_stalled(bq, now);
	if (bq->state == CONN_CONNECTING && now >= bq->connect_by_ns) {
		log_warn("nbd: %s: no handshake within %u ms: connecting again", bq->ni->uri,
			 NBD_CONNECT_TIMEOUT_MS);
		nbd_close(bq->h);
		bq->h = NULL;
		schedule_retry(bq);
	}
	if (bq->state == CONN_DOWN && now >= bq->retry_at_ns)
		start_connecting(bq);
	if (bq->state == CONN_DOWN)
		return ms_until(bq->retry_at_ns, now);
	if (bq->state == CONN_CONNECTING)
		return ms_until(bq->connect_by_ns, now);
	return -1;
}

int nbd_conn_stall_ms(const struct backend_queue *bq, uint64_t now)
{
	return is_owed(bq) ? ms_until(stalled_at(bq), now) : -1;
}

void nbd_conn_open(struct backend_queue *bq)
{
	struct nbd_image *ni = bq->ni;

	bq->backoff_ms = NBD_BACKOFF_MIN_MS;
	/* The connection open() made, for the first queue; a new one for the others. */
	bq->h = __atomic_exchange_n(&ni->first, NULL, __ATOMIC_ACQ_REL);
	if (!bq->h)
		bq->h = nbd_connect_start(ni, false);
	if (bq->h && nbd_check_same(ni, bq->h) == 0) {
		bq->state = CONN_READY;
		return;
	}
	/* The server went away since open(): serve, and connect from the wait. */
	if (!bq->h)
		log_warn("nbd: %s: connecting the queue's connection: %s; retrying", ni->uri,
			 nbd_connect_error(NULL));
	nbd_close(bq->h);
	bq->h = NULL;
	bq->is_lost = true;
	bq->state = CONN_DOWN;
	bq->retry_at_ns = monotonic_ns();
}

void nbd_conn_close(struct backend_queue *bq)
{
	bool is_ready = bq->h && bq->state == CONN_READY;

	/* The queue drained before it stopped; should it not have, wait for libnbd (10 s). */
	for (int i = 0; i < 100 && is_ready && bq->nr_in_libnbd; i++)
		if (nbd_poll(bq->h, 100) < 0)
			break;
	/* What this connection wrote is durable before it goes (teardown's flush()). */
	if (is_ready && bq->ni->can_flush && !bq->ni->is_readonly && nbd_flush(bq->h, 0) < 0)
		log_err("nbd: %s: flushing at exit: %s", bq->ni->uri, nbd_get_error());
	if (is_ready)
		nbd_shutdown(bq->h, 0);
	nbd_close(bq->h);
	bq->h = NULL;
}
