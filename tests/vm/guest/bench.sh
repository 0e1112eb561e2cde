#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh: vduse-blkd against its peers in one guest boot: the kernel loop
# device, qemu-storage-daemon's vduse-blk export and, when a ublk server is
# provided in /opt/ublksrv (or as /usr/bin/ublk), ublk's loop target (and a
# vduse-blkd binary to compare with, as "base", when /usr/bin/vduse-blkd-base
# exists).  Same image, same fio jobs, same queue counts, rounds interleaved
# (every other round in the reverse order).
# Prints IOPS, ratios, and each daemon's CPU time per I/O (all of its
# threads, io_uring's io-wq workers included, from /proc/PID/stat; io-wq's
# share apart); BENCH_PERF=1 adds a perf profile of vduse-blkd and
# qemu-storage-daemon (BENCH_PERF_JOBS: which jobs).
# It measures, it does not judge.
#
# Where the image lives (BENCH_HOME): tmpfs (a file in the guest's tmpfs),
# raw (a RAM disk, brd, as the raw block device), ext4 or xfs (a file on that
# filesystem on a RAM disk).  How every system reads and writes it
# (BENCH_CACHE, one or both of "buffered direct"): buffered = the page cache
# (loop direct-io=off, qemu-storage-daemon cache.direct=off, ublk
# --buffered_io, vduse-blkd --buffered); direct = O_DIRECT (loop
# direct-io=on, cache.direct=on, ublk's default, vduse-blkd --direct);
# default = the peers buffered, vduse-blkd with neither option (O_DIRECT on
# a block device, the page cache for a file).  With more than one, each
# system's name says its mode ("-direct", "-buffered", "-default").  The page
# cache is dropped before each system's jobs.  In the first round each
# system also reads a GiB through its device, and the growth of the page
# cache and the daemon's resident memory are printed after the tables.
. /tests/lib.sh
# the settings first: bench-lib.sh picks its jobs by BENCH_JOBS
[ -f /tests/bench.env ] && . /tests/bench.env
. /tests/bench-lib.sh

RUNTIME=${BENCH_RUNTIME:-8}
ROUNDS=${BENCH_ROUNDS:-1}
HOME_KIND=${BENCH_HOME:-tmpfs}
CACHES=${BENCH_CACHE:-buffered}
IMG=/tmp/bench.img
SIZE_MB=512
RESULTS=/tmp/bench.results
: > $RESULTS
# the memory a GiB read costs (run_mem), measured in the first round
MEM=/tmp/bench.mem
: > $MEM
# vduse-blkd's kicks and interrupts per request (ctl_counts)
KICKS=/tmp/bench.kicks
: > $KICKS

QUEUES=${BENCH_QUEUES:-2}
CPU=/tmp/bench.cpu
: > $CPU
UBLK=""
if [ -x /opt/ublksrv/bin/ublk ]; then
	UBLK="env LD_LIBRARY_PATH=/opt/ublksrv/lib /opt/ublksrv/bin/ublk"
elif [ -x /usr/bin/ublk ]; then
	UBLK=/usr/bin/ublk
fi

# wants SYSTEM: is SYSTEM (loop, qsd, ublk) measured?  BENCH_ONLY limits them.
wants() {
	case " ${BENCH_ONLY:-loop qsd ublk} " in *" $1 "*) return 0 ;; esac
	return 1
}

