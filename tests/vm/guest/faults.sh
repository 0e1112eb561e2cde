#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# faults.sh: vduse-blkd under a hostile or failing world (issue 8).
#
#   1. image I/O errors mid-run (device-mapper error and flakey targets):
#      EIO for I/O touching the bad sectors only, the rest served, nothing lost;
#   2. a reset while READs wait on a stalled image (dm-delay), through
#      vhost-blk-test: a VM rebooting while its storage hangs;
#   3. reset storm: virtio_vdpa unbind/bind under fio, the daemon's fds,
#      mappings and anonymous memory counted before and after;
#   4. IOTLB remap storm under load through vhost-blk-test, counted the same way;
#   5. SIGSTOP of the daemon for longer than the kernel's 30 s message
#      timeout, then SIGCONT: once with only I/O waiting, once with a reset
#      waiting.
#
# Knobs (kernel command line, e.g. VM_APPEND="FAULTS_RESET_CYCLES=50"; the
# kernel hands NAME=VALUE arguments to /init as environment variables):
#   FAULTS_STALL_S       read stall of the dm-delay image (default 45)
#   FAULTS_RESET_CYCLES  unbind/bind cycles of the reset storm (default 200)
#   FAULTS_REMAPS        remaps of the remap storm (default 300)
#   FAULTS_STOP_S        how long the daemon stays stopped with I/O waiting
#                        (default 40); with a reset waiting it stays stopped
#                        until the kernel gives up (30 s), at most STOP_S + 30
#   FAULTS_ONLY          run only these parts, e.g. "errors stall" (default all)
. /tests/lib.sh

STALL_S=${FAULTS_STALL_S:-45}
RESET_CYCLES=${FAULTS_RESET_CYCLES:-200}
REMAPS=${FAULTS_REMAPS:-300}
STOP_S=${FAULTS_STOP_S:-40}
ONLY=${FAULTS_ONLY:-errors flakey stall resets remaps stop}

DMSETUP=/usr/sbin/dmsetup
VBT=/usr/bin/vhost-blk-test
# No udev in the guest: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1

wants() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# start NAME ARGS...: daemon attached by itself; DPID, and NODE (its /dev/vdX
# or /dev/vhost-vdpa-N).
start() { daemon_start "$@"; }

# start_counted NAME ARGS...: start, for a daemon whose memory no_leak counts.
# Each device setup callocs a 1 MiB iovec array per queue.  glibc's dynamic
# mmap threshold moves those into the heap after the first free, and then
# how much of the heap is resident at a given moment swings by megabytes
# with where the arrays land and whether the top was trimmed (seen: +2 MiB
# between reset cycles 5 and 200, +1 MiB across one remap storm, nothing
# leaked).  A fixed threshold keeps them in mappings of their own that go
# back to the kernel when freed, so RssAnon counts what is still allocated,
# and a leaked array would also show as a mapping.
start_counted() {
	export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
	daemon_start "$@"
	_r=$?
	unset GLIBC_TUNABLES
	[ $_r -eq 0 ] && info "$1 runs with $(tr '\0' '\n' < /proc/$DPID/environ | grep '^GLIBC_TUNABLES=')"
	return $_r
}

# stop_daemon: SIGTERM and wait; returns its exit status.
stop_daemon() {
	kill -TERM $DPID 2>/dev/null
	wait $DPID
}

# dstat PID: "FDS MAPS RSS_ANON_KB RSS_KB" of a process.
dstat() {
	_fds=$(ls /proc/$1/fd | wc -l)
	_maps=$(wc -l < /proc/$1/maps)
	_anon=$(awk '/^RssAnon:/ { print $2 }' /proc/$1/status)
	_rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$1/status)
	echo "$_fds $_maps $_anon $_rss"
}

# leak_base NAME PID: dstat of PID, and its anonymous memory by mapping in
# /tmp/NAME.anon for no_leak to compare with should the check fail.
leak_base() {
	anon_maps "$2" > "/tmp/$1.anon"
	dstat "$2"
}

