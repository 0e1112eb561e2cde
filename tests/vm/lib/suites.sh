#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# suites.sh: run the guest suites named on the kernel command line
# (vmtest.suites=smoke,daemon,...: the files /tests/NAME.sh) one after
# another in this boot; NAME@RING runs /tests/NAME.sh with VDB_RING=RING
# (the virtqueue layout of its daemons: lib.sh turns it into --ring).
# tests/vm/run.sh puts it in the guest as /usr/lib/vmtest/suites.sh and
# reads the markers it prints:
#
#   VM-SUITE-BEGIN NAME
#   VM-SUITE-END NAME EXIT-STATUS SECONDS
#
# Each suite runs in its own shell.  Suites clean up after themselves; what
# one left behind anyway (vdpa devices, daemons, mounts, loop devices, /tmp)
# is named and removed before the next starts, so a suite never sees
# another's leftovers.  A suite whose daemons recorded a forbidden system
# call (lib.sh runs them so) fails, even in their teardown.  Exit status: 0 if every suite exited 0, else 1.

suites=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmtest.suites=*) suites=${arg#vmtest.suites=} ;;
	esac
done

now() { cut -d' ' -f1 /proc/uptime; }

# tidy NAME: remove what suite NAME left behind, saying what it was.
tidy() {
	for d in /sys/bus/vdpa/devices/*; do
		[ -e "$d" ] || continue
		echo "# suites: $1 left vdpa device ${d##*/}: deleting it"
		# No daemon may answer the reset: do not wait 30 s for it.
		echo 1 > "/sys/class/vduse/${d##*/}/msg_timeout" 2>/dev/null
		/usr/sbin/vdpa dev del "${d##*/}" 2>/dev/null
	done
	pids=$(pidof vduse-blkd qemu-storage-daemon fio vhost-blk-test 2>/dev/null)
	if [ -n "$pids" ]; then
		echo "# suites: $1 left processes $pids: stopping them"
		kill -TERM $pids 2>/dev/null
		t=50
		while [ $t -gt 0 ] && [ -n "$(pidof vduse-blkd qemu-storage-daemon fio vhost-blk-test)" ]; do
			sleep 0.1
			t=$((t - 1))
		done
		kill -KILL $(pidof vduse-blkd qemu-storage-daemon fio vhost-blk-test) 2>/dev/null
	fi
	for m in $(awk '$2 ~ "^/(mnt|tmp)/" { print $2 }' /proc/mounts | sort -r); do
		echo "# suites: $1 left $m mounted: unmounting it"
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	/usr/sbin/losetup -D 2>/dev/null
	rm -rf /tmp/* 2>/dev/null
}

rc=0
for name in $(echo "$suites" | tr ',' ' '); do
	echo "VM-SUITE-BEGIN $name"
	t0=$(now)
	case $name in
	*@*) (cd /tests && VDB_RING=${name#*@} sh "/tests/${name%@*}.sh") ;;
	*) (cd /tests && sh "/tests/$name.sh") ;;
	esac
	src=$?
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	# What daemons it left recorded while being stopped (lib.sh: every daemon
	# records forbidden calls instead of dying): the suite fails.
	tidy "$name"
	if [ -s /run/vdb-seccomp-records ]; then
		echo "FAIL: seccomp-nothing-recorded-at-exit: $(sort /run/vdb-seccomp-records | uniq -c)"
		: > /run/vdb-seccomp-records
		src=1
	fi
	if [ $src != 0 ] && [ $src != 77 ]; then
		rc=1
		echo "----- $name: dmesg (last 60 lines) -----"
		dmesg | tail -n 60
		echo "----- end of dmesg -----"
	fi
	echo "VM-SUITE-END $name $src $secs"
done
exit $rc