# setup_home: make IMG, SIZE_MB of it, where BENCH_HOME says.
setup_home() {
	case $HOME_KIND in
	tmpfs)
		dd if=/dev/zero of=$IMG bs=1M count=$SIZE_MB 2>/dev/null ;;
	raw|ext4|xfs)
		# A filesystem needs room beside the image for itself.
		load_extra brd rd_nr=1 max_part=0 rd_size=$(( (SIZE_MB + 128) * 1024 )) || return 1
		[ -b /dev/ram0 ] || return 1
		if [ $HOME_KIND = raw ]; then
			IMG=/dev/ram0
			# Written once, so that every page exists (as on a real disk).
			dd if=/dev/zero of=$IMG bs=1M count=$((SIZE_MB + 128)) 2>/dev/null
			return 0
		fi
		if [ $HOME_KIND = ext4 ]; then
			$MKFS_EXT4 -q -F -E nodiscard /dev/ram0 || return 1
		else
			load_extra xfs && /usr/sbin/mkfs.xfs -q -f -K /dev/ram0 || return 1
		fi
		mkdir -p /mnt/bench
		mount -t $HOME_KIND /dev/ram0 /mnt/bench || return 1
		IMG=/mnt/bench/bench.img
		dd if=/dev/zero of=$IMG bs=1M count=$SIZE_MB conv=fsync 2>/dev/null ;;
	*)
		info "BENCH_HOME=$HOME_KIND: not tmpfs, raw, ext4 or xfs"
		return 1 ;;
	esac
}

if ! setup_home; then
	fail bench-image "no image on $HOME_KIND"
	summary
fi
info "guest: $(nproc) vCPUs, kernel $(uname -r), image $SIZE_MB MiB on $HOME_KIND ($IMG), cache: $CACHES, $RUNTIME s per job, $ROUNDS round(s), $QUEUES queue(s), median per cell"

# bench_loop: the kernel loop device, in the mode of $loop_dio.
bench_loop() {
	LOOP=""
	wants loop && fresh && LOOP=$($LOSETUP -f --show --direct-io=$loop_dio $IMG)
	if [ -b "$LOOP" ]; then
		run_jobs loop$m "$LOOP"
		[ $round = 1 ] && run_mem loop$m "$LOOP"
		$LOSETUP -d "$LOOP"
	fi
}

# bench_qsd: qemu-storage-daemon's vduse-blk export, for each queue count.
bench_qsd() {
	wants qsd || return 0
	for q in $QUEUES; do
		fresh
		$QSD --blockdev driver=$qsd_drv,node-name=f0,filename=$IMG,cache.direct=$qsd_direct,aio=io_uring \
			--blockdev driver=raw,node-name=n0,file=f0 \
			--export vduse-blk,id=v0,name=qsd$q,node-name=n0,num-queues=$q,writable=on \
			2>/tmp/qsd.log &
		qpid=$!
		if wait_node /dev/vduse/qsd$q && $VDPA dev add name qsd$q mgmtdev vduse && DEV=$(wait_vdisk qsd$q 20); then
			PERF_TAG=1 run_jobs qsd-${q}q$m "$DEV" $qpid
			[ $round = 1 ] && run_mem qsd-${q}q$m "$DEV" $qpid
			$VDPA dev del qsd$q
		else
			info "qemu-storage-daemon with $q queue(s) did not come up: $(cat /tmp/qsd.log)"
		fi
		kill $qpid
		wait $qpid 2>/dev/null
	done
}

# bench_vdb BINARY: vduse-blkd, or the binary to compare it with ("base").
bench_vdb() {
	bin=$1
	[ -x "$bin" ] || return 0
	tag=vduse-blkd envs="" args=${BENCH_ARGS:-}
	[ "$bin" = "$VDUSE_BLKD" ] || { tag=base; envs=${BENCH_BASE_ENV:-}; args=${BENCH_BASE_ARGS:-}; }
	# a binary from before --buffered was buffered without it
	vdb_cache=$vdb_direct
	[ "$vdb_cache" = --buffered ] && ! "$bin" --help 2>/dev/null | grep -q -- --buffered && vdb_cache=
	for q in $QUEUES; do
		fresh
		# shellcheck disable=SC2086  # words
		env $envs "$bin" $args $vdb_cache --image $IMG --name vdb$q --queues $q --attach >/tmp/vdb.out 2>/tmp/vdb.log &
		vpid=$!
		# The redirection creates /tmp/vdb.out at once: wait for the line itself.
		if wait_line /tmp/vdb.out && DEV=$(head -n1 /tmp/vdb.out) && wait_node "$DEV" && [ -b "$DEV" ]; then
			if [ "$round" = 1 ]; then
				# idle: no I/O for 3 s, the daemon should use no CPU at all
				sleep 1
				i0=$(cpu_ticks $vpid)
				sleep 3
				info "$tag-${q}q$m idle: $(( $(cpu_ticks $vpid) - i0 )) clock ticks of CPU in 3 s"
			fi
			if [ $tag = vduse-blkd ]; then
				PERF_TAG=1 CTL_NAME=vdb$q run_jobs $tag-${q}q$m "$DEV" $vpid
			else
				CTL_NAME=vdb$q run_jobs $tag-${q}q$m "$DEV" $vpid
			fi
			[ $round = 1 ] && run_mem $tag-${q}q$m "$DEV" $vpid
		else
			info "$tag with $q queue(s) did not come up: $(cat /tmp/vdb.log)"
		fi
		kill -TERM $vpid
		wait $vpid
		rm -f /tmp/vdb.out
	done
}

