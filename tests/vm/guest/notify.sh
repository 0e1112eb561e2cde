#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# notify.sh: what systemd hears from vduse-blkd (Type=notify, issue 12) on a
# real VDUSE kernel.  The guest has no systemd: notify-listen
# (tests/lib/notify-listen.c) plays its notify socket, logging every
# assignment as "MS PID KEY=VALUE" and, with each READY=1, the /dev/vd*
# nodes that existed when it arrived.
#
#   ready     --attach --user: READY=1 only once /dev/vdX exists, from the
#             daemon's pid, with STATUS=serving N queue(s) on /dev/vdX,
#             after the setup STATUS= lines
#   watchdog  WATCHDOG_USEC=2 s: WATCHDOG=1 about every second, never 2 s
#             apart, as the user under the seccomp filter
#   reload    SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1 from the
#             re-executed binary (same pid), and the pings go on
#   stop      SIGTERM: STOPPING=1, exit 0, nothing after it
#   takeover  kill -9 and a restart: STATUS=took over device, READY=1 with
#             the disk there
#   detached  an abstract socket, no --attach: READY=1 naming how to attach
#   wd-pid    WATCHDOG_PID of another process: no pings
#   stuck     a control loop stuck for 4 s (test hook; -Dtest_hooks=true
#             builds) sends no ping meanwhile, while the queues serve I/O
#
# Each case prints PASS/FAIL; the summary line decides the exit status.
. /tests/lib.sh

IMG=/tmp/nt.img
N=/tmp/notify.txt
SOCK=/tmp/notify.sock
LISTEN=/usr/bin/notify-listen
dd if=/dev/zero of=$IMG bs=1M count=32 2>/dev/null

if [ ! -x $LISTEN ]; then
	skip notify "notify-listen is not in the guest (build tests/lib/notify-listen)"
	summary
fi
load_module virtio_vdpa 2>/dev/null

# listen SOCKET: a fresh log $N and a listener on SOCKET (LPID).
listen() {
	rm -f $N
	$LISTEN -t 300 "$1" $N &
	LPID=$!
	wait_for $N 5 && grep -q @listening $N
}

unlisten() {
	sleep 0.3
	kill $LPID 2>/dev/null
	wait $LPID 2>/dev/null
}

# wait_line REGEX [COUNT=1] [SECONDS=20]: until $N has COUNT lines matching.
wait_line() {
	_t=$(( ${3:-20} * 10 ))
	while [ "$(grep -cE -- "$1" $N)" -lt "${2:-1}" ]; do
		[ $_t -le 0 ] && return 1
		_t=$((_t - 1))
		sleep 0.1
	done
}

# from_pid PID: every datagram came from PID (the listener's own line has 0).
from_pid() {
	_o=$(awk -v p="$1" '$2 != 0 && $2 != p' $N)
	[ -z "$_o" ] || { echo "not from $1: $_o"; return 1; }
}

# first_line REGEX: the line number of the first line matching (0: none).
first_line() {
	grep -nE -- "$1" $N | head -n1 | cut -d: -f1 | grep . || echo 0
}

# in_order REGEX...: each first appears after the one before it.
in_order() {
	_prev=0
	for _re in "$@"; do
		_l=$(first_line "$_re")
		[ "$_l" -gt "$_prev" ] || { echo "'$_re' at line $_l, not after line $_prev"; cat $N; return 1; }
		_prev=$_l
	done
}