# no_leak NAME BEFORE AFTER PID LOG: fds equal, mappings within 8 lines,
# anonymous memory within 1 MiB (thread stacks and caches settle after the
# warm-up).  On failure it prints which mappings grew and the daemon's log.
no_leak() {
	_pid=$4 _log=$5
	set -- "$1" $2 $3
	# $1 name, $2..$5 before, $6..$9 after
	info "$1: fds $2 -> $6, mappings $3 -> $7, RssAnon $4 -> $8 kB (+$(($8 - $4)), limit +1024), VmRSS $5 -> $9 kB"
	if [ "$6" -le "$2" ] && [ "$7" -le $(($3 + 8)) ] && [ "$8" -le $(($4 + 1024)) ]; then
		pass "$1" "fds $2 -> $6, maps $3 -> $7, anon $4 -> $8 kB"
	else
		fail "$1" "fds $2 -> $6 (limit $2), maps $3 -> $7 (limit $(($3 + 8))), RssAnon $4 -> $8 kB (+$(($8 - $4)) kB, limit +1024 kB)"
		echo "    --- anonymous kB by mapping, before -> after ---"
		anon_maps "$_pid" | awk 'NR == FNR { b[$1] = $2; next }
			{ if ($2 != b[$1]) print "    " $1, (b[$1] == "" ? "new" : b[$1]), "->", $2, $3; delete b[$1] }
			END { for (r in b) print "    " r, b[r], "-> gone" }' "/tmp/$1.anon" -
		ls -l /proc/$_pid/fd | sed 's/^/    /'
		log_tail "$_log"
	fi
}

# kmsg_mark TAG: put "faults: mark TAG" in the kernel log.
# dmesg_since TAG: the kernel's lines after that mark, or "faults: mark TAG
# lost" and status 1 if the log no longer holds it.  Counting lines instead
# (dmesg | wc -l, then tail -n +N) sees nothing once the 128 KiB log buffer is
# full: by then, in the one boot that runs every suite, old lines leave as
# new ones come.
kmsg_mark() { echo "faults: mark $1" > /dev/kmsg; }
dmesg_since() {
	dmesg | awk -v m="faults: mark $1" '
		{ l[NR] = $0 }
		length($0) >= length(m) && substr($0, length($0) - length(m) + 1) == m { at = NR }
		END {
			if (!at) { print m " lost"; exit 1 }
			for (i = at + 1; i <= NR; i++) print l[i]
		}'
}

# io_errors_of DEV TAG: sectors of the kernel's "I/O error, dev DEV, sector N"
# lines since mark TAG (earlier suites of the same boot had a vda too).
io_errors_of() {
	dmesg_since "$2" | sed -n "s/.*I[/]O error, dev ${1#/dev/}, sector \([0-9]*\) .*/\1/p"
}

# log_tail NAME [N]: the last N (10) lines of daemon NAME's log, indented: what
# a failed check prints, so that one console log is enough to diagnose it.
log_tail() {
	echo "    --- last ${2:-10} lines of /tmp/$1.log ---"
	tail -n "${2:-10}" "/tmp/$1.log" | sed 's/^/    /'
}

# anon_maps PID: "START-END ANON_KB NAME" of each mapping holding anonymous
# memory, to tell a growing heap from a new region when a leak check fails.
anon_maps() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { r = $1; n = $6 }
	     /^Anonymous:/ && $2 > 0 { print r, $2, n }' /proc/$1/smaps
}

# vhost_driver_ready PART: vhost_vdpa and the test driver are there; if not,
# PART is skipped (no module) or failed (no vhost-blk-test) and it returns 1.
vhost_driver_ready() {
	if ! load_vhost_vdpa; then
		skip "$1" "vhost_vdpa could not be loaded"
		return 1
	fi
	if [ ! -x $VBT ]; then
		fail "$1" "vhost-blk-test is not in the guest"
		return 1
	fi
}

# remap_warm_up: two short remap storms on $NODE, each a whole device life
# (setup, I/O, reset), so that the daemon's memory has settled before the
# storm is counted.  Without a fixed mmap threshold (start_counted) the third
# setup (virtio_vdpa's probe at --attach=vhost, then each storm) is the one
# where glibc clears a reused 1 MiB heap block; with one warm-up that was the
# storm's, and its +0.9 to 1.0 MiB took the whole 1 MiB budget.
remap_warm_up() {
	$VBT "$NODE" --ring "$(vhost_ring)" --image /tmp/remap.img --remap-storm 5 || return 1
	echo "after the first warm-up: fds maps RssAnon VmRSS $(dstat $DPID)"
	$VBT "$NODE" --ring "$(vhost_ring)" --image /tmp/remap.img --remap-storm 5 > /tmp/vbt-warm.out 2>&1 ||
		{ cat /tmp/vbt-warm.out; return 1; }
}

# same_as_pattern DEV OFFSET_MIB COUNT_MIB: DEV holds /tmp/pat there.
same_as_pattern() {
	dd if="$1" of=/tmp/cmp.a bs=1M skip="$2" count="$3" iflag=direct 2>/dev/null &&
		dd if=/tmp/pat of=/tmp/cmp.b bs=1M skip="$2" count="$3" 2>/dev/null &&
		cmp /tmp/cmp.a /tmp/cmp.b
}

