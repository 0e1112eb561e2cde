#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ctl.sh: the control socket and vduse-blkctl (issue 12): two devices in
# `list`, `stats` counting what dd did, `resize` seen by the driver, then
# resize2fs and a verified write beyond the old end, a takeover after a
# resize, log-level, clear errors within 2 s (no such device, socket gone,
# daemon stopped, permission denied), a daemon running as --user under
# the seccomp sandbox, a shrunk block device taken over (a crash and a live
# upgrade), and a resize stalled on a slow file system (dm-delay) while the
# control loop answers.
. /tests/lib.sh

BLKCTL=/usr/bin/vduse-blkctl
RESIZE2FS=/usr/sbin/resize2fs
SD=/tmp/ctl-state
A=/tmp/ctl-a.img
B=/tmp/ctl-b.img
MIB=1048576
dd if=/dev/zero of=$A bs=1M count=64 2>/dev/null
dd if=/dev/zero of=$B bs=1M count=32 2>/dev/null

ctl() { $BLKCTL --state-dir $SD "$@"; }

# now_cs: uptime in centiseconds.
now_cs() { cut -d' ' -f1 /proc/uptime | tr -d .; }

# jget FILE KEY: a top-level number of vduse-blkctl's pretty JSON.
jget() { sed -n "s/^  \"$2\": \([0-9]*\).*/\1/p" "$1" | head -n1; }

# timed_fail NAME WANT CMD...: CMD fails (exit 1) within 2 s, saying WANT.
timed_fail() {
	_name=$1
	_want=$2
	shift 2
	_t0=$(now_cs)
	_out=$("$@" 2>&1)
	_rc=$?
	_dt=$(( $(now_cs) - _t0 ))
	printf '%s\n' "$_out" | sed 's/^/    /'
	if [ $_rc -eq 1 ] && [ $_dt -lt 200 ] && printf '%s' "$_out" | grep -q "$_want"; then
		pass "$_name" "exit 1 in ${_dt}0 ms"
	else
		fail "$_name" "exit $_rc after ${_dt}0 ms, wanted exit 1 saying '$_want' within 2 s"
	fi
}

# usage_error NAME WANT CMD...: CMD exits 2 (a command-line error) saying WANT.
usage_error() {
	_name=$1
	_want=$2
	shift 2
	_out=$("$@" 2>&1)
	_rc=$?
	printf '%s\n' "$_out" | sed 's/^/    /'
	if [ $_rc -eq 2 ] && printf '%s' "$_out" | grep -q "$_want"; then
		pass "$_name"
	else
		fail "$_name" "exit $_rc, wanted exit 2 saying '$_want'"
	fi
}

# --- two devices: list -------------------------------------------------------
if ! daemon_start ctl-a --image $A --attach --queues 2 --state-dir $SD; then
	fail ctl-a-start "$(cat /tmp/ctl-a.log)"
	summary
fi
PA=$DPID
NA=$NODE
if ! daemon_start ctl-b --image $B --attach --queues 1 --state-dir $SD --backend aio; then
	fail ctl-b-start "$(cat /tmp/ctl-b.log)"
	summary
fi
PB=$DPID
NB=$NODE
info "ctl-a is $NA (pid $PA), ctl-b is $NB (pid $PB)"

run_case socket-mode-0600 [ "$(stat -c %a $SD/ctl-a.sock)" = 600 ]
ctl list > /tmp/list.txt 2>&1
rc=$?
sed 's/^/    /' /tmp/list.txt
if [ $rc -eq 0 ] &&
   grep -Eq "^ctl-a +$A +64\.0 MiB +2 +io_uring +$NA +serving +$PA\$" /tmp/list.txt &&
   grep -Eq "^ctl-b +$B +32\.0 MiB +1 +aio +$NB +serving +$PB\$" /tmp/list.txt; then
	pass list-shows-both
else
	fail list-shows-both "exit $rc"
fi
ctl list --json > /tmp/list.json
if grep -q "\"name\": \"ctl-a\"" /tmp/list.json && grep -q "\"name\": \"ctl-b\"" /tmp/list.json &&
   grep -q "\"capacity_bytes\": $((64 * MIB))" /tmp/list.json &&
   grep -q "\"attached\": \"$NB\"" /tmp/list.json; then
	pass list-json
else
	fail list-json "$(cat /tmp/list.json)"