# pings FROM_MS: WATCHDOG=1 lines at or after FROM_MS; GAP: the largest gap between them.
pings() {
	awk -v from="$1" '$3 == "WATCHDOG=1" && $1 >= from { n++; if (last != "" && $1 - last > gap) gap = $1 - last; last = $1 }
		END { printf "%d %d\n", n, gap }' $N
}

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# --- ready, watchdog, reload, stop: the unit's configuration --------------
if listen $SOCK; then
	t_listen=$(now_ms)
	export NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=2000000
	if daemon_start nt0 --image $IMG --queues 2 --attach --user 65534; then
		unset NOTIFY_SOCKET WATCHDOG_USEC
		info "nt0 is $NODE, pid $DPID"
		if wait_line ' READY=1$'; then
			sed 's/^/    /' $N
			run_case ready-after-node-exists grep -qE " @devs=(.*,)?$NODE(,|\$)" $N
			run_case ready-status-serving grep -qE "^[0-9]+ $DPID STATUS=serving 2 queue\(s\) on $NODE\$" $N
			# READY=1 and its STATUS= come in one datagram (same time stamp).
			run_case ready-status-one-datagram sh -c "[ \"\$(grep -E ' READY=1\$' $N | cut -d' ' -f1)\" = \"\$(grep -E ' STATUS=serving' $N | cut -d' ' -f1)\" ]"
			run_case status-setup-before-ready in_order 'STATUS=setting up device nt0' \
				'STATUS=created device nt0, attaching it' ' READY=1$'
			# The daemon serves as the user under its filter when it says ready.
			run_case ready-as-user-sandboxed sh -c "grep -q '^Uid:.*65534' /proc/$DPID/status && grep -q '^Seccomp:.*2' /proc/$DPID/status"
		else
			fail ready "no READY=1 within 20 s: $(tr '\n' '|' < $N) log: $(tail -n 5 /tmp/nt0.log | tr '\n' '|')"
		fi

		# Pings every second (half of 2 s) from the control loop, as the user, filtered.
		t0=$(($(now_ms) - t_listen))
		sleep 5
		set -- $(pings $t0)
		info "watchdog: $1 pings in 5 s, largest gap $2 ms"
		run_case watchdog-pings [ "$1" -ge 4 ]
		run_case watchdog-gap-under-interval [ "$2" -lt 2000 ]

		# I/O still works (the notify path did not disturb serving).
		dd if=/dev/urandom of=/tmp/np bs=4096 count=16 2>/dev/null
		dd if=/tmp/np of="$NODE" bs=4096 seek=3 oflag=direct conv=notrunc 2>/dev/null
		dd if=$IMG of=/tmp/nb bs=4096 skip=3 count=16 2>/dev/null
		run_case io-while-notified cmp /tmp/np /tmp/nb

		# Live upgrade: RELOADING=1 (+ MONOTONIC_USEC) then READY=1 from the new image.
		kill -HUP $DPID
		if wait_line ' READY=1$' 2 30; then
			sed -n '/RELOADING=1/,$p' $N | sed 's/^/    /'
			run_case reload-order in_order ' READY=1$' ' RELOADING=1$' ' MONOTONIC_USEC=[0-9]+$' \
				'STATUS=live upgrade: re-executing /usr/bin/vduse-blkd' \
				'STATUS=live upgrade: taking over device nt0'
			run_case reload-ready-again sh -c "[ \$(grep -nE ' READY=1\$' $N | tail -n1 | cut -d: -f1) -gt $(first_line ' RELOADING=1$') ]"
			run_case reload-same-pid kill -0 $DPID
			run_case reload-new-image-logged grep -q "live upgrade: serving .*again after" /tmp/nt0.log
			t1=$(($(now_ms) - t_listen))
			sleep 3
			set -- $(pings $t1)
			info "watchdog after the upgrade: $1 pings in 3 s, largest gap $2 ms"
			run_case reload-watchdog-goes-on [ "$1" -ge 2 ]
		else
			fail reload "no second READY=1 within 30 s: $(tail -n 8 $N | tr '\n' '|') log: $(tail -n 5 /tmp/nt0.log | tr '\n' '|')"
		fi

		kill -TERM $DPID
		wait $DPID
		rc=$?
		run_case stop-exits-0 [ $rc -eq 0 ]
		wait_line ' STOPPING=1$' 1 5
		unlisten
		run_case stop-says-stopping grep -qE "^[0-9]+ $DPID STOPPING=1\$" $N
		run_case stop-status grep -q "STATUS=stopping: draining, detaching and destroying nt0" $N
		# Nothing but STATUS= after STOPPING=1: no READY=1, no ping.
		run_case stop-nothing-after sh -c "! sed -n '/ STOPPING=1\$/,\$p' $N | grep -qE ' (READY|WATCHDOG)=1\$'"
		run_case all-from-daemon-pid from_pid $DPID
	else
		unset NOTIFY_SOCKET WATCHDOG_USEC
		fail ready "the daemon did not attach: $(tail -n 5 /tmp/nt0.log | tr '\n' '|')"
		unlisten
	fi
else
	fail listener "notify-listen did not start"
fi

