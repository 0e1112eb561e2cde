#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench-nbd.sh: the nbd backend against the kernel's own NBD client (nbd.ko,
# set up by nbd-client) in one guest boot (issue 24).  One qemu-nbd serves
# each image on a Unix socket; vduse-blkd (--image nbd+unix:///?socket=...)
# and the kernel's client (nbd-client -unix, as many connections as the
# daemon has queues) take turns on the same server, rounds interleaved.
#
#   IOPS      bench-lib.sh's five fio jobs on each disk, the median of the
#             rounds, the ratios vduse-blkd / knbd
#   attach    the time from starting vduse-blkd --attach (or nbd-client) to
#             the first 4 KiB O_DIRECT read of the disk that returns data
#             (first-read), medians of BENCH_ATTACH_TRIES; beside them
#             vduse-blkd serving the raw image as a file (io_uring backend)
#             and, with strace in the guest (BENCH_STRACE=1), one traced
#             start of each daemon to see where the time goes
#
# Environment (bench-nbd.env, from scripts/bench-nbd.sh): BENCH_RUNTIME,
# BENCH_ROUNDS, BENCH_QUEUES, BENCH_FORMATS (qcow2 raw), BENCH_ATTACH_TRIES,
# BENCH_STRACE.  It measures, it does not judge.
. /tests/lib.sh
# the settings first: bench-lib.sh picks its jobs by BENCH_JOBS
[ -f /tests/bench-nbd.env ] && . /tests/bench-nbd.env
. /tests/bench-lib.sh

RUNTIME=${BENCH_RUNTIME:-8}
ROUNDS=${BENCH_ROUNDS:-3}
QUEUES=${BENCH_QUEUES:-2}
FORMATS=${BENCH_FORMATS:-qcow2 raw}
TRIES=${BENCH_ATTACH_TRIES:-7}
SIZE_MB=256
RESULTS=/tmp/bench.results
CPU=/tmp/bench.cpu
ATTACH=/tmp/attach.results
: > $RESULTS
: > $CPU
: > $ATTACH

QEMU_NBD=/usr/bin/qemu-nbd
QEMU_IMG=/usr/bin/qemu-img
NBD_CLIENT=/usr/sbin/nbd-client
FIRST_READ=/usr/bin/first-read
STRACE=/usr/bin/strace
SOCK=/tmp/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
KNBD=/dev/nbd0

for t in $QEMU_NBD $QEMU_IMG $NBD_CLIENT $FIRST_READ $FIO; do
	if [ ! -x "$t" ]; then
		skip bench-nbd "$t is not in the guest (scripts/bench-nbd.sh adds it)"
		summary
	fi
done
if ! load_extra nbd nbds_max=2; then
	skip bench-nbd "no nbd module in this kernel's extra modules (tests/vm/lib/fetch-kernel.sh)"
	summary
fi

# The images: every cluster allocated (a qcow2 of holes would answer reads
# from its metadata alone), on the guest's tmpfs.
$QEMU_IMG create -q -f raw -o preallocation=falloc /tmp/img.raw ${SIZE_MB}M &&
	$QEMU_IMG create -q -f qcow2 -o preallocation=falloc /tmp/img.qcow2 ${SIZE_MB}M ||
	{ fail images "qemu-img create"; summary; }

# serve FORMAT: qemu-nbd on $SOCK for /tmp/img.FORMAT (QPID), as docs/nbd.md shows it.
serve() {
	rm -f $SOCK
	$QEMU_NBD --socket=$SOCK -f "$1" --persistent --shared=8 "/tmp/img.$1" 2>/tmp/qemu-nbd.log &
	QPID=$!
	wait_for $SOCK 20 || { info "qemu-nbd: no socket: $(cat /tmp/qemu-nbd.log)"; return 1; }
}

unserve() {
	kill "$QPID"
	wait "$QPID" 2>/dev/null
}

# knbd_connect CONNS: the kernel's client on the export, CONNS connections.
knbd_connect() {
	$NBD_CLIENT -unix $SOCK $KNBD -b 512 -C "$1" >/tmp/nbd-client.log 2>&1
}

knbd_disconnect() {
	$NBD_CLIENT -d $KNBD >/dev/null 2>&1
	# until the kernel let go of the device: its size 0 again and its
	# configuration gone (the pid file goes with it; before that a new
	# connect fails with "nbd0 already in use")
	_t=100
	while { [ "$(cat /sys/block/nbd0/size 2>/dev/null)" != 0 ] || [ -e /sys/block/nbd0/pid ]; } &&
	      [ $_t -gt 0 ]; do
		_t=$((_t - 1))
		sleep 0.1
	done
}

