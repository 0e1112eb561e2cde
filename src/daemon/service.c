// SPDX-License-Identifier: GPL-2.0-or-later
/* What the service manager hears from the daemon (see service.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "daemon/notify.h"
#include "daemon/service.h"
#include "util.h"

void service_tell(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int r;

	if (!notify_is_enabled())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = notify_send("%s", msg);
	if (log_debug_enabled(LOG_CAT_DAEMON)) {
		for (char *p = msg; *p; p++)
			*p = *p == '\n' ? ' ' : *p;
		log_debug_cat(LOG_CAT_DAEMON, "told the service manager: %s%s%s", msg,
			      r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
	}
}

void service_start(struct service *s, const char *name)
{
	int64_t wd = notify_watchdog_usec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"),
					  getpid());
	int r = notify_open();

	*s = (struct service){ .name = name };
	if (r < 0)
		log_warn("NOTIFY_SOCKET '%s': %s: the service manager will not hear that the "
			 "device is ready", getenv("NOTIFY_SOCKET"), strerror(-r));
	if (wd < 0)
		log_warn("WATCHDOG_USEC '%s' or WATCHDOG_PID '%s' is malformed: no watchdog",
			 getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID") ?: "");
	s->watchdog_usec = wd > 0 && notify_is_enabled() ? wd : 0;
	log_debug_cat(LOG_CAT_DAEMON, "service manager: %s, watchdog %s%lld ms",
		      notify_is_enabled() ? "notified" : "not notified (no NOTIFY_SOCKET)",
		      s->watchdog_usec ? "every " : "off, ",
		      (long long)(s->watchdog_usec / 1000));
}

void service_beat(struct service *s)
{
	uint64_t now;

	/* Stopping: systemd stops watching (it leaves the running state); TimeoutStopSec= rules. */
	if (!s->watchdog_usec || s->has_said_stopping)
		return;
	now = (monotonic_ns() / 1000u);
	if (s->watchdog_sent_usec && now - s->watchdog_sent_usec < (uint64_t)s->watchdog_usec / 2)
		return;
	s->watchdog_sent_usec = now;
	notify_send("WATCHDOG=1");
}

unsigned int service_beat_ms(const struct service *s)
{
	int64_t ms = s->watchdog_usec / 4000;

	if (!s->watchdog_usec)
		return 0;
	return ms < 1 ? 1 : ms > 60000 ? 60000 : (unsigned int)ms;
}

void service_ready(struct service *s, const struct control *c, const char *note)
{
	if (c->is_attached)
		service_tell("READY=1\nSTATUS=serving %u queue(s) on %s%s", c->dev->nr_queues,
			     c->job.node, note);
	else
		service_tell("READY=1\nSTATUS=serving %u queue(s) as /dev/vduse/%s, not attached "
			     "(vdpa dev add name %s mgmtdev vduse)%s", c->dev->nr_queues, s->name,
			     s->name, note);
}

void service_reloading(struct service *s, const char *exe)
{
	(void)s;
	/* The new image says READY=1 once it serves (same pid: NotifyAccess=main). */
	service_tell("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=live upgrade: re-executing %s",
		     (unsigned long long)(monotonic_ns() / 1000u), exe);
}

void service_stopping(struct service *s)
{
	if (s->has_said_stopping)
		return;
	s->has_said_stopping = true;
	service_tell("STOPPING=1\nSTATUS=stopping: draining, detaching and destroying %s", s->name);
}