# --- takeover: a restart after kill -9 says so, then READY=1 --------------
export NOTIFY_SOCKET=$SOCK
if listen $SOCK && daemon_start nt1 --image $IMG --queues 1 --attach; then
	node1=$NODE
	wait_line ' READY=1$'
	kill -KILL $DPID
	wait $DPID 2>/dev/null
	: > $N
	if daemon_start nt1 --image $IMG --queues 1 --attach && wait_line ' READY=1$'; then
		sed 's/^/    /' $N
		run_case takeover-status in_order 'STATUS=setting up device nt1' \
			'STATUS=took over device nt1, attaching it' ' READY=1$'
		run_case takeover-ready-with-disk grep -qE " @devs=(.*,)?$node1(,|\$)" $N
		run_case takeover-status-serving grep -qE " STATUS=serving 1 queue\(s\) on $node1\$" $N
		run_case takeover-from-new-pid from_pid $DPID
	else
		fail takeover "no READY=1 after the restart: $(tr '\n' '|' < $N) log: $(tail -n 5 /tmp/nt1.log | tr '\n' '|')"
	fi
	kill -TERM $DPID
	wait $DPID
	unlisten
else
	fail takeover "the first daemon did not attach: $(tail -n 5 /tmp/nt1.log | tr '\n' '|')"
	unlisten
fi
unset NOTIFY_SOCKET

# --- an abstract socket, no --attach: ready once the device exists --------
ASOCK=@vduse-blkd-notify-test
if listen $ASOCK; then
	NOTIFY_SOCKET=$ASOCK WATCHDOG_USEC=1000000 WATCHDOG_PID=1 \
		"$VDUSE_BLKD" $RING_ARGS --name nt2 --image $IMG --queues 1 >/tmp/nt2.out 2>/tmp/nt2.log &
	DPID=$!
	if wait_line ' READY=1$' 1 10; then
		sed 's/^/    /' $N
		run_case detached-ready-after-device [ -e /dev/vduse/nt2 ]
		run_case detached-status grep -q "STATUS=serving 1 queue(s) as /dev/vduse/nt2, not attached (vdpa dev add name nt2 mgmtdev vduse)" $N
		run_case abstract-from-daemon-pid from_pid $DPID
		# WATCHDOG_PID names another process (pid 1): no pings from us.
		sleep 3
		run_case wd-pid-other-no-pings sh -c "! grep -q ' WATCHDOG=1\$' $N"
	else
		fail detached "no READY=1 within 10 s: $(tr '\n' '|' < $N) log: $(tail -n 5 /tmp/nt2.log | tr '\n' '|')"
	fi
	kill -TERM $DPID
	wait $DPID
	run_case detached-stop-exits-0 [ $? -eq 0 ]
	unlisten
	run_case detached-stopping grep -qE " STOPPING=1\$" $N
else
	fail listener-abstract "notify-listen did not start on $ASOCK"
fi


# --- stuck: no ping from a stuck control loop, though the queues serve ----
export NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=1000000 VDUSE_BLKD_TEST_STALL_ON_HUP=4
if listen $SOCK && t_listen=$(now_ms) && daemon_start nt3 --image $IMG --queues 1 --attach &&
	wait_line ' READY=1$'; then
	unset NOTIFY_SOCKET WATCHDOG_USEC VDUSE_BLKD_TEST_STALL_ON_HUP
	sleep 1
	kill -HUP $DPID
	sleep 0.5
	if grep -q "test hooks are not compiled in" /tmp/nt3.log; then
		skip stuck "built without -Dtest_hooks=true"
	else
		t_hup=$(($(now_ms) - t_listen - 500))
		dd if=/dev/urandom of=/tmp/sp bs=4096 count=16 2>/dev/null
		dd if=/tmp/sp of="$NODE" bs=4096 seek=9 oflag=direct conv=notrunc 2>/dev/null
		t_io=$(($(now_ms) - t_listen))
		sleep 6
		dd if=$IMG of=/tmp/sb bs=4096 skip=9 count=16 2>/dev/null
		# From a second before the stall: the last ping before it counts.
		set -- $(pings $((t_hup - 1000)))
		info "stuck: HUP at $t_hup ms, I/O done at $t_io ms; $1 pings since, largest gap $2 ms"
		run_case stuck-io-served-meanwhile sh -c "cmp /tmp/sp /tmp/sb && [ $t_io -lt $((t_hup + 3500)) ]"
		run_case stuck-no-ping-meanwhile [ "$2" -ge 3500 ]
		run_case stuck-pings-again sh -c "grep -q 'control loop runs again' /tmp/nt3.log && [ $1 -ge 2 ]"
	fi
	kill -TERM $DPID
	wait $DPID
	unlisten
else
	unset NOTIFY_SOCKET WATCHDOG_USEC VDUSE_BLKD_TEST_STALL_ON_HUP
	fail stuck "no READY=1: $(tr '\n' '|' < $N) log: $(tail -n 5 /tmp/nt3.log | tr '\n' '|')"
	unlisten
fi

summary
