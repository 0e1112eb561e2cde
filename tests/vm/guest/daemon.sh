#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# daemon.sh: vduse-blkd on a real VDUSE kernel (issue 3).
# Each case prints PASS/FAIL; the summary line decides the exit status.
. /tests/lib.sh

IMG=/tmp/disk.img
IMG_MB=64

# start_daemon NAME ARGS...: run vduse-blkd in the background, wait for its node.
start_daemon() {
	_name=$1
	shift
	"$VDUSE_BLKD" $RING_ARGS --name "$_name" "$@" 2>"/tmp/$_name.log" &
	DPID=$!
	if ! wait_for "/dev/vduse/$_name" 10; then
		cat "/tmp/$_name.log"
		return 1
	fi
}

# attach NAME: vdpa dev add, print /dev/vdX.
attach() {
	"$VDPA" dev add name "$1" mgmtdev vduse || return 1
	wait_vdisk "$1" 20
}

# stop_daemon NAME: detach, SIGTERM, wait; returns the daemon's exit status.
stop_daemon() {
	"$VDPA" dev del "$1" 2>/dev/null
	kill -TERM "$DPID"
	wait "$DPID"
}

# pattern FILE BYTES SEED: deterministic bytes.
pattern() {
	awk -v n="$2" -v s="$3" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%c", 65 + int(rand() * 26) }' > "$1"
}

info "vduse-blkd: $("$VDUSE_BLKD" --version)"
dd if=/dev/zero of=$IMG bs=1M count=$IMG_MB 2>/dev/null

# --- serving: capacity, data in both directions ---------------------------
if start_daemon vd0 --image $IMG --queues 2 && DEV=$(attach vd0); then
	info "vd0 is $DEV"
	# The start names the kernel and the VDUSE API version in use.
	grep "VDUSE API version" /tmp/vd0.log | sed 's/^/    /'
	run_case logs-kernel-and-api-version grep -q "kernel $(uname -r), VDUSE API version [0-9]" /tmp/vd0.log
	check_ring ring-layout vd0
	run_case capacity-matches-image [ "$(sectors_of "$DEV")" -eq $((IMG_MB * 2048)) ]

	# Written to the image, read through /dev/vdX (page cache dropped).
	pattern /tmp/p1 65536 1
	dd if=/tmp/p1 of=$IMG bs=4096 seek=100 conv=notrunc 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	dd if="$DEV" of=/tmp/r1 bs=4096 skip=100 count=16 iflag=direct 2>/dev/null
	run_case image-pattern-reads-back cmp /tmp/p1 /tmp/r1

	# Written through /dev/vdX with O_DIRECT, found at the same offset of the image.
	pattern /tmp/p2 131072 2
	dd if=/tmp/p2 of="$DEV" bs=4096 seek=777 oflag=direct conv=notrunc 2>/dev/null
	dd if=$IMG of=/tmp/r2 bs=4096 skip=777 count=32 2>/dev/null
	run_case direct-write-lands-at-offset cmp /tmp/p2 /tmp/r2
	dd if=$IMG of=/tmp/r3 bs=4096 skip=776 count=1 2>/dev/null
	run_case direct-write-leaves-neighbours is_zero /tmp/r3

	run_case two-hw-queues [ "$(ls /sys/block/${DEV#/dev/}/mq | wc -l)" -eq 2 ]

	# Idle means asleep: no queue thread may spin waiting for kicks.
	cpu_ticks() { awk '{ print $14 + $15 }' /proc/$DPID/stat; }
	t0=$(cpu_ticks)
	sleep 3
	t1=$(cpu_ticks)
	info "daemon CPU while idle for 3 s: $((t1 - t0)) ticks"
	run_case idle-daemon-sleeps [ $((t1 - t0)) -le 5 ]

	# ext4 end to end.
	mkdir -p /mnt/vd
	if $MKFS_EXT4 -q -F "$DEV" && mount -t ext4 "$DEV" /mnt/vd; then
		for i in 1 2 3 4 5; do pattern /mnt/vd/f$i $((i * 40000)) $i; done
		cp /tmp/p2 /mnt/vd/p2
		sync
		umount /mnt/vd
		mount -t ext4 "$DEV" /mnt/vd && cmp /tmp/p2 /mnt/vd/p2 && umount /mnt/vd
		run_case ext4-files-survive-remount [ $? -eq 0 ]
		run_case ext4-fsck-clean $E2FSCK -fn "$DEV"
	else
		fail ext4-mkfs-mount "mkfs.ext4 or mount failed"
	fi

	run_case fio-randwrite-verify-2-queues $FIO --name=v --filename="$DEV" \
		--ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
		--numjobs=2 --size=16M --offset_increment=16M --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --group_reporting --minimal

	stop_daemon vd0
	rc=$?
	run_case sigterm-after-detach-exits-0 [ $rc -eq 0 ]
	run_case sigterm-removes-node [ ! -e /dev/vduse/vd0 ]
	grep -q "destroyed" /tmp/vd0.log || cat /tmp/vd0.log
else
	fail vd0-start "daemon or attach failed"
	cat /tmp/vd0.log
fi

# --- read-only ------------------------------------------------------------
dd if=$IMG of=/tmp/before bs=1M count=1 2>/dev/null
if start_daemon vdro --image $IMG --readonly && DEV=$(attach vdro); then
	run_case readonly-flag-in-sysfs [ "$(cat /sys/block/${DEV#/dev/}/ro)" = 1 ]
	if dd if=/dev/urandom of="$DEV" bs=4096 count=1 oflag=direct conv=notrunc 2>/dev/null; then
		fail readonly-refuses-writes "write succeeded"
	else
		pass readonly-refuses-writes
	fi
	dd if=$IMG of=/tmp/after bs=1M count=1 2>/dev/null
	run_case readonly-image-unchanged cmp /tmp/before /tmp/after
	dd if="$DEV" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null
	run_case readonly-reads-work [ $? -eq 0 ]
	stop_daemon vdro
	run_case readonly-sigterm-exits-0 [ $? -eq 0 ]