# fio_verify_loop DEV OFFSET SIZE: fio verify runs, one after another, until
# /tmp/fio.stop exists; one line per run in /tmp/fio.runs ("ok" or "fail").
fio_verify_loop() {
	rm -f /tmp/fio.stop /tmp/fio.runs
	while [ ! -e /tmp/fio.stop ]; do
		if $FIO --name=v --filename="$1" --ioengine=libaio --direct=1 --rw=randwrite \
			--bs=4k --iodepth=16 --offset="$2" --size="$3" --verify=crc32c \
			--do_verify=1 --verify_fatal=1 --minimal >/tmp/fio.out 2>&1; then
			echo ok >> /tmp/fio.runs
		else
			echo fail >> /tmp/fio.runs
			cat /tmp/fio.out
		fi
	done
}

# How full the kernel's log is (earlier suites of the boot): dmesg checks
# read from marks, which a full log still keeps.
info "kernel log at the start: $(dmesg | wc -l) lines, $(dmesg | wc -c) bytes"

SIZE_MB=64
SECTORS=$((SIZE_MB * 2048))
dd if=/dev/urandom of=/tmp/pat bs=1M count=$SIZE_MB 2>/dev/null

if ! $DMSETUP version >/dev/null 2>&1; then
	skip device-mapper "dmsetup does not work here: $($DMSETUP version 2>&1 | tail -n1)"
	ONLY=$(echo " $ONLY " | sed 's/ errors / /; s/ flakey / /; s/ stall / /')
fi

# --- 1. an error hole appears mid-run --------------------------------------
# 32 KiB at 16 MiB become a dm "error" target while fio verifies 32-48 MiB.
HOLE=32768
HOLE_N=64
if wants errors || wants flakey; then
	cp /tmp/pat /tmp/dm.img
	LOOP=$($LOSETUP -f --show /tmp/dm.img)
	$DMSETUP create ferr --table "0 $SECTORS linear $LOOP 0" || fail dm-create "dmsetup create failed"
	[ -b /dev/mapper/ferr ] || $DMSETUP mknodes ferr
	# --direct: the daemon's page cache would serve old data from the hole.
	if ! start fe --image /dev/mapper/ferr --direct --attach; then
		fail errors-start "daemon did not attach: $(cat /tmp/fe.log)"
	fi
fi
if wants errors && [ -n "$NODE" ]; then
	DEV=$NODE
	t0=$(now)
	kmsg_mark errors
	fio_verify_loop "$DEV" 32M 16M &
	FLOOP=$!
	sleep 1
	$DMSETUP reload ferr --table "0 $HOLE linear $LOOP 0
