#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh: vduse-blkd against its peers in one guest boot: the kernel loop
# device, qemu-storage-daemon's vduse-blk export and, when a ublk server is
# provided in /opt/ublksrv (or as /usr/bin/ublk), ublk's loop target (and a
# vduse-blkd binary to compare with, as "base", when /usr/bin/vduse-blkd-base
# exists).  Same image, same fio jobs, same queue counts, rounds interleaved.
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
# cache is dropped before each system's jobs.
. /tests/lib.sh
[ -f /tests/bench.env ] && . /tests/bench.env

RUNTIME=${BENCH_RUNTIME:-8}
ROUNDS=${BENCH_ROUNDS:-1}
HOME_KIND=${BENCH_HOME:-tmpfs}
CACHES=${BENCH_CACHE:-buffered}
IMG=/tmp/bench.img
SIZE_MB=512
RESULTS=/tmp/bench.results
: > $RESULTS

QUEUES=${BENCH_QUEUES:-2}
JOBS="randread4k-qd32:randread:4k:32:1 randwrite4k-qd32:randwrite:4k:32:1 randread4k-qd1:randread:4k:1:1 read128k-qd8:read:128k:8:1 randread4k-qd16x2:randread:4k:16:2"
# BENCH_JOBS: only these jobs (names as above), e.g. "randread4k-qd1 read128k-qd8"
if [ -n "${BENCH_JOBS:-}" ]; then
	_all=$JOBS JOBS=""
	for _j in $_all; do
		case " $BENCH_JOBS " in *" ${_j%%:*} "*) JOBS="$JOBS $_j" ;; esac
	done
	JOBS=${JOBS# }
fi
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

# cpu_ticks PID: user + system clock ticks of every thread the process had.
cpu_ticks() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	# the fields after "(comm)": state is 3, utime 14, stime 15
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# iowq_ticks PID: the same for its io_uring io-wq workers (iou-wrk-*) alive now.
iowq_ticks() {
	_s=0
	for _t in /proc/$1/task/*; do
		case "$(cat "$_t/comm" 2>/dev/null)" in
		iou-wrk-*) _s=$((_s + $(sed 's/.*) //' "$_t/stat" | awk '{ print $12 + $13 }'))) ;;
		esac
	done
	echo $_s
}

# run_jobs PATH_NAME DEV [DAEMON_PID]: every job on DEV, one line per job
# into $RESULTS (and the daemon's CPU time per I/O into $CPU).
run_jobs() {
	for j in $JOBS; do
		IFS=: read -r jname rw bs qd nj <<JOB
$j
JOB
		c0=$(cpu_ticks "$3")
		w0=$(iowq_ticks "$3")
		out=$($FIO --name=b --filename="$2" --ioengine=libaio --direct=1 --rw=$rw \
			--bs=$bs --iodepth=$qd --numjobs=$nj --runtime=$RUNTIME --time_based \
			--size=${SIZE_MB}M --randrepeat=0 --norandommap --group_reporting \
			--minimal 2>/dev/null)
		c1=$(cpu_ticks "$3")
		w1=$(iowq_ticks "$3")
		# terse v3: field 8 = read IOPS, field 49 = write IOPS
		# one line per job group; a failed run may print more (or none): sum them
		iops=$(echo "$out" | awk -F';' 'NF > 49 { s += $8 + $49 } END { print s + 0 }')
		echo "$1 $jname ${iops:-0}" >> $RESULTS
		if [ -n "$3" ] && [ "${iops:-0}" -gt 0 ]; then
			# ticks are 10 ms: microseconds of CPU per I/O
			awk -v n=$(( c1 - c0 )) -v w=$(( w1 - w0 )) -v i="$iops" -v t="$RUNTIME" \
				-v k="$1 $jname" 'BEGIN { printf "%s %.1f %.1f\n", k, n * 1e4 / (i * t), w * 1e4 / (i * t) }' >> $CPU
		fi
		echo "# $1 $jname: ${iops:-0} IOPS"
		if [ "${BENCH_PERF:-0}" = 1 ] && [ "$round" = "$ROUNDS" ] && [ -n "${PERF_TAG:-}" ] && [ -x /usr/bin/perf ]; then
			case " ${BENCH_PERF_JOBS:-randread4k-qd32 randread4k-qd16x2 read128k-qd8} " in *" $jname "*)
				/usr/bin/perf record -a -g -e cpu-clock -o /tmp/perf.data -- \
					$FIO --name=b --filename="$2" --ioengine=libaio --direct=1 --rw=$rw \
					--bs=$bs --iodepth=$qd --numjobs=$nj --runtime=$RUNTIME --time_based \
					--size=${SIZE_MB}M --randrepeat=0 --norandommap --group_reporting \
					--minimal >/dev/null 2>/tmp/perf.err
				echo "PERF-BEGIN $1 $jname"
				/usr/bin/perf report -i /tmp/perf.data --no-children -g none --sort comm,dso,sym \
					--stdio 2>/dev/null | grep -v '^#' | grep '%' | head -n 60
				echo "PERF-SPLIT $1 $jname"
				/usr/bin/perf report -i /tmp/perf.data --no-children -g none --sort comm \
					--stdio 2>/dev/null | grep -v '^#' | grep '%' | head -n 15
				echo "PERF-END"
				;;
			esac
		fi
	done
}

wait_node() {
	_t=300
	while [ ! -e "$1" ]; do
		_t=$((_t - 1))
		[ $_t -le 0 ] && return 1
		sleep 0.1
	done
}

# wait_line FILE: until FILE holds a whole line (30 s at most).
wait_line() {
	_t=300
	until [ "$(wc -l < "$1" 2>/dev/null)" -ge 1 ] 2>/dev/null; do
		_t=$((_t - 1))
		[ $_t -le 0 ] && return 1
		sleep 0.1
	done
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

# fresh: nothing of the image in the page cache when a system starts.
fresh() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

if ! setup_home; then
	fail bench-image "no image on $HOME_KIND"
	summary
fi
info "guest: $(nproc) vCPUs, kernel $(uname -r), image $SIZE_MB MiB on $HOME_KIND ($IMG), cache: $CACHES, $RUNTIME s per job, $ROUNDS round(s), $QUEUES queue(s), median per cell"

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
# --- kernel loop device ---
LOOP=""
wants loop && fresh && LOOP=$($LOSETUP -f --show --direct-io=$loop_dio $IMG)
if [ -b "$LOOP" ]; then
	run_jobs loop$m "$LOOP"
	$LOSETUP -d "$LOOP"
fi

# --- qemu-storage-daemon vduse-blk ---
wants qsd &&
for q in $QUEUES; do
	fresh
	$QSD --blockdev driver=$qsd_drv,node-name=f0,filename=$IMG,cache.direct=$qsd_direct,aio=io_uring \
		--blockdev driver=raw,node-name=n0,file=f0 \
		--export vduse-blk,id=v0,name=qsd$q,node-name=n0,num-queues=$q,writable=on \
		2>/tmp/qsd.log &
	qpid=$!
	if wait_node /dev/vduse/qsd$q && $VDPA dev add name qsd$q mgmtdev vduse && DEV=$(wait_vdisk qsd$q 20); then
		PERF_TAG=1 run_jobs qsd-${q}q$m "$DEV" $qpid
		$VDPA dev del qsd$q
	else
		info "qemu-storage-daemon with $q queue(s) did not come up: $(cat /tmp/qsd.log)"
	fi
	kill $qpid
	wait $qpid 2>/dev/null
done

# --- vduse-blkd (and the binary to compare it with, if given) ---
for bin in "$VDUSE_BLKD" /usr/bin/vduse-blkd-base; do
[ -x "$bin" ] || continue
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
			PERF_TAG=1 run_jobs $tag-${q}q$m "$DEV" $vpid
		else
			run_jobs $tag-${q}q$m "$DEV" $vpid
		fi
	else
		info "$tag with $q queue(s) did not come up: $(cat /tmp/vdb.log)"
	fi
	kill -TERM $vpid
	wait $vpid
	rm -f /tmp/vdb.out
done
done

# --- ublk's loop target, when a server was provided ---
if ! wants ublk; then
	:
elif [ -n "$UBLK" ] && load_module ublk_drv 2>/dev/null; then
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
		else
			info "ublk with $q queue(s) did not come up: $(cat /tmp/ublk.log)"
		fi
		$UBLK del -a >/dev/null 2>&1
	done
else
	info "no ublk server in this guest (/opt/ublksrv or /usr/bin/ublk): ublk not measured"
fi

done   # cache modes
round=$((round + 1))
done

# --- table and ratios ---
echo "BENCH-TABLE-BEGIN"
awk -v jobs="$JOBS" -v queues="$QUEUES" -v caches="$CACHES" '
	{
		k = $1 "," $2; v[k, ++cnt[k]] = $3
		if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
	}
	END {
		# median of the rounds, cell by cell
		for (k in cnt) {
			m = cnt[k]
			for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
				if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
			iops[k] = m % 2 ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
		}
		nj = split(jobs, J, " ")
		for (j = 1; j <= nj; j++) { split(J[j], p, ":"); name[j] = p[1] }
		printf "%-26s", "IOPS"
		for (j = 1; j <= nj; j++) printf " %16s", name[j]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-26s", order[i]
			for (j = 1; j <= nj; j++) printf " %16d", iops[order[i] "," name[j]]
			printf "\n"
		}
		nq = split(queues, Q, " "); nr = 0
		nc = split(caches, C, " ")
		for (c = 1; c <= nc; c++) {
			m = nc > 1 ? "-" C[c] : ""
			for (q = 1; q <= nq; q++) {
				v = "vduse-blkd-" Q[q] "q" m
				R[++nr] = "qsd-" Q[q] "q" m ":" v
				R[++nr] = "ublk-" Q[q] "q" m ":" v
				R[++nr] = "loop" m ":" v
				R[++nr] = "base-" Q[q] "q" m ":" v
			}
		}
		printf "\nratios (vduse-blkd / peer, same boot; >1 means vduse-blkd is ahead)\n"
		for (r = 1; r <= nr; r++) {
			split(R[r], pr, ":")
			if (!(pr[1] in seen) || !(pr[2] in seen)) continue
			printf "%-26s", pr[2] "/" pr[1]
			for (j = 1; j <= nj; j++) {
				a = iops[pr[2] "," name[j]]; b = iops[pr[1] "," name[j]]
				if (b > 0) printf " %16.2f", a / b; else printf " %16s", "-"
			}
			printf "\n"
		}
	}' $RESULTS
# CPU time per I/O, median of the rounds: "total (io-wq part)"
awk -v jobs="$JOBS" '
	{
		k = $1 "," $2; c[k, ++cnt[k]] = $3; w[k, cnt[k]] = $4
		if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
	}
	function med(a, k, m,   x, y, t, i, v) {
		for (i = 1; i <= m; i++) v[i] = a[k, i]
		for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++)
			if (v[y] < v[x]) { t = v[x]; v[x] = v[y]; v[y] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
	}
	END {
		if (!n) exit
		nj = split(jobs, J, " ")
		for (j = 1; j <= nj; j++) { split(J[j], p, ":"); name[j] = p[1] }
		printf "\ndaemon CPU time per I/O in microseconds, all threads (io-wq workers part)\n"
		printf "%-18s", "us/IO"
		for (j = 1; j <= nj; j++) printf " %16s", name[j]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-18s", order[i]
			for (j = 1; j <= nj; j++) {
				k = order[i] "," name[j]
				if (cnt[k]) printf " %16s", sprintf("%.1f (%.1f)", med(c, k, cnt[k]), med(w, k, cnt[k]))
				else printf " %16s", "-"
			}
			printf "\n"
		}
	}' $CPU
echo "BENCH-TABLE-END"
pass bench-ran
summary