else
	fail vdro-start "daemon or attach failed"
	cat /tmp/vdro.log
fi

# --- command-line and environment errors: clear message, nothing created ----
# expect_error NAME REGEX CMD...: non-zero exit, stderr matches, no device left.
expect_error() {
	_case=$1
	_re=$2
	shift 2
	"$@" >/tmp/err.out 2>&1
	_rc=$?
	if [ $_rc -ne 0 ] && grep -Eq -- "$_re" /tmp/err.out && [ ! -e /dev/vduse/bad ]; then
		pass "$_case" "exit $_rc: $(head -n1 /tmp/err.out)"
	else
		fail "$_case" "exit $_rc: $(cat /tmp/err.out)"
	fi
}

expect_error cli-missing-image "--image is required" "$VDUSE_BLKD" $RING_ARGS --name bad
expect_error cli-missing-name "--name is required" "$VDUSE_BLKD" $RING_ARGS --image $IMG
expect_error cli-unknown-option "unknown option '--frobnicate'" "$VDUSE_BLKD" $RING_ARGS --image $IMG --name bad --frobnicate
expect_error cli-bad-queue-size "not a power of two" "$VDUSE_BLKD" $RING_ARGS --image $IMG --name bad --queue-size 100
expect_error cli-bad-block-size "--block-size" "$VDUSE_BLKD" $RING_ARGS --image $IMG --name bad --block-size 8192
expect_error cli-serial-too-long "longer than 20 bytes" "$VDUSE_BLKD" $RING_ARGS --image $IMG --name bad --serial 012345678901234567890
expect_error cli-image-missing "image '/tmp/nope.img': No such file" "$VDUSE_BLKD" $RING_ARGS --image /tmp/nope.img --name bad
truncate -s 100 /tmp/tiny.img
expect_error cli-image-too-small "too small" "$VDUSE_BLKD" $RING_ARGS --image /tmp/tiny.img --name bad
chmod 000 $IMG
cp $IMG /tmp/noperm.img 2>/dev/null
chmod 644 $IMG
chmod 000 /tmp/noperm.img
expect_error cli-image-unreadable "/tmp/noperm.img" /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$VDUSE_BLKD" $RING_ARGS --image /tmp/noperm.img --name bad
cp $IMG /tmp/pub.img && chmod 666 /tmp/pub.img
expect_error cli-permission-denied "permission denied" /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$VDUSE_BLKD" $RING_ARGS --image /tmp/pub.img --name bad

# No vduse module: the daemon says to load it.
if rmmod vduse 2>/dev/null; then
	expect_error cli-no-vduse-module "load the vduse module \(modprobe vduse\)" "$VDUSE_BLKD" $RING_ARGS --image $IMG --name bad
	load_module vduse
	wait_for /dev/vduse/control 5
else
	skip cli-no-vduse-module "vduse is in use and cannot be unloaded"
fi

# Name in use: a second daemon with the same name.
if start_daemon vdup --image $IMG; then
	first=$DPID
	"$VDUSE_BLKD" $RING_ARGS --image $IMG --name vdup >/tmp/err.out 2>&1
	rc=$?
	# The name is taken by a serving daemon: no takeover, the first goes on.
	if [ $rc -ne 0 ] && grep -q "being served by another process" /tmp/err.out &&
		kill -0 $first; then
		pass cli-name-in-use "exit $rc"
	else
		fail cli-name-in-use "exit $rc: $(cat /tmp/err.out)"
	fi
	DPID=$first
	stop_daemon vdup
	run_case unattached-sigterm-exits-0 [ $? -eq 0 ]
else
	fail cli-name-in-use "first daemon did not start"
fi

# Odd-sized image: served rounded down, with a warning.
truncate -s $((1024 * 1024 + 100)) /tmp/odd.img
if start_daemon vdodd --image /tmp/odd.img && DEV=$(attach vdodd); then
	run_case odd-size-rounded-down [ "$(sectors_of "$DEV")" -eq 2048 ]
	run_case odd-size-warns grep -q "not a multiple of 512" /tmp/vdodd.log
	stop_daemon vdodd
else
	fail odd-size "daemon or attach failed"
	cat /tmp/vdodd.log
fi

# SIGTERM while still attached: says so, names the fix, non-zero exit.  The
# device stays behind (the kernel marks it broken once its reset goes
# unanswered): a name of its own per ring layout, so that this suite can run
# again in the same boot (daemon@packed).
BUSY=vdbusy-$(ring_layout)
if start_daemon $BUSY --image $IMG && DEV=$(attach $BUSY); then
	kill -TERM "$DPID"
	wait "$DPID"
	rc=$?
	if [ $rc -ne 0 ] && grep -q "vdpa dev del $BUSY" /tmp/$BUSY.log; then
		pass sigterm-while-attached-explains "exit $rc"
	else
		fail sigterm-while-attached-explains "exit $rc: $(cat /tmp/$BUSY.log)"
	fi
	# Clean up: no daemon answers any more, so keep the reset from waiting 30 s.
	echo 1 > /sys/class/vduse/$BUSY/msg_timeout 2>/dev/null
	"$VDPA" dev del $BUSY 2>/dev/null
else
	fail sigterm-while-attached "daemon or attach failed"
fi

summary
