#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh: vduse-blkd against its peers in one guest boot: the kernel loop
# device (direct I/O), qemu-storage-daemon's vduse-blk export and, when a
# ublk server is provided as /usr/bin/ublk, ublk.  Same image on tmpfs, same
# fio jobs.  Prints IOPS and ratios; it measures, it does not judge.
. /tests/lib.sh
[ -f /tests/bench.env ] && . /tests/bench.env

RUNTIME=${BENCH_RUNTIME:-8}
ROUNDS=${BENCH_ROUNDS:-1}
IMG=/tmp/bench.img
SIZE_MB=512
RESULTS=/tmp/bench.results
: > $RESULTS

JOBS="randread4k-qd32:randread:4k:32 randwrite4k-qd32:randwrite:4k:32 randread4k-qd1:randread:4k:1 read128k-qd8:read:128k:8"

# run_jobs PATH_NAME DEV: every job on DEV, one line per job into $RESULTS.
run_jobs() {
	for j in $JOBS; do
		IFS=: read -r jname rw bs qd <<JOB
$j
JOB
		out=$($FIO --name=b --filename="$2" --ioengine=libaio --direct=1 --rw=$rw \
			--bs=$bs --iodepth=$qd --runtime=$RUNTIME --time_based --size=${SIZE_MB}M \
			--randrepeat=0 --norandommap --group_reporting --minimal 2>/dev/null)
		# terse v3: field 8 = read IOPS, field 49 = write IOPS
		iops=$(echo "$out" | awk -F';' '{ print $8 + $49 }')
		echo "$1 $jname ${iops:-0}" >> $RESULTS
		echo "# $1 $jname: ${iops:-0} IOPS"
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

dd if=/dev/zero of=$IMG bs=1M count=$SIZE_MB 2>/dev/null
info "guest: $(nproc) vCPUs, kernel $(uname -r), image $SIZE_MB MiB on tmpfs, $RUNTIME s per job, $ROUNDS round(s), median per cell"

round=1
while [ $round -le $ROUNDS ]; do
info "round $round of $ROUNDS"
# --- kernel loop device, direct I/O ---
LOOP=$($LOSETUP -f --show --direct-io=on $IMG)
if [ -b "$LOOP" ]; then
	run_jobs loop "$LOOP"
	$LOSETUP -d "$LOOP"
fi

# --- qemu-storage-daemon vduse-blk ---
for q in 1 2; do
	$QSD --blockdev driver=file,node-name=f0,filename=$IMG,cache.direct=off,aio=io_uring \
		--blockdev driver=raw,node-name=n0,file=f0 \
		--export vduse-blk,id=v0,name=qsd$q,node-name=n0,num-queues=$q,writable=on \
		2>/tmp/qsd.log &
	qpid=$!
	if wait_node /dev/vduse/qsd$q && $VDPA dev add name qsd$q mgmtdev vduse && DEV=$(wait_vdisk qsd$q 20); then
		run_jobs qsd-${q}q "$DEV"
		$VDPA dev del qsd$q
	else
		info "qemu-storage-daemon with $q queue(s) did not come up: $(cat /tmp/qsd.log)"
	fi
	kill $qpid
	wait $qpid 2>/dev/null
done

# --- vduse-blkd ---
for q in 1 2; do
	"$VDUSE_BLKD" --image $IMG --name vdb$q --queues $q --attach >/tmp/vdb.out 2>/tmp/vdb.log &
	vpid=$!
	# The redirection creates /tmp/vdb.out at once: wait for the line itself.
	if wait_line /tmp/vdb.out && DEV=$(head -n1 /tmp/vdb.out) && wait_node "$DEV" && [ -b "$DEV" ]; then
		run_jobs vduse-blkd-${q}q "$DEV"
	else
		info "vduse-blkd with $q queue(s) did not come up: $(cat /tmp/vdb.log)"
	fi
	kill -TERM $vpid
	wait $vpid
	rm -f /tmp/vdb.out
done

# --- ublk, when a server was provided ---
if [ -x /usr/bin/ublk ] && load_module ublk_drv 2>/dev/null; then
	/usr/bin/ublk add -t loop -f $IMG -q 1 >/tmp/ublk.log 2>&1
	if wait_node /dev/ublkb0; then
		run_jobs ublk-loop-1q /dev/ublkb0
		/usr/bin/ublk del -n 0 >/dev/null 2>&1
	fi
else
	info "no ublk server in this guest (/usr/bin/ublk): ublk not measured"
fi

round=$((round + 1))
done

# --- table and ratios ---
echo "BENCH-TABLE-BEGIN"
awk -v jobs="$JOBS" '
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
		printf "%-18s", "IOPS"
		for (j = 1; j <= nj; j++) printf " %16s", name[j]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-18s", order[i]
			for (j = 1; j <= nj; j++) printf " %16d", iops[order[i] "," name[j]]
			printf "\n"
		}
		split("qsd-1q:vduse-blkd-1q qsd-2q:vduse-blkd-2q loop:vduse-blkd-1q loop:vduse-blkd-2q ublk-loop-1q:vduse-blkd-1q", R, " ")
		printf "\nratios (vduse-blkd / peer, same boot; >1 means vduse-blkd is ahead)\n"
		for (r = 1; r <= 5; r++) {
			split(R[r], pr, ":")
			if (!(pr[1] in seen) || !(pr[2] in seen)) continue
			printf "%-18s", pr[2] "/" pr[1]
			for (j = 1; j <= nj; j++) {
				a = iops[pr[2] "," name[j]]; b = iops[pr[1] "," name[j]]
				if (b > 0) printf " %16.2f", a / b; else printf " %16s", "-"
			}
			printf "\n"
		}
	}' $RESULTS
echo "BENCH-TABLE-END"
pass bench-ran
summary
