#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sandbox.sh: the seccomp sandbox of a serving daemon (issue 15): its status
# in /proc, I/O on each backend, a live upgrade (SIGHUP re-exec) and a clean
# stop under the filter, Landlock refusing a root daemon core_pattern while
# it serves on, --sandbox record refusing and recording a call, and a
# forbidden call killing the daemon with a line naming it (needs a build
# with -Dtest_hooks=true; skipped otherwise).
. /tests/lib.sh

IMG=/tmp/disk.img
dd if=/dev/zero of=$IMG bs=1M count=32 2>/dev/null

# gone NAME: no vdpa device, no VDUSE device left.
gone() {
	[ ! -e "/sys/bus/vdpa/devices/$1" ] && [ ! -e "/dev/vduse/$1" ]
}

# status_of PID FIELD: a field of /proc/PID/status.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# io_check NAME NODE SEEK: write a pattern through NODE, read it back from the image.
io_check() {
	dd if=/dev/urandom of=/tmp/pat bs=4096 count=32 2>/dev/null
	dd if=/tmp/pat of="$2" bs=4096 seek="$3" oflag=direct conv=notrunc 2>/dev/null &&
		dd if="$2" of=/tmp/back bs=4096 skip="$3" count=32 iflag=direct 2>/dev/null &&
		cmp /tmp/pat /tmp/back &&
		dd if=$IMG of=/tmp/back bs=4096 skip="$3" count=32 2>/dev/null &&
		cmp /tmp/pat /tmp/back
}