# bench_ublk: ublk's loop target, when a server was provided.
bench_ublk() {
	wants ublk || return 0
	if [ -z "$UBLK" ] || ! load_module ublk_drv 2>/dev/null; then
		info "no ublk server in this guest (/opt/ublksrv or /usr/bin/ublk): ublk not measured"
		return 0
	fi
	for q in $QUEUES; do
		fresh
		# shellcheck disable=SC2086  # words
		$UBLK add -t loop -f $IMG -q $q -d 128 $ublk_buffered >/tmp/ublk.log 2>&1
		if wait_node /dev/ublkb0; then
			upid=""
			for p in /proc/[0-9]*; do
				case "$(cat $p/comm 2>/dev/null)" in ublk*) upid=${p#/proc/} ;; esac
			done
			run_jobs ublk-${q}q$m /dev/ublkb0 $upid
			[ $round = 1 ] && run_mem ublk-${q}q$m /dev/ublkb0 $upid
		else
			info "ublk with $q queue(s) did not come up: $(cat /tmp/ublk.log)"
		fi
		$UBLK del -a >/dev/null 2>&1
	done
}

round=1
while [ $round -le $ROUNDS ]; do
info "round $round of $ROUNDS"
for cache in $CACHES; do
# Each system in the same mode; its name says the mode when both are measured.
m=""
[ "$CACHES" = "$cache" ] || m=-$cache
case $cache in
direct) loop_dio=on qsd_direct=on vdb_direct=--direct ublk_buffered= ;;
# default: vduse-blkd's own choice (O_DIRECT for a block device), the peers buffered
default) loop_dio=off qsd_direct=off vdb_direct= ublk_buffered=--buffered_io ;;
*) loop_dio=off qsd_direct=off vdb_direct=--buffered ublk_buffered=--buffered_io ;;
esac
qsd_drv=file
[ -b "$IMG" ] && qsd_drv=host_device
# Every other round in the reverse order: no system is always the first
# after the page cache is dropped, nor the last.
order="loop qsd vdb base ublk"
[ $((round % 2)) = 0 ] && order="ublk base vdb qsd loop"
for sys in $order; do
	case $sys in
	loop) bench_loop ;;
	qsd) bench_qsd ;;
	vdb) bench_vdb "$VDUSE_BLKD" ;;
	base) bench_vdb /usr/bin/vduse-blkd-base ;;
	ublk) bench_ublk ;;
	esac
done

done   # cache modes
round=$((round + 1))
done

# --- table and ratios ---
echo "BENCH-TABLE-BEGIN"
pairs=""
for cache in $CACHES; do
	m=""
	[ "$CACHES" = "$cache" ] || m=-$cache
	for q in $QUEUES; do
		v=vduse-blkd-${q}q$m
		pairs="$pairs qsd-${q}q$m:$v ublk-${q}q$m:$v loop$m:$v base-${q}q$m:$v"
	done
done
bench_tables "$pairs"
for q in $QUEUES; do
	best_table vduse-blkd-${q}q "qsd-${q}q ublk-${q}q loop"
done
kicks_table
mem_table
echo "BENCH-TABLE-END"
pass bench-ran
summary