# gone PID: wait (10 s at most) for a process that is not our child to end.
gone() {
	_t=100
	while kill -0 "$1" 2>/dev/null && [ $_t -gt 0 ]; do
		_t=$((_t - 1))
		sleep 0.1
	done
}

info "guest: $(nproc) vCPUs, kernel $(uname -r), images $SIZE_MB MiB on tmpfs ($FORMATS), qemu-nbd $($QEMU_NBD --version | head -n1 | cut -d' ' -f2), $RUNTIME s per job, $ROUNDS round(s), $QUEUES queue(s)/connection(s), median per cell"

round=1
while [ $round -le $ROUNDS ]; do
info "round $round of $ROUNDS"
for fmt in $FORMATS; do
	serve "$fmt" || continue
	for q in $QUEUES; do
		# --- the kernel's NBD client ---
		fresh
		if knbd_connect "$q" && wait_node $KNBD; then
			run_jobs knbd-${q}c-$fmt $KNBD
		else
			info "nbd-client with $q connection(s) failed: $(cat /tmp/nbd-client.log)"
		fi
		knbd_disconnect

		# --- vduse-blkd, nbd backend ---
		fresh
		"$VDUSE_BLKD" --image "$URI" --name nbdb --queues "$q" --attach >/tmp/vdb.out 2>/tmp/vdb.log &
		vpid=$!
		if wait_line /tmp/vdb.out && DEV=$(head -n1 /tmp/vdb.out) && [ -b "$DEV" ]; then
			run_jobs vduse-blkd-${q}q-$fmt "$DEV" $vpid
		else
			info "vduse-blkd with $q queue(s) did not come up: $(cat /tmp/vdb.log)"
		fi
		kill -TERM $vpid
		wait $vpid
		rm -f /tmp/vdb.out
	done
	unserve
done
round=$((round + 1))
done

# --- attach latency ---
# attach_try SYSTEM DISK CMD...: one timed start; into $ATTACH the result
# line of first-read and the time the kernel logged the new disk (virtio_blk's
# "[vdX] N 512-byte logical blocks", nbd's "detected capacity change"), in ms
# after a mark written to the kernel log just before first-read started.
attach_try() {
	_sys=$1 _disk=$2
	shift 2
	_mark=$((${_mark:-0} + 1))
	echo "bench-nbd: mark $_mark" > /dev/kmsg
	$FIRST_READ "$_disk" 30000 "$@" >/tmp/fr.out 2>/tmp/fr.log
	_line=$(grep '^node ' /tmp/fr.out)
	case $_line in
	*" read - "*|"") info "$_sys: no usable disk: $(cat /tmp/fr.out /tmp/fr.log | tr '\n' '|' | cut -c1-400)" ;;
	esac
	_probe=$(dmesg | tr -d '[]' | awk -v m="bench-nbd: mark $_mark" '
		index($0, m) { t0 = $1; next }
		t0 != "" && (/ logical blocks / || /detected capacity change from 0/) {
			printf "%.1f", ($1 - t0) * 1000; exit
		}')
	echo "$_sys $_line probe ${_probe:--}" >> $ATTACH
	# shellcheck disable=SC2086  # "node MS read MS pid PID"
	set -- $_line
	APID=$6
}

# stop_daemon: SIGTERM to the daemon attach_try started (not our child: it
# was first-read's), and wait until it is gone with its device.
stop_daemon() {
	_p=$(pidof vduse-blkd vduse-blkd-norbd)
	[ -n "$_p" ] && kill -TERM $_p
	for _q in $_p; do gone "$_q"; done
	[ -n "${APID:-}" ] && gone "$APID"
}

vdisk_glob() { echo "/sys/bus/vdpa/devices/$1/virtio*/block/*"; }

# The daemon built without the rbd backend (scripts/bench-nbd.sh with
# BENCH_NORBD=1): what loading librbd and its libraries costs at each start.
DAEMONS="vduse-blkd:$VDUSE_BLKD"
[ -x /usr/bin/vduse-blkd-norbd ] && DAEMONS="$DAEMONS norbd:/usr/bin/vduse-blkd-norbd"

for fmt in $FORMATS; do
	serve "$fmt" || continue
	for q in $QUEUES; do
		i=1
		while [ $i -le "$TRIES" ]; do
			attach_try knbd-${q}c-$fmt $KNBD $NBD_CLIENT -unix $SOCK $KNBD -b 512 -C "$q"
			knbd_disconnect
			for d in $DAEMONS; do
				attach_try ${d%%:*}-${q}q-$fmt "$(vdisk_glob nbdl)" \
					"${d#*:}" --image "$URI" --name nbdl --queues "$q" --attach
				stop_daemon
			done
			i=$((i + 1))
		done
	done
	unserve