fi
# The layout the driver negotiated, as the daemons were asked (--ring).
want_ring=split
case $(ring_layout) in packed|auto) want_ring=packed ;; esac
if [ "$(grep -c "\"ring\": \"$want_ring\"" /tmp/list.json)" = 2 ]; then
	pass list-json-ring
else
	fail list-json-ring "want ring $want_ring: $(grep '"ring"' /tmp/list.json | tr '\n' ' ')"
fi

# --- stats: what dd did, within what the kernel sends itself ------------------
ctl stats --json ctl-a > /tmp/s0.json || fail stats-json "$(cat /tmp/s0.json)"
dd if=/dev/urandom of=/tmp/pat bs=64k count=64 2>/dev/null
dd if=/tmp/pat of="$NA" bs=64k count=64 oflag=direct 2>/dev/null
dd if="$NA" of=/dev/null bs=64k count=32 skip=100 iflag=direct 2>/dev/null
ctl stats --json ctl-a > /tmp/s1.json
dw=$(( $(jget /tmp/s1.json write_bytes) - $(jget /tmp/s0.json write_bytes) ))
dr=$(( $(jget /tmp/s1.json read_bytes) - $(jget /tmp/s0.json read_bytes) ))
dwo=$(( $(jget /tmp/s1.json write_ops) - $(jget /tmp/s0.json write_ops) ))
dro=$(( $(jget /tmp/s1.json read_ops) - $(jget /tmp/s0.json read_ops) ))
info "dd wrote 4 MiB in 64 requests, read 2 MiB in 32: stats say write $dw bytes/$dwo ops, read $dr bytes/$dro ops"
run_case stats-write-bytes [ $dw -eq $((4 * MIB)) ]
run_case stats-write-ops [ $dwo -ge 64 -a $dwo -le 68 ]
run_case stats-read-bytes [ $dr -ge $((2 * MIB)) -a $dr -le $((2 * MIB + 262144)) ]
run_case stats-read-ops [ $dro -ge 32 -a $dro -le 40 ]
run_case stats-no-errors [ "$(jget /tmp/s1.json errors)" = 0 ]
run_case stats-in-flight-0 [ "$(jget /tmp/s1.json in_flight)" = 0 ]
p50=$(sed -n 's/^    "p50": \([0-9]*\).*/\1/p' /tmp/s1.json | head -n1)
p999=$(sed -n 's/^    "p999": \([0-9]*\).*/\1/p' /tmp/s1.json | head -n1)
run_case stats-latency-percentiles [ "${p50:-0}" -gt 0 -a "${p999:-0}" -ge "${p50:-0}" ]
# Per queue under "queues": their sum is the total.
qsum=$(sed -n 's/^      "write_bytes": \([0-9]*\).*/\1/p' /tmp/s1.json | awk '{ s += $1 } END { print s }')
run_case stats-queues-sum [ "$qsum" = "$(jget /tmp/s1.json write_bytes)" ]
ctl stats ctl-a > /tmp/s1.txt
sed 's/^/    /' /tmp/s1.txt
run_case stats-table [ "$(grep -c '^[0-9] ' /tmp/s1.txt)" = 2 -a "$(grep -c '^total ' /tmp/s1.txt)" = 1 ]
dd if="$NA" of=/dev/null bs=4k count=20000 iflag=direct 2>/dev/null &
ddp=$!
ctl stats -w 1 -c 2 ctl-a > /tmp/w.txt
kill $ddp 2>/dev/null
wait $ddp 2>/dev/null
sed 's/^/    /' /tmp/w.txt
run_case stats-watch-rates [ "$(grep -c '^ctl-a: read [0-9]*/s' /tmp/w.txt)" = 2 ]

# --- log-level -------------------------------------------------------------------
run_case log-level-debug ctl log-level ctl-a debug
run_case log-level-logged grep -q "log level debug (was info)" /tmp/ctl-a.log
run_case log-level-info ctl log-level ctl-a info
usage_error log-level-bad-usage "not err, warn" ctl log-level ctl-a loud