$HOLE $HOLE_N error
$((HOLE + HOLE_N)) $((SECTORS - HOLE - HOLE_N)) linear $LOOP $((HOLE + HOLE_N))" &&
		$DMSETUP resume ferr
	run_case errors-hole-appears-mid-fio kill -0 $FLOOP
	info "table now: $($DMSETUP table ferr | tr '\n' ';')"

	# 4 KiB reads in the hole fail; around it they succeed with the old data.
	if dd if="$DEV" of=/tmp/h bs=4096 skip=$((HOLE / 8)) count=1 iflag=direct 2>/tmp/dd.err; then
		fail errors-read-in-hole-fails "the read succeeded"
	else
		pass errors-read-in-hole-fails "$(tail -n1 /tmp/dd.err)"
	fi
	if dd if="$DEV" of=/tmp/h bs=4096 skip=$(((HOLE + HOLE_N) / 8 - 1)) count=1 iflag=direct 2>/dev/null; then
		fail errors-read-hole-last-block-fails "the read succeeded"
	else
		pass errors-read-hole-last-block-fails
	fi
	run_case errors-read-before-hole sh -c "dd if=$DEV of=/tmp/a bs=4096 skip=$((HOLE / 8 - 1)) count=1 iflag=direct 2>/dev/null && dd if=/tmp/pat of=/tmp/b bs=4096 skip=$((HOLE / 8 - 1)) count=1 2>/dev/null && cmp /tmp/a /tmp/b"
	run_case errors-read-after-hole sh -c "dd if=$DEV of=/tmp/a bs=4096 skip=$(((HOLE + HOLE_N) / 8)) count=1 iflag=direct 2>/dev/null && dd if=/tmp/pat of=/tmp/b bs=4096 skip=$(((HOLE + HOLE_N) / 8)) count=1 2>/dev/null && cmp /tmp/a /tmp/b"
	if dd if="$DEV" of=/tmp/h bs=1M skip=15 count=2 iflag=direct 2>/dev/null; then
		fail errors-large-read-across-hole-fails "a 1 MiB read spanning the hole succeeded"
	else
		pass errors-large-read-across-hole-fails
	fi
	if dd if=/dev/zero of="$DEV" bs=4096 seek=$((HOLE / 8 + 1)) count=1 oflag=direct conv=notrunc 2>/dev/null; then
		fail errors-write-in-hole-fails "the write succeeded"
	else
		pass errors-write-in-hole-fails
	fi
	run_case errors-first-16M-intact same_as_pattern "$DEV" 0 16
	run_case errors-daemon-alive kill -0 $DPID

	# The rest keeps being served: fio verified 32-48 MiB all along.
	sleep 1
	touch /tmp/fio.stop
	wait $FLOOP
	nr_ok=$(grep -c ok /tmp/fio.runs)
	nr_bad=$(grep -c fail /tmp/fio.runs)
	if [ "$nr_bad" -eq 0 ] && [ "$nr_ok" -ge 1 ]; then
		pass errors-fio-verify-elsewhere "$nr_ok runs of 16 MiB, all verified"
	else
		fail errors-fio-verify-elsewhere "$nr_ok verified runs, $nr_bad failed"
	fi

	# The kernel reported errors for requests touching the hole only.  Its
	# "I/O error" lines are rate-limited (10 in 5 s): at least one is enough.
	bad=""
	nr=0
	for s in $(io_errors_of "$DEV" errors); do
		nr=$((nr + 1))
		[ "$s" -ge $((HOLE - 2048)) ] && [ "$s" -lt $((HOLE + HOLE_N)) ] || bad="$bad $s"
	done
	if [ $nr -gt 0 ] && [ -z "$bad" ]; then
		pass errors-kernel-reports-hole-only "$nr I/O error lines, all at the hole"
	else
		fail errors-kernel-reports-hole-only "$nr error lines for ${DEV#/dev/} (want 1 or more, all in sectors $((HOLE - 2048))-$((HOLE + HOLE_N - 1))); outside the hole:${bad:- none}"
		dmesg_since errors | tail -n 20 | sed 's/^/    /'
		log_tail fe
	fi
	info "daemon log: $(tr '\n' '|' < /tmp/fe.log)"

	# The hole heals: its old data is there, nothing else changed.
	$DMSETUP reload ferr --table "0 $SECTORS linear $LOOP 0" && $DMSETUP resume ferr
	run_case errors-hole-healed-data-intact same_as_pattern "$DEV" 15 2
	if same_as_pattern "$DEV" 0 32 && same_as_pattern "$DEV" 48 16; then
		pass errors-rest-intact "0-32 and 48-64 MiB"
	else
		fail errors-rest-intact "data outside the hole and fio's range changed"
	fi
	info "errors: $(elapsed "$t0") s"
fi

# --- 1b. a flakey range: fails one second out of two ------------------------
if wants flakey && [ -n "$NODE" ]; then
	DEV=$NODE
	t0=$(now)
	$DMSETUP reload ferr --table "0 $HOLE linear $LOOP 0