# wait_serving NAME PID N: up to 10 s for the N-th "serving" line (a live
# upgrade's new image says it again), while PID lives.
wait_serving() {
	_t=100
	until [ "$(grep -c "serving '" /tmp/$1.log)" -ge $3 ] || [ $_t -le 0 ]; do
		kill -0 $2 2>/dev/null || break
		_t=$((_t - 1))
		sleep 0.1
	done
}

# wait_sandboxed NAME: the node is printed before the sandbox goes on (the
# queues start again inside Landlock first): up to 10 s for the line that
# says it did.
wait_sandboxed() {
	_t=100
	until grep -q "seccomp sandbox on" /tmp/$1.log || [ $_t -le 0 ]; do
		_t=$((_t - 1)); sleep 0.1
	done
}

# stop_clean NAME: SIGTERM, exit 0, nothing left, no forbidden call in the log.
stop_clean() {
	kill -TERM $DPID
	wait $DPID
	_rc=$?
	if [ $_rc -eq 0 ] && gone "$1" && ! grep -q "forbidden system call" "/tmp/$1.log"; then
		pass "$1-stop-under-filter"
	else
		fail "$1-stop-under-filter" "exit $_rc: $(cat "/tmp/$1.log")"
	fi
}

for be in io_uring aio null; do
	n=sb-$be
	if ! daemon_start $n --image $IMG --attach --queues 2 --backend $be; then
		fail $n-start "no node: $(cat /tmp/$n.log)"
		continue
	fi
	wait_sandboxed $n
	run_case $n-seccomp-mode [ "$(status_of $DPID Seccomp)" = 2 ]
	run_case $n-no-new-privs [ "$(status_of $DPID NoNewPrivs)" = 1 ]
	if [ $be = null ]; then
		run_case $n-io dd if="$NODE" of=/dev/null bs=4096 count=64 iflag=direct
	else
		run_case $n-io io_check $n "$NODE" 10
	fi
	stop_clean $n
done

# --- live upgrade: the new image starts under the inherited filter ----------
n=sb-up
if daemon_start $n --image $IMG --attach --queues 2; then
	pid=$DPID
	wait_sandboxed $n
	filters=$(status_of $pid Seccomp_filters)
	kill -HUP $pid
	wait_serving $n $pid 2
	if kill -0 $pid 2>/dev/null && [ "$(grep -c "serving '" /tmp/$n.log)" -ge 2 ]; then
		pass $n-reexec-under-filter "same pid $pid"
	else
		fail $n-reexec-under-filter "$(cat /tmp/$n.log)"
	fi
	run_case $n-seccomp-mode-after [ "$(status_of $pid Seccomp)" = 2 ]
	# Two filters at the start (the allowlist, and no executable image), none added.
	run_case $n-filters-not-stacked [ "$(status_of $pid Seccomp_filters)" = "$filters" ]
	run_case $n-io-after io_check $n "$NODE" 50
	# A second upgrade: the filter still does not stack.
	kill -HUP $pid
	sleep 2
	run_case $n-second-upgrade [ "$(grep -c "serving '" /tmp/$n.log)" -ge 3 ]
	run_case $n-filters-not-stacked-after-two [ "$(status_of $pid Seccomp_filters)" = "$filters" ]
	run_case $n-io-after-two io_check $n "$NODE" 90
	stop_clean $n
else
	fail $n-start "no node: $(cat /tmp/$n.log)"
fi

# --- --user: unprivileged once serving; upgrade, stop and crash still work --
# ids NAME PID: the four uids and gids of PID are all 65534.
ids() {
	[ "$(status_of $2 Uid)" = "65534	65534	65534	65534" ] &&
		[ "$(status_of $2 Gid)" = "65534	65534	65534	65534" ] &&
		[ "$(status_of $2 Groups | tr -d " \t")" = "65534" ] || {
		echo "Uid $(status_of $2 Uid) Gid $(status_of $2 Gid) Groups $(status_of $2 Groups)"
		return 1
	}
}
NET_ADMIN=0000000000001000
n=sb-user
if daemon_start $n --image $IMG --attach --queues 2 --user 65534 --state-dir /tmp/sb-state; then
	pid=$DPID
	# The node is printed before privileges go: wait for the line that says they went.
	t=100
	until grep -q "seccomp sandbox on" /tmp/$n.log || [ $t -le 0 ]; do
		t=$((t - 1)); sleep 0.1
	done
	run_case $n-unprivileged ids $n $pid
	run_case $n-capeff-net-admin-only [ "$(status_of $pid CapEff)" = $NET_ADMIN ]
	run_case $n-capprm-net-admin-only [ "$(status_of $pid CapPrm)" = $NET_ADMIN ]
	run_case $n-capbnd-net-admin-only [ "$(status_of $pid CapBnd)" = $NET_ADMIN ]
	run_case $n-no-new-privs [ "$(status_of $pid NoNewPrivs)" = 1 ]
	run_case $n-seccomp-mode [ "$(status_of $pid Seccomp)" = 2 ]
	# Every thread (one may end meanwhile): the user, no capability or CAP_NET_ADMIN.
	run_case $n-threads-unprivileged sh -c "for t in /proc/$pid/task/*; do
		s=\$(cat \$t/status 2>/dev/null) || continue
		echo \"\$s\" | grep -q '^Uid:.*65534' &&
		echo \"\$s\" | grep -Eq '^CapEff:.*(0000000000000000|$NET_ADMIN)' ||
		{ echo \"\$t: \$(echo \"\$s\" | grep -E '^(Name|Uid|CapEff)')\"; exit 1; }
	done"
	run_case $n-io io_check $n "$NODE" 10
	# A live upgrade as the unprivileged user: the new binary gets the fds.
	kill -HUP $pid
	wait_serving $n $pid 2
	run_case $n-upgrade-as-user [ "$(grep -c "serving '" /tmp/$n.log)" -ge 2 ] ||
		sed 's/^/    log: /' /tmp/$n.log
	run_case $n-upgrade-same-pid kill -0 $pid
	# Only a live daemon gets I/O: a dead one's disk waits for a new daemon, forever.
	if kill -0 $pid 2>/dev/null; then
		run_case $n-unprivileged-after-upgrade ids $n $pid
		run_case $n-capeff-after-upgrade [ "$(status_of $pid CapEff)" = $NET_ADMIN ]
		run_case $n-io-after-upgrade io_check $n "$NODE" 50
	fi
	# A crash: the restarted daemon (root again, then unprivileged) takes it over.
	kill -9 $pid
	wait $pid 2>/dev/null
	if daemon_start $n --image $IMG --attach --queues 2 --user 65534 --state-dir /tmp/sb-state &&
	   grep -q "taking over device '$n'" /tmp/$n.log; then
		pass $n-takeover-after-kill "$NODE"
		run_case $n-unprivileged-after-takeover ids $n $DPID
		run_case $n-io-after-takeover io_check $n "$NODE" 90
		# SIGTERM: detach (CAP_NET_ADMIN), destroy (the kept control fd), state gone or empty.
		stop_clean $n
		run_case $n-state-forgotten sh -c "[ ! -s /tmp/sb-state/$n.state ]"
	else
		fail $n-takeover-after-kill "$(cat /tmp/$n.log)"
	fi
else
	fail $n-start "no node: $(cat /tmp/$n.log)"
fi
n=sb-user-noattach
if "$VDUSE_BLKD" $RING_ARGS --name $n --image $IMG --user 65534:65534 --state-dir /tmp/sb-state \
	>/tmp/$n.out 2>/tmp/$n.log &
then
	DPID=$!
	t=100
	until grep -q "running as uid 65534" /tmp/$n.log || [ $t -le 0 ]; do
		t=$((t - 1)); sleep 0.1
	done
	run_case $n-no-capabilities [ "$(status_of $DPID CapEff)" = 0000000000000000 ]
	run_case $n-unprivileged ids $n $DPID
	stop_clean $n
fi

# --- Landlock: a root daemon opens nothing beyond what serving needs ---------
# The test hook opens core_pattern for writing once the sandbox is on (as root:
# seccomp alone would let it), says what happened and serves on.
n=sb-landlock
export VDUSE_BLKD_TEST_LANDLOCK_PROBE=/proc/sys/kernel/core_pattern
daemon_start $n --image $IMG --attach --queues 2
started=$?
unset VDUSE_BLKD_TEST_LANDLOCK_PROBE
if [ $started = 0 ]; then
	t=100
	until grep -q "test hook: opening" /tmp/$n.log || [ $t -le 0 ]; do
		t=$((t - 1)); sleep 0.1
	done
	if grep -q "Landlock is not enabled" /tmp/$n.log; then
		skip $n-core-pattern-refused "this kernel has no Landlock"
	else
		run_case $n-landlock-on grep -q "Landlock on" /tmp/$n.log
		run_case $n-core-pattern-refused \
			grep -q "opening /proc/sys/kernel/core_pattern for writing: Permission denied" /tmp/$n.log ||
			sed 's/^/    log: /' /tmp/$n.log
	fi
	run_case $n-runs-as-root [ "$(status_of $DPID Uid | cut -f1)" = 0 ]
	run_case $n-io-after-refusal io_check $n "$NODE" 20
	stop_clean $n
else
	fail $n-start "no node: $(cat /tmp/$n.log)"
fi

# --- --sandbox record: the call is refused and recorded, the daemon lives ----
n=sb-rec
if VDUSE_BLKD_TEST_SANDBOX_FILE=/tmp/$n.records VDUSE_BLKD_TEST_SECCOMP_VIOLATION=1 \
   "$VDUSE_BLKD" $RING_ARGS --name $n --image $IMG --sandbox record >/tmp/$n.out 2>/tmp/$n.log; then
	fail $n-records "exit 0: $(cat /tmp/$n.log)"
else
	rc=$?
	if grep -q "test hooks are not compiled in" /tmp/$n.log; then
		skip $n-records "built without -Dtest_hooks=true"
	else
		# The hook gives up once its call came back (ENOSYS): exit 1, not SIGSYS.
		run_case $n-records sh -c "[ $rc -eq 1 ] &&
			grep -q 'recorded forbidden system call mount (nr 165' /tmp/$n.log &&
			grep -q 'the forbidden call returned -38' /tmp/$n.log &&
			grep -q 'recorded forbidden system call mount' /tmp/$n.records"
	fi
fi
if [ -e /dev/vduse/$n ] && daemon_start $n --image $IMG --attach; then
	stop_clean $n
fi

# --- a forbidden call: SIGSYS and the call named in the log -----------------
# (in the default mode, not the record mode lib.sh sets for every daemon)
n=sb-kill
VDUSE_BLKD_TEST_SANDBOX=on VDUSE_BLKD_TEST_SANDBOX_FILE= VDUSE_BLKD_TEST_SECCOMP_VIOLATION=1 \
	"$VDUSE_BLKD" $RING_ARGS --name $n --image $IMG >/tmp/$n.out 2>/tmp/$n.log &
pid=$!
wait $pid
rc=$?
if grep -q "test hooks are not compiled in" /tmp/$n.log; then
	skip $n-sigsys "built without -Dtest_hooks=true"
elif [ $rc -eq $((128 + 31)) ] &&
     grep -q "seccomp: forbidden system call mount (nr 165" /tmp/$n.log; then
	pass $n-sigsys "exit $rc: $(grep seccomp: /tmp/$n.log | tail -n1)"
else
	fail $n-sigsys "exit $rc: $(cat /tmp/$n.log)"
fi
# The device it left (a killed daemon does not destroy it): gone with a clean stop.
if [ -e /dev/vduse/$n ] && daemon_start $n --image $IMG --attach; then
	stop_clean $n
fi

summary