# --- resize: the driver sees it, resize2fs, a write beyond the old end --------------
DEVA=${NA#/dev/}
if $MKFS_EXT4 -q -F "$NA"; then
	run_case resize-grow ctl resize ctl-a 128M
	t=20
	while [ "$(sectors_of $NA)" != 262144 ] && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
	run_case resize-seen-in-sysfs [ "$(cat /sys/block/$DEVA/size)" = 262144 ]
	run_case resize-image-grown [ "$(stat -c %s $A)" = $((128 * MIB)) ]
	run_case resize-log grep -q "resized 'ctl-a' from 67108864 to 134217728 bytes" /tmp/ctl-a.log
	# Beyond the old end, through the device, back from the image.
	dd if=/dev/urandom of=/tmp/far bs=64k count=16 2>/dev/null
	dd if=/tmp/far of="$NA" bs=64k seek=1600 oflag=direct conv=notrunc 2>/dev/null
	dd if=$A of=/tmp/far.back bs=64k skip=1600 count=16 2>/dev/null
	run_case resize-write-beyond-old-end cmp /tmp/far /tmp/far.back
	run_case resize-fsck-before $E2FSCK -fy "$NA"
	run_case resize2fs $RESIZE2FS "$NA"
	mkdir -p /mnt/ctl
	if mount -t ext4 "$NA" /mnt/ctl; then
		# 100 MiB of files: the file system now reaches past the old 64 MiB.
		dd if=/dev/urandom of=/tmp/big bs=1M count=20 2>/dev/null
		ok=1
		for i in 1 2 3 4 5; do cp /tmp/big /mnt/ctl/f$i || ok=0; done
		umount /mnt/ctl
		mount -t ext4 "$NA" /mnt/ctl || ok=0
		for i in 1 2 3 4 5; do cmp /tmp/big /mnt/ctl/f$i || ok=0; done
		umount /mnt/ctl
		run_case resize-ext4-100MiB-verified [ $ok = 1 ] ||
			info "ctl-a's log: $(tail -n 20 /tmp/ctl-a.log | tr '\n' '|')"
	else
		fail resize-ext4-mount "mount failed"
	fi
	run_case resize-fsck-after $E2FSCK -fn "$NA"
else
	fail resize-mkfs "mkfs.ext4 failed"
fi
timed_fail resize-shrink-refused "ask with --shrink" ctl resize ctl-a 64M
timed_fail resize-misaligned-refused "multiple of the device's logical block size" ctl resize ctl-a 1000
usage_error resize-bad-size-usage "is not a size" ctl resize ctl-a 12Q
run_case resize-capacity-kept [ "$(sectors_of $NA)" = 262144 ]

# --- a takeover after a resize: the state file's identity followed it -------------
kill -9 $PA
wait $PA 2>/dev/null
"$VDUSE_BLKD" $RING_ARGS --name ctl-a --image $A --attach --queues 2 --state-dir $SD \
	>/tmp/ctl-a2.out 2>/tmp/ctl-a2.log &
PA=$!
t=100
until [ -s /tmp/ctl-a2.out ] || [ $t -le 0 ] || ! kill -0 $PA 2>/dev/null; do sleep 0.1; t=$((t - 1)); done
if grep -q "taking over device 'ctl-a'" /tmp/ctl-a2.log && kill -0 $PA 2>/dev/null; then
	pass resize-then-takeover
else
	fail resize-then-takeover "$(cat /tmp/ctl-a2.log)"
fi
# The files resize2fs made room for, beyond the old end, through the new daemon.
ok=0
if mount -t ext4 -o ro "$NA" /mnt/ctl; then
	ok=1
	for i in 1 2 3 4 5; do cmp /tmp/big /mnt/ctl/f$i || ok=0; done
	umount /mnt/ctl
fi
run_case takeover-ext4-files-verified [ $ok = 1 ]
run_case takeover-capacity [ "$(sectors_of $NA)" = 262144 ]
run_case takeover-list-new-pid sh -c "$BLKCTL --state-dir $SD list | grep -Eq '^ctl-a .*128\.0 MiB .* $PA\$'"

# --- clear errors within 2 s ---------------------------------------------------------
timed_fail err-no-such-device "no such device 'nosuch'" ctl stats nosuch
kill -STOP $PB
timed_fail err-stopped-daemon "not responding" ctl stats ctl-b
timed_fail err-stopped-daemon-list "not responding" ctl list
kill -CONT $PB
run_case err-continued-daemon-answers ctl stats ctl-b
mv $SD/ctl-b.sock /tmp/ctl-b.sock.moved
timed_fail err-socket-gone "no daemon serves 'ctl-b'" ctl stats ctl-b
mv /tmp/ctl-b.sock.moved $SD/ctl-b.sock
if grep -q '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd; then
	timed_fail err-permission-denied "permission denied" \
		su nobody -s /bin/sh -c "$BLKCTL --state-dir $SD stats ctl-a"
else
	skip err-permission-denied "cannot add a user to /etc/passwd"
fi

# --- clean stop: the socket goes with the daemon ----------------------------------
kill -TERM $PB
wait $PB
run_case stop-removes-socket [ ! -e $SD/ctl-b.sock ]
timed_fail stopped-no-such-device "no such device 'ctl-b'" ctl stats ctl-b
kill -TERM $PA
wait $PA

# --- --user, seccomp sandbox on (the default) ----------------------------------------
C=/tmp/ctl-c.img
dd if=/dev/zero of=$C bs=1M count=16 2>/dev/null
if daemon_start ctl-c --image $C --attach --queues 2 --state-dir $SD --user 65534; then
	PC=$DPID
	NC=$NODE
	# The node comes before the sandbox goes on (the queues restart in Landlock first).
	t=100
	until grep -q "seccomp sandbox on" /tmp/ctl-c.log || [ $t -le 0 ]; do sleep 0.1; t=$((t - 1)); done
	run_case user-socket-owner [ "$(stat -c %u:%g:%a $SD/ctl-c.sock)" = 65534:65534:600 ]
	# The node is printed once the disk is attached; the privilege drop and
	# the filter follow it (on_ready): give them a moment.
	t=30
	while [ "$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$PC/status)" != 2 ] && [ $t -gt 0 ]; do
		sleep 0.1; t=$((t - 1))
	done
	run_case user-seccomp-on [ "$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$PC/status)" = 2 ]
	dd if=/dev/urandom of="$NC" bs=4k count=16 oflag=direct 2>/dev/null
	ctl stats --json ctl-c > /tmp/sc.json
	run_case user-stats [ "$(jget /tmp/sc.json write_bytes)" = 65536 ]
	run_case user-resize ctl resize ctl-c 32M
	t=20
	while [ "$(sectors_of $NC)" != 65536 ] && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
	run_case user-resize-seen [ "$(sectors_of $NC)" = 65536 -a "$(stat -c %s $C)" = $((32 * MIB)) ]
	run_case user-log-level ctl log-level ctl-c warn
	# A live upgrade keeps the socket (handed over, not made again).
	kill -HUP $PC
	t=100
	until [ "$(grep -c "serving '" /tmp/ctl-c.log)" -ge 2 ] || [ $t -le 0 ]; do sleep 0.1; t=$((t - 1)); done
	run_case user-upgrade-keeps-socket ctl stats ctl-c ||
		info "ctl-c's log: $(tail -n 20 /tmp/ctl-c.log | tr '\n' '|')"
	kill -TERM $PC
	wait $PC
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q "forbidden system call" /tmp/ctl-c.log; then
		pass user-stop-under-filter
	else
		fail user-stop-under-filter "exit $rc: $(cat /tmp/ctl-c.log)"
	fi
	# The user may not remove the socket from root's directory: list skips it.
	run_case user-stopped-not-listed sh -c "! $BLKCTL --state-dir $SD list | grep -q '^ctl-c '"
	# A new daemon replaces the stale socket.
	if daemon_start ctl-c --image $C --attach --state-dir $SD --queues 2; then
		run_case stale-socket-replaced ctl stats ctl-c
		kill -TERM $DPID
		wait $DPID
	else
		fail stale-socket-replaced "$(cat /tmp/ctl-c.log)"
	fi
else
	fail user-start "$(cat /tmp/ctl-c.log)"
fi
# --- a shrunk block device: taken over at the size it has (issue 22) ------------------
# The resize cannot shrink the block device itself; the state file records the
# smaller device, and the next daemon (a crash, a live upgrade) takes it over so.
L=/tmp/ctl-l.img
truncate -s 64M $L
LOOP=$($LOSETUP -f --show $L)
if [ -b "$LOOP" ] && daemon_start ctl-l --image "$LOOP" --attach --state-dir $SD; then
	NL=$NODE
	run_case shrink-blockdev ctl resize ctl-l 32M --shrink
	t=20
	while [ "$(sectors_of $NL)" != 65536 ] && [ $t -gt 0 ]; do sleep 0.1; t=$((t - 1)); done
	run_case shrink-blockdev-seen [ "$(sectors_of $NL)" = 65536 ]
	kill -9 $DPID
	wait $DPID 2>/dev/null
	if daemon_start ctl-l --image "$LOOP" --attach --state-dir $SD &&
	   grep -q "taking over device 'ctl-l'" /tmp/ctl-l.log; then
		pass shrink-blockdev-then-takeover
		run_case shrink-blockdev-capacity-kept sh -c "[ $(sectors_of $NL) = 65536 ] &&
			$BLKCTL --state-dir $SD list | grep -Eq '^ctl-l .*32\.0 MiB'"
		# And a live upgrade, whose new image must not refuse it either.
		kill -HUP $DPID
		t=100
		until [ "$(grep -c "serving '" /tmp/ctl-l.log)" -ge 2 ] || [ $t -le 0 ]; do sleep 0.1; t=$((t - 1)); done
		run_case shrink-blockdev-then-upgrade sh -c "kill -0 $DPID && ! grep -q refusing /tmp/ctl-l.log"
		kill -TERM $DPID
		wait $DPID
	else
		fail shrink-blockdev-then-takeover "$(tr '\n' '|' < /tmp/ctl-l.log)"
		kill -TERM $DPID 2>/dev/null
		wait $DPID 2>/dev/null
	fi
else
	fail shrink-blockdev-start "$(cat /tmp/ctl-l.log 2>/dev/null)"
fi
$LOSETUP -d "$LOOP" 2>/dev/null

# --- nothing slow on the control loop: a resize on a stalled file system -------------
# ext4 on dm-delay (every read and write held DELAY_MS), caches dropped:
# shrinking the image (ftruncate frees its blocks, reading the bitmaps)
# waits seconds.  The daemon resizes in a thread of its own; its control
# loop answers meanwhile (before, it sat in ftruncate).
DMSETUP=/usr/sbin/dmsetup
export DM_DISABLE_UDEV=1
DELAY_MS=3000
S=/tmp/ctl-slow.backing
truncate -s 64M $S
LOOP=$($LOSETUP -f --show $S)
if ! $DMSETUP version >/dev/null 2>&1 || ! $MKFS_EXT4 -q -F "$LOOP"; then
	skip slow-resize "no device-mapper or mkfs here"
else
	mkdir -p /mnt/slow
	mount -t ext4 "$LOOP" /mnt/slow && dd if=/dev/urandom of=/mnt/slow/img bs=1M count=16 2>/dev/null &&
		umount /mnt/slow
	SECTORS=$(( $(stat -c %s $S) / 512 ))
	$DMSETUP create ctlslow --table "0 $SECTORS delay $LOOP 0 $DELAY_MS"
	[ -b /dev/mapper/ctlslow ] || $DMSETUP mknodes ctlslow
	if mount -t ext4 /dev/mapper/ctlslow /mnt/slow &&
	   daemon_start ctl-s --image /mnt/slow/img --attach --state-dir $SD; then
		NS=$NODE
		sync
		echo 3 > /proc/sys/vm/drop_caches
		t0=$(now_cs)
		ctl resize ctl-s 8M --shrink > /tmp/slow-resize.out 2>&1 &
		RP=$!
		sleep 0.5
		t1=$(now_cs)
		ctl stats ctl-s > /tmp/slow-stats.out 2>&1
		src=$?
		stats_cs=$(( $(now_cs) - t1 ))
		wait $RP
		rrc=$?
		resize_cs=$(( $(now_cs) - t0 ))
		info "slow-resize: the resize took ${resize_cs}0 ms; stats were answered in ${stats_cs}0 ms meanwhile"
		run_case slow-resize-done sh -c "[ $rrc = 0 ] && [ \$(stat -c %s /mnt/slow/img) = $((8 * MIB)) ] &&
			[ $(sectors_of $NS) = 16384 ]" || cat /tmp/slow-resize.out
		run_case slow-resize-really-waited [ $resize_cs -ge $((DELAY_MS / 20)) ]
		run_case slow-resize-loop-answers sh -c "[ $src = 0 ] && [ $stats_cs -lt 100 ]" ||
			cat /tmp/slow-stats.out
		kill -TERM $DPID
		wait $DPID
	else
		fail slow-resize-start "$(cat /tmp/ctl-s.log 2>/dev/null)"
	fi
	umount /mnt/slow 2>/dev/null
	$DMSETUP remove ctlslow
fi
$LOSETUP -d "$LOOP" 2>/dev/null

rm -f $A $B $C $L $S /tmp/big /tmp/pat
summary