done
# The io_uring backend on the raw image as a file: the same daemon without NBD.
for q in $QUEUES; do
	i=1
	while [ $i -le "$TRIES" ]; do
		for d in $DAEMONS; do
			attach_try ${d%%:*}-${q}q-file "$(vdisk_glob nbdl)" \
				"${d#*:}" --image /tmp/img.raw --name nbdl --queues "$q" --attach
			stop_daemon
		done
		i=$((i + 1))
	done
done

# A program's start alone: exec to exit of --version (nbd-client: -h), 10 in a row.
STARTS=/tmp/starts.results
: > $STARTS
for d in $DAEMONS "nbd-client:$NBD_CLIENT"; do
	arg=--version
	[ "${d%%:*}" = nbd-client ] && arg=-h
	t0=$(cut -d' ' -f1 /proc/uptime)
	for i in 1 2 3 4 5 6 7 8 9 10; do "${d#*:}" $arg >/dev/null 2>&1; done
	t1=$(cut -d' ' -f1 /proc/uptime)
	awk -v n="${d%%:*}" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-24s %10.1f\n", n, (b - a) * 100 }' >> $STARTS
done

# One traced start of each, with the kernel's log of it: where the time goes.
if [ "${BENCH_STRACE:-0}" = 1 ] && [ -x $STRACE ]; then
	q=${QUEUES%% *}
	serve qcow2 &&
	for what in nbd file; do
		img=$URI
		[ $what = file ] && img=/tmp/img.raw
		echo "vduse-blkd: trace $what" > /dev/kmsg
		attach_try trace-$what "$(vdisk_glob nbdl)" $STRACE -f -tt -T -o /tmp/strace.$what \
			"$VDUSE_BLKD" --image "$img" --name nbdl --queues "$q" --attach --verbose
		echo "STRACE-BEGIN $what"
		cat /tmp/strace.$what
		echo "STRACE-END $what"
		stop_daemon
	done
	echo "KNBD-TRACE-BEGIN"
	$STRACE -f -tt -T $NBD_CLIENT -unix $SOCK $KNBD -b 512 -C "$q" 2>&1
	echo "KNBD-TRACE-END"
	knbd_disconnect
	unserve
	echo "DMESG-BEGIN"
	dmesg | tail -n 60
	echo "DMESG-END"
fi

# --- tables ---
echo "BENCH-TABLE-BEGIN"
pairs=""
for fmt in $FORMATS; do
	for q in $QUEUES; do
		pairs="$pairs knbd-${q}c-$fmt:vduse-blkd-${q}q-$fmt"
	done
done
bench_tables "$pairs"
echo
echo "attach: start to first 4 KiB O_DIRECT read, ms (median, min, max of the tries)"
awk '
	$2 == "node" && $5 != "-" {
		k = $1; v[k, ++n[k]] = $5; nd[k, n[k]] = $3; pr[k, n[k]] = $9
		if (!(k in seen)) { seen[k] = 1; order[++m] = k }
	}
	$2 == "node" && $5 == "-" { fails[$1]++ }
	function med(a, k, c,   x, y, t, i, s) {
		for (i = 1; i <= c; i++) s[i] = a[k, i]
		for (x = 1; x <= c; x++) for (y = x + 1; y <= c; y++)
			if (s[y] < s[x]) { t = s[x]; s[x] = s[y]; s[y] = t }
		lo = s[1]; hi = s[c]
		return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
	}
	END {
		printf "%-24s %8s %8s %8s %12s %12s %6s\n", "system", "median", "min", "max",
			"probe median", "node median", "tries"
		for (i = 1; i <= m; i++) {
			k = order[i]
			r = med(v, k, n[k]); rlo = lo; rhi = hi
			printf "%-24s %8.1f %8.1f %8.1f %12.1f %12.1f %6d%s\n", k, r, rlo, rhi, med(pr, k, n[k]),
				med(nd, k, n[k]), n[k],
				fails[k] ? " (" fails[k] " failed)" : ""
		}
	}' $ATTACH
echo "(probe: the kernel logged the new disk; node: its /dev node existed; ms after the start)"
echo
echo "start alone: exec to exit of --version (nbd-client -h), ms, mean of 10"
cat $STARTS
echo "BENCH-TABLE-END"
pass bench-nbd-ran
summary
