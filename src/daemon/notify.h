/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VDB_NOTIFY_H
#define VDB_NOTIFY_H

/*
 * The service manager's notification protocol (sd_notify(3)), implemented
 * here without libsystemd: one AF_UNIX datagram of "KEY=VALUE\n" lines to
 * the socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace).  systemd reads the sender's pid from the socket's
 * credentials, so with NotifyAccess=main only the daemon's own pid may
 * send: every call here comes from the main thread or the process after
 * a live upgrade's exec (same pid).
 *
 * The socket is made once, before privileges are dropped and the seccomp
 * filter installed (which allow only sendto on it afterwards), and handed
 * to the new image of a live upgrade through the environment.  It is not
 * connected: each datagram is addressed, so a service manager that
 * re-executes itself (a new socket at the same path) still hears us.
 *
 * Without $NOTIFY_SOCKET every call is a no-op that returns 0.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The socket handed across a live upgrade's exec (an fd number). */
#define NOTIFY_FD_ENV "VDUSE_BLKD_NOTIFY_FD"

/**
 * notify_open() - get ready to notify $NOTIFY_SOCKET
 * Adopts the socket a live upgrade handed over, or makes one.  Returns 1
 * when notifications will be sent, 0 without $NOTIFY_SOCKET, -EAFNOSUPPORT
 * for an address that is not a path or '@name' (vsock), -EINVAL for an
 * empty or too long one, or -errno from socket(2).
 */
int notify_open(void);

/* notify_is_enabled() - notify_open() found a socket. */
bool notify_is_enabled(void);

/**
 * notify_send() - send one datagram of newline-separated assignments
 * e.g. notify_send("READY=1\nSTATUS=serving %u queue(s)", n).  At most
 * 1024 bytes (longer messages are refused with -EMSGSIZE, not cut).
 * Returns 0 (also when disabled) or -errno from sendto(2).
 */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * notify_prepare_exec() - keep the socket open across execve()
 * Clears close-on-exec and names the fd in NOTIFY_FD_ENV.  Returns 0 or
 * -errno.  notify_exec_failed() undoes it.
 */
int notify_prepare_exec(void);
void notify_exec_failed(void);

/* notify_close() - close the socket; later sends are no-ops. */
void notify_close(void);

/**
 * notify_sockaddr() - the address of a $NOTIFY_SOCKET value
 * @value: "/path" or "@abstract"
 * Returns 0 with @ret and @ret_len filled, -EAFNOSUPPORT (another kind of
 * address), or -EINVAL (empty, or too long for sun_path).
 */
int notify_sockaddr(const char *value, struct sockaddr_un *ret, socklen_t *ret_len);

/**
 * notify_watchdog_usec() - the watchdog interval the manager asked for
 * @usec: $WATCHDOG_USEC, @pid: $WATCHDOG_PID (either may be NULL), @self: our pid
 * As sd_watchdog_enabled(): the interval when @usec is a positive number
 * and @pid is unset or @self; 0 when there is no watchdog for this process;
 * -EINVAL when a value is malformed.
 */
int64_t notify_watchdog_usec(const char *usec, const char *pid, pid_t self);

#endif