$HOLE $HOLE_N flakey $LOOP $HOLE 1 1
$((HOLE + HOLE_N)) $((SECTORS - HOLE - HOLE_N)) linear $LOOP $((HOLE + HOLE_N))" &&
		$DMSETUP resume ferr
	# Read until the range has gone from working to failing or back 3 times
	# (about 2.5 s), rather than for a fixed time that a slow guest may
	# spend in one phase: at most 20 s.
	in_ok=0 in_bad=0 in_wrong=0 out_bad=0 flips=0 prev=""
	end=$(($(cut -d. -f1 /proc/uptime) + 20))
	while [ $flips -lt 3 ] && [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
		if dd if="$DEV" of=/tmp/f bs=4096 skip=$((HOLE / 8 + 2)) count=1 iflag=direct 2>/dev/null; then
			dd if=/tmp/pat of=/tmp/g bs=4096 skip=$((HOLE / 8 + 2)) count=1 2>/dev/null
			if cmp -s /tmp/f /tmp/g; then in_ok=$((in_ok + 1)); else in_wrong=$((in_wrong + 1)); fi
			state=up
		else
			in_bad=$((in_bad + 1))
			state=down
		fi
		[ -n "$prev" ] && [ "$state" != "$prev" ] && flips=$((flips + 1))
		prev=$state
		dd if="$DEV" of=/tmp/f bs=4096 skip=$((HOLE / 8 + 64)) count=1 iflag=direct 2>/dev/null ||
			out_bad=$((out_bad + 1))
		sleep 0.1
	done
	info "flakey range: $in_ok reads ok, $in_bad failed, $in_wrong wrong data, $flips changes in $(elapsed "$t0") s; outside it $out_bad failed"
	if [ $flips -ge 3 ] && [ $in_wrong -eq 0 ] && [ $out_bad -eq 0 ]; then
		pass flakey-fails-only-while-down "$in_ok ok, $in_bad EIO, $flips changes, 0 outside"
	else
		fail flakey-fails-only-while-down "$in_ok ok, $in_bad EIO, $in_wrong wrong, $flips changes between ok and EIO (want 3 or more in 20 s), $out_bad failed outside the range"
		log_tail fe
	fi
	$DMSETUP reload ferr --table "0 $SECTORS linear $LOOP 0" && $DMSETUP resume ferr
	run_case flakey-data-intact same_as_pattern "$DEV" 0 32
	info "flakey: $(elapsed "$t0") s"
fi
if wants errors || wants flakey; then
	if [ -n "$NODE" ]; then
		stop_daemon
		run_case errors-daemon-exits-0 [ $? -eq 0 ]
	fi
	$DMSETUP remove ferr
	$LOSETUP -d "$LOOP"
	rm -f /tmp/dm.img
fi
NODE=""

# --- 2. a reset while READs wait on a stalled image ---------------------------
# Sectors 16384-20479 stall reads for STALL_S (writes pass); the rest is
# linear.  Not sector 0: with --attach=vhost the device is bound to
# virtio_vdpa first, whose partition scan would wait on the stall.
if wants stall; then
	if vhost_driver_ready stall; then
		# Through the page cache the late data of an abandoned READ is
		# copied where the daemon maps the buffer then (private memory);
		# with O_DIRECT it goes to the pages the READ pinned.
		for mode in cache direct; do
		t0=$(now)
		cp /tmp/pat /tmp/stall.img
		LOOP=$($LOSETUP -f --show /tmp/stall.img)
		$DMSETUP create fdelay --table "0 16384 linear $LOOP 0
16384 4096 delay $LOOP 16384 $((STALL_S * 1000)) $LOOP 16384 0
20480 $((SECTORS - 20480)) linear $LOOP 20480"
		[ -b /dev/mapper/fdelay ] || $DMSETUP mknodes fdelay
		unstall="$DMSETUP reload fdelay --table '0 $SECTORS linear $LOOP 0' && $DMSETUP resume fdelay"
		# a block device: O_DIRECT unless --buffered
		dflag=--buffered vflag=
		[ $mode = direct ] && dflag=--direct vflag=--direct-dma
		if start fst --image /dev/mapper/fdelay $dflag --queues 1 --attach=vhost; then
			kmsg_mark stall-$mode
			$VBT "$NODE" --ring "$(vhost_ring)" --reset-stall 16384 --fast-sector 8192 --reset-budget-ms 10000 \
				$vflag --stall-end "$unstall" > /tmp/vbt.out 2>&1
			rc=$?
			sed 's/^/    /' /tmp/vbt.out
			info "reset-stall ($mode) took $(elapsed "$t0") s"
			# Whatever happened, end the stall now.
			sh -c "$unstall"
			if grep -q "^ok: reset answered" /tmp/vbt.out; then
				pass stall-$mode-reset-answered-in-time "$(sed -n 's/^ok: reset answered in \([0-9]*\) ms.*/\1 ms/p' /tmp/vbt.out)"
			else
				fail stall-$mode-reset-answered-in-time "$(grep -m1 '^FAIL: reset with' /tmp/vbt.out)"
			fi
			if [ $rc -eq 0 ]; then
				pass stall-$mode-device-works-after-reset
			else
				fail stall-$mode-device-works-after-reset "vhost-blk-test exited $rc"
			fi
			info "kernel: $(dmesg_since stall-$mode | grep -i -E 'vduse|vdpa|vhost|lost' | tr '\n' '|')"
			sleep 1
			if kill -0 $DPID 2>/dev/null; then
				info "daemon alive after the stall test"
				stop_daemon
				info "daemon exited $?"
			else
				wait $DPID
				info "daemon had exited $?"
			fi
			if grep -q "abandoned" /tmp/fst.log; then
				pass stall-$mode-daemon-says-abandoned
			else
				fail stall-$mode-daemon-says-abandoned "no word of abandoned requests in its log"
			fi
			info "daemon log: $(tr '\n' '|' < /tmp/fst.log)"
		else
			fail stall-$mode-start "daemon did not attach: $(cat /tmp/fst.log)"
		fi
		$DMSETUP remove fdelay
		$LOSETUP -d "$LOOP"
		rm -f /tmp/stall.img
		done
	fi
fi

# --- 3. reset storm: unbind/bind virtio_vdpa under load ------------------------
# Each cycle binds, waits until requests are in flight, and unbinds:
# virtio_blk removes the disk (its requests complete first) and resets the
# device.  The load is direct dd in a loop, which starts in milliseconds and
# opens whatever /dev/vdX exists (fio keeps the removed disk open and takes
# longer than a cycle to start under TCG); fio verifies before and after.
# It writes 0-32 MiB only: 32-48 MiB is fio's, 48-64 MiB a sentinel.
if wants resets; then
	t0=$(now)
	cp /tmp/pat /tmp/storm.img
	dd if=/dev/urandom of=/tmp/rnd bs=64k count=16 2>/dev/null
	if start_counted frs --image /tmp/storm.img --queues 2 --attach; then
		run_case resets-fio-verify-before $FIO --name=v --filename="$NODE" --ioengine=libaio \
			--direct=1 --rw=randwrite --bs=4k --iodepth=16 --offset=32M --size=16M \
			--verify=crc32c --do_verify=1 --verify_fatal=1 --minimal
		rm -f /tmp/storm.stop
		# The load opens a node of its own: dd (and fio) would create a
		# regular file /dev/vdX when the disk is gone for a moment, and
		# devtmpfs could not make the real node again.
		(
			n=0
			while [ ! -e /tmp/storm.stop ]; do
				n=$(((n + 1) % 32))
				d=$(vdisk_of frs) && dn=$(cat /sys/block/${d#/dev/}/dev 2>/dev/null) || {
					sleep 0.02
					continue
				}
				if [ "$dn" != "$last" ]; then
					rm -f /tmp/vdload
					mknod /tmp/vdload b ${dn%:*} ${dn#*:} && last=$dn
				fi
				dd if=/tmp/rnd of=/tmp/vdload bs=64k count=16 seek=$((n * 16)) \
					oflag=direct conv=notrunc 2>/dev/null &&
					dd if=/tmp/vdload of=/dev/null bs=64k count=16 skip=$((n * 16)) \
						iflag=direct 2>/dev/null
			done
		) &
		LOADPID=$!
		i=0 busy=0 slow=0 warm=""
		while [ $i -lt "$RESET_CYCLES" ]; do
			tb=$(now)
			if ! d=$(wait_vdisk frs 10); then
				d=$(wait_vdisk frs 60) && slow=$((slow + 1))
				info "cycle $i: the disk came back after $(elapsed "$tb") s; kernel: $(dmesg | tail -n 5 | tr '\n' '|')"
			fi
			[ -n "$d" ] || {
				fail resets-disk-back "no /dev/vdX after cycle $i"
				info "driver: $(readlink /sys/bus/vdpa/devices/frs/driver); $(ls /sys/bus/vdpa/devices/frs/virtio*/ | tr '\n' ' ')"
				info "disks: $(ls /sys/block | tr '\n' ' '); nodes: $(ls /dev/vd* 2>&1 | tr '\n' ' ')"
				info "daemon log: $(tail -n 5 /tmp/frs.log | tr '\n' '|')"
				info "vdisk_of now: $(vdisk_of frs; echo rc=$?) block: $(ls /sys/bus/vdpa/devices/frs/virtio*/block/ | tr '\n' ' ') inflight $(cat /sys/block/vda/inflight) stat $(cat /sys/block/vda/stat)"
				ps -o pid,stat,args | grep -v -e ' S ' -e ']$' | head -20
				for p in $(ps -o pid,stat | awk '$2 ~ /D/ { print $1 }'); do echo "stack of $p ($(cat /proc/$p/cmdline | tr '\0' ' ')):"; cat /proc/$p/stack; done
				echo w > /proc/sysrq-trigger
				dmesg | tail -n 40
				break
			}
			# Unbind as soon as requests are in flight (or after 2 s).
			_w=40
			while [ $_w -gt 0 ]; do
				set -- $(cat /sys/block/${d#/dev/}/inflight 2>/dev/null)
				[ $((${1:-0} + ${2:-0})) -gt 0 ] && { busy=$((busy + 1)); break; }
				_w=$((_w - 1))
				sleep 0.05
			done
			tu=$(now)
			echo frs > /sys/bus/vdpa/drivers/virtio_vdpa/unbind ||
				{ fail resets-unbind "unbind failed at cycle $i"; break; }
			[ "$(elapsed "$tu" | cut -d. -f1)" -ge 5 ] &&
				info "cycle $i: unbind took $(elapsed "$tu") s"
			echo frs > /sys/bus/vdpa/drivers/virtio_vdpa/bind ||
				{ fail resets-bind "bind failed at cycle $i"; break; }
			i=$((i + 1))
			[ $i -eq 5 ] && warm=$(leak_base resets-no-leak $DPID)
			kill -0 $DPID 2>/dev/null || { fail resets-daemon-alive "daemon died at cycle $i"; break; }
		done
		touch /tmp/storm.stop
		wait $LOADPID
		DEV=$(wait_vdisk frs 10)
		run_case resets-dev-nodes-are-block-devices sh -c 'for f in /dev/vd[a-z]*; do [ "$f" = /dev/vduse ] || [ ! -e "$f" ] || [ -b "$f" ] || { echo "$f is not a block device"; exit 1; }; done'
		info "reset storm: $i unbind/bind cycles, $busy with requests in flight at the unbind, $slow disks back only after 10 s, $(elapsed "$t0") s"
		run_case resets-all-cycles [ $i -eq "$RESET_CYCLES" ]
		run_case resets-daemon-alive kill -0 $DPID
		if [ $i -ge 5 ] && [ -n "$warm" ]; then
			no_leak resets-no-leak "$warm" "$(dstat $DPID)" $DPID frs
		fi
		# Most cycles must have caught requests in flight.
		run_case resets-with-io-in-flight [ $((busy * 2)) -ge $i ]
		# The daemon logs a status change after it answered it: give the
		# last line up to 10 s to appear.
		_t=100
		while nr_ready=$(grep -c "driver ready" /tmp/frs.log) &&
			[ "$nr_ready" -lt $((i + 1)) ] && [ $_t -gt 0 ]; do
			sleep 0.1
			_t=$((_t - 1))
		done
		info "daemon log: $(grep -c 'driver reset the device' /tmp/frs.log) resets, $nr_ready DRIVER_OKs; other lines: $(grep -v -e 'driver reset the device' -e 'driver ready' /tmp/frs.log | tr '\n' '|')"
		if [ "$nr_ready" -eq $((i + 1)) ]; then
			pass resets-daemon-saw-each "$nr_ready DRIVER_OKs"
		else
			fail resets-daemon-saw-each "$nr_ready 'driver ready' lines in the daemon's log, want $((i + 1)) (the first bind and $i cycles)"
			log_tail frs
		fi
		if [ -n "$DEV" ]; then
			run_case resets-sentinel-intact same_as_pattern "$DEV" 48 16
			run_case resets-fio-verify-after $FIO --name=v --filename="$DEV" --ioengine=libaio \
				--direct=1 --rw=randwrite --bs=4k --iodepth=16 --offset=32M --size=16M \
				--verify=crc32c --do_verify=1 --verify_fatal=1 --minimal
		fi
		stop_daemon
		run_case resets-daemon-exits-0 [ $? -eq 0 ]
		run_case resets-sentinel-in-image sh -c "dd if=/tmp/storm.img of=/tmp/a bs=1M skip=48 count=16 2>/dev/null && dd if=/tmp/pat of=/tmp/b bs=1M skip=48 count=16 2>/dev/null && cmp /tmp/a /tmp/b"
	else
		fail resets-start "daemon did not attach: $(cat /tmp/frs.log)"
	fi
	rm -f /tmp/storm.img
fi

# --- 4. IOTLB remap storm under load ----------------------------------------
if wants remaps; then
	if vhost_driver_ready remaps; then
		t0=$(now)
		dd if=/dev/zero of=/tmp/remap.img bs=1M count=32 2>/dev/null
		if start_counted frm --image /tmp/remap.img --queues 1 --attach=vhost; then
			s0=$(dstat $DPID)
			run_case remaps-warm-up remap_warm_up
			before=$(leak_base remaps-no-leak $DPID)
			info "remaps: fds maps RssAnon VmRSS: at start $s0, after the warm-ups $before"
			run_case remaps-storm $VBT "$NODE" --ring "$(vhost_ring)" --image /tmp/remap.img --remap-storm "$REMAPS"
			run_case remaps-daemon-alive kill -0 $DPID
			no_leak remaps-no-leak "$before" "$(dstat $DPID)" $DPID frm
			info "daemon log: $(grep -v -e 'driver reset the device' -e 'driver ready' /tmp/frm.log | tr '\n' '|')"
			stop_daemon
			run_case remaps-daemon-exits-0 [ $? -eq 0 ]
		else
			fail remaps-start "daemon did not attach: $(cat /tmp/frm.log)"
		fi
		info "remaps: $(elapsed "$t0") s"
		rm -f /tmp/remap.img
	fi
fi

# --- 5. SIGSTOP past the kernel's 30 s timeout, then SIGCONT --------------------
if wants stop; then
	# 5a. Only I/O waits: the kernel has no timeout for virtio-blk requests.
	t0=$(now)
	cp /tmp/pat /tmp/stop.img
	if start fsa --image /tmp/stop.img --attach; then
		DEV=$NODE
		dd if=/dev/urandom of=/tmp/p2 bs=1M count=1 2>/dev/null
		kmsg_mark stop-io
		info "fsa serves $DEV ($(cat /sys/block/${DEV#/dev/}/dev)); disks: $(ls /sys/block | tr '\n' ' ')"
		kill -STOP $DPID
		( dd if=/tmp/p2 of="$DEV" bs=1M seek=8 count=1 oflag=direct conv=notrunc 2>/dev/null &&
			dd if="$DEV" of=/tmp/p2.back bs=1M skip=8 count=1 iflag=direct 2>/dev/null ) &
		IOPID=$!
		sleep "$STOP_S"
		run_case stop-io-waits-while-stopped kill -0 $IOPID
		info "kernel during the stop: $(dmesg_since stop-io | tr '\n' '|')"
		kill -CONT $DPID
		tc=$(now)
		_t=300
		while kill -0 $IOPID 2>/dev/null && [ $_t -gt 0 ]; do sleep 0.1; _t=$((_t - 1)); done
		if kill -0 $IOPID 2>/dev/null; then
			fail stop-io-completes-after-cont "still waiting 30 s after SIGCONT"
			log_tail fsa
		else
			wait $IOPID
			_rc=$?
			info "the waiting I/O completed $(elapsed "$tc") s after SIGCONT, status $_rc"
			run_case stop-io-completes-after-cont [ $_rc -eq 0 ]
			run_case stop-io-data-correct cmp /tmp/p2 /tmp/p2.back
		fi
		run_case stop-rest-intact same_as_pattern "$DEV" 0 8
		run_case stop-fio-after-cont $FIO --name=v --filename="$DEV" --ioengine=libaio \
			--direct=1 --rw=randwrite --bs=4k --iodepth=16 --offset=16M --size=8M \
			--verify=crc32c --do_verify=1 --verify_fatal=1 --minimal
		stop_daemon
		run_case stop-io-daemon-exits-0 [ $? -eq 0 ]
	else
		fail stop-io-start "daemon did not attach: $(cat /tmp/fsa.log)"
	fi
	info "stop with I/O: $(elapsed "$t0") s"

	# 5b. A reset waits: the kernel gives up after 30 s and marks the device
	# broken for good.  The daemon must say so and clean up, so that a new
	# daemon can create the device again.
	t0=$(now)
	if start fsb --image /tmp/stop.img --attach; then
		kmsg_mark stop-reset
		kill -STOP $DPID
		ts=$(now)
		( echo fsb > /sys/bus/vdpa/drivers/virtio_vdpa/unbind; echo "$? $(elapsed "$ts")" > /tmp/unbind.rc ) &
		UBPID=$!
		# Stopped until the kernel has given up on the reset (its 30 s
		# message timeout): the unbind returns then.  Waiting for that,
		# not a fixed time, is what makes the late answer late; at most
		# STOP_S + 30 s.
		_t=$(((STOP_S + 30) * 10))
		while kill -0 $UBPID 2>/dev/null && [ $_t -gt 0 ]; do sleep 0.1; _t=$((_t - 1)); done
		if kill -0 $UBPID 2>/dev/null; then
			info "unbind still waiting after $(elapsed "$ts") s"
		else
			info "unbind (device reset) returned: exit status and seconds: $(cat /tmp/unbind.rc)"
		fi
		info "kernel during the stop: $(dmesg_since stop-reset | tr '\n' '|')"
		kill -CONT $DPID
		wait $UBPID
		# The daemon sees the device broken: it must say so and exit non-zero.
		_t=300
		while kill -0 $DPID 2>/dev/null && [ $_t -gt 0 ]; do sleep 0.1; _t=$((_t - 1)); done
		if kill -0 $DPID 2>/dev/null; then
			fail stop-reset-daemon-exits "daemon still running 30 s after SIGCONT (unbind: $(cat /tmp/unbind.rc 2>/dev/null))"
			log_tail fsb
			stop_daemon
		else
			wait $DPID
			rc=$?
			info "daemon exited $rc; log: $(tr '\n' '|' < /tmp/fsb.log)"
			run_case stop-reset-daemon-exits-nonzero [ $rc -ne 0 ]
			run_case stop-reset-daemon-says-broken grep -q "marked device 'fsb' broken" /tmp/fsb.log
		fi
		info "left behind: vdpa $(ls /sys/bus/vdpa/devices 2>/dev/null | tr '\n' ' '), vduse $(ls /dev/vduse 2>/dev/null | tr '\n' ' ')"
		run_case stop-reset-nothing-left sh -c "[ ! -e /sys/bus/vdpa/devices/fsb ] && [ ! -e /dev/vduse/fsb ]"
		# A new daemon under the same name serves the data.
		if start fsb --image /tmp/stop.img --attach; then
			run_case stop-reset-restart-serves same_as_pattern "$NODE" 0 8
			stop_daemon
		else
			fail stop-reset-restart-serves "a new daemon could not create 'fsb': $(cat /tmp/fsb.log)"
		fi
	else
		fail stop-reset-start "daemon did not attach: $(cat /tmp/fsb.log)"
	fi
	info "stop with a reset: $(elapsed "$t0") s"
	rm -f /tmp/stop.img
fi

summary
