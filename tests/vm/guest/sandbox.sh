#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sandbox.sh: the seccomp sandbox of a serving daemon (issue 15): its status
# in /proc, I/O on each backend, a live upgrade (SIGHUP re-exec) and a clean
# stop under the filter, and a forbidden call killing the daemon with a line
# naming it (needs a build with -Dtest_hooks=true; skipped otherwise).
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
	kill -HUP $pid
	t=100
	until [ "$(grep -c "serving '" /tmp/$n.log)" -ge 2 ] || [ $t -le 0 ]; do
		kill -0 $pid 2>/dev/null || break
		t=$((t - 1))
		sleep 0.1
	done
	if kill -0 $pid 2>/dev/null && [ "$(grep -c "serving '" /tmp/$n.log)" -ge 2 ]; then
		pass $n-reexec-under-filter "same pid $pid"
	else
		fail $n-reexec-under-filter "$(cat /tmp/$n.log)"
	fi
	run_case $n-seccomp-mode-after [ "$(status_of $pid Seccomp)" = 2 ]
	run_case $n-one-filter-after [ "$(status_of $pid Seccomp_filters)" = 1 ]
	run_case $n-io-after io_check $n "$NODE" 50
	# A second upgrade: the filter still does not stack.
	kill -HUP $pid
	sleep 2
	run_case $n-second-upgrade [ "$(grep -c "serving '" /tmp/$n.log)" -ge 3 ]
	run_case $n-one-filter-after-two [ "$(status_of $pid Seccomp_filters)" = 1 ]
	run_case $n-io-after-two io_check $n "$NODE" 90
	stop_clean $n
else
	fail $n-start "no node: $(cat /tmp/$n.log)"
fi

# --- a forbidden call: SIGSYS and the call named in the log -----------------
n=sb-kill
VDUSE_BLKD_TEST_SECCOMP_VIOLATION=1 "$VDUSE_BLKD" --name $n --image $IMG >/tmp/$n.out 2>/tmp/$n.log &
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
