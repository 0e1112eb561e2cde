#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench-lib.sh: what the benchmarks (bench.sh, bench-nbd.sh) share: the fio
# jobs, running them on a device with the daemon's CPU time per I/O, and
# the tables of medians and ratios.  Sourced after lib.sh; the sourcing
# script sets RUNTIME (seconds per job), SIZE_MB (the region fio uses),
# RESULTS and CPU (files the results go to), MEM (run_mem's file; unset:
# memory not measured), KICKS (with CTL_NAME set to a vduse-blkd device:
# its kicks and interrupts per request go there) and, for BENCH_PERF, round
# and ROUNDS.

# name:rw:bs:iodepth:numjobs
JOBS="randread4k-qd32:randread:4k:32:1 randwrite4k-qd32:randwrite:4k:32:1 randread4k-qd1:randread:4k:1:1 read128k-qd8:read:128k:8:1 randread4k-qd16x2:randread:4k:16:2"
# BENCH_JOBS: only these jobs (names as above), e.g. "randread4k-qd1 read128k-qd8"
if [ -n "${BENCH_JOBS:-}" ]; then
	_all=$JOBS JOBS=""
	for _j in $_all; do
		case " $BENCH_JOBS " in *" ${_j%%:*} "*) JOBS="$JOBS $_j" ;; esac
	done
	JOBS=${JOBS# }
fi

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

# ctl_counts: requests, kicks and interrupts so far of the vduse-blkd device
# $CTL_NAME (vduse-blkctl stats, all queues), or nothing.
ctl_counts() {
	[ -n "${CTL_NAME:-}" ] && [ -x "${BLKCTL:-/usr/bin/vduse-blkctl}" ] || return 0
	"${BLKCTL:-/usr/bin/vduse-blkctl}" stats "$CTL_NAME" 2>/dev/null |
		awk '$1 == "total" { print $2 + $3 + $6, $10, $11 }'
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
		k0=$(ctl_counts)
		out=$($FIO --name=b --filename="$2" --ioengine=libaio --direct=1 --rw=$rw \
			--bs=$bs --iodepth=$qd --numjobs=$nj --runtime=$RUNTIME --time_based \
			--size=${SIZE_MB}M --randrepeat=0 --norandommap --group_reporting \
			--minimal 2>/dev/null)
		c1=$(cpu_ticks "$3")
		w1=$(iowq_ticks "$3")
		k1=$(ctl_counts)
		if [ -n "$k0" ] && [ -n "$k1" ] && [ -n "${KICKS:-}" ]; then
			echo "$1 $jname $k0 $k1" | awk '{ n = $6 - $3; if (n > 0)
				printf "%s %s %.3f %.3f\n", $1, $2, ($7 - $4) / n, ($8 - $5) / n }' >> "$KICKS"
		fi
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
		if [ "${BENCH_PERF:-0}" = 1 ] && [ "${round:-}" = "$ROUNDS" ] && [ -n "${PERF_TAG:-}" ] && [ -x /usr/bin/perf ]; then
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

# AWK_MED: med(A, K, N), the median of A[K, 1..N], for the tables' awk programs.
AWK_MED='
	function med(a, k, n,   i, j, t, v) {
		for (i = 1; i <= n; i++) v[i] = a[k, i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}'

# best_table VDUSE_BLKD "PEER ...": with more than one cache mode, each
# system in its best mode (the mode with the higher median, job by job)
# against each peer in its best: the ratios, and which modes won.
best_table() {
	awk -v jobs="$JOBS" -v me="$1" -v peers="$2" "$AWK_MED"'
		{ k = $1 "," $2; v[k, ++cnt[k]] = $3 }
		END {
			for (k in cnt) {
				split(k, kk, ",")
				sys = kk[1]; mode = sys; sub(/-(buffered|direct|default)$/, "", sys)
				if (sys == mode) continue   # one mode only: nothing to choose
				mode = substr(mode, length(sys) + 2)
				x = med(v, k, cnt[k])
				if (x > best[sys, kk[2]]) { best[sys, kk[2]] = x; bmode[sys, kk[2]] = mode }
				has[sys] = 1
			}
			if (!has[me]) exit
			nj = split(jobs, J, " ")
			for (j = 1; j <= nj; j++) { split(J[j], p, ":"); name[j] = p[1] }
			printf "\nbest mode against best mode (vduse-blkd / peer; the modes that won, vduse-blkd/peer)\n"
			np = split(peers, P, " ")
			for (i = 1; i <= np; i++) {
				if (!has[P[i]]) continue
				printf "%-26s", me "/" P[i]
				for (j = 1; j <= nj; j++) {
					a = best[me, name[j]]; b = best[P[i], name[j]]
					if (b > 0) printf " %16s", sprintf("%.2f %.1s/%.1s", a / b, bmode[me, name[j]], bmode[P[i], name[j]])
					else printf " %16s", "-"
				}
				printf "\n"
			}
		}' $RESULTS
}

# mem_kib [PID]: the page cache (Cached + Buffers: a block device's cache is
# Buffers) and PID's resident memory, in KiB.
mem_kib() {
	_c=$(awk '/^(Cached|Buffers):/ { s += $2 } END { print s + 0 }' /proc/meminfo)
	_r=0
	[ -n "$1" ] && [ -r "/proc/$1/status" ] &&
		_r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
	echo "$_c ${_r:-0}"
}

# run_mem PATH_NAME DEV [DAEMON_PID]: the memory a GiB read through DEV
# costs: the growth of the page cache (the image cached behind the device;
# fio itself reads O_DIRECT) and the daemon's resident memory after it, one
# line into $MEM.  The page cache is dropped first (fresh).
run_mem() {
	[ -n "${MEM:-}" ] || return 0
	fresh
	read -r _c0 _r0 <<MEM0
$(mem_kib "${3:-}")
MEM0
	# the device's SIZE_MB read from start to end until a GiB is read
	$FIO --name=m --filename="$2" --ioengine=libaio --direct=1 --rw=read --bs=128k \
		--iodepth=8 --size=${SIZE_MB}M --io_size=1024M >/dev/null 2>&1
	read -r _c1 _r1 <<MEM1
$(mem_kib "${3:-}")
MEM1
	# MiB: the growth of the page cache, the daemon's RSS before and after
	echo "$1 $(((_c1 - _c0) / 1024)) $((_r0 / 1024)) $((_r1 / 1024))" >> "$MEM"
	echo "# $1 memory: page cache +$(((_c1 - _c0) / 1024)) MiB per GiB read, RSS $((_r0 / 1024)) -> $((_r1 / 1024)) MiB"
}

# pair_table FILE TITLE LABEL FORMAT: lines "SYSTEM JOB X Y" of FILE as a
# table, a row per system and a column per job, each cell FORMAT of the
# medians of X and Y over the rounds.
pair_table() {
	[ -s "$1" ] || return 0
	printf "\n%s\n" "$2"
	awk -v jobs="$JOBS" -v label="$3" -v fmt="$4" "$AWK_MED"'
		{
			k = $1 "," $2; x[k, ++cnt[k]] = $3; y[k, cnt[k]] = $4
			if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
		}
		END {
			nj = split(jobs, J, " ")
			printf "%-26s", label
			for (j = 1; j <= nj; j++) { split(J[j], p, ":"); name[j] = p[1]; printf " %16s", name[j] }
			printf "\n"
			for (i = 1; i <= n; i++) {
				printf "%-26s", order[i]
				for (j = 1; j <= nj; j++) {
					k = order[i] "," name[j]
					if (cnt[k]) printf " %16s", sprintf(fmt, med(x, k, cnt[k]), med(y, k, cnt[k]))
					else printf " %16s", "-"
				}
				printf "\n"
			}
		}' "$1"
}

# kicks_table: vduse-blkd's kicks and interrupts per request.
kicks_table() {
	pair_table "${KICKS:-}" "vduse-blkd: driver kicks / interrupts injected, per request (median of rounds)" \
		"kicks/irqs" "%.2f / %.2f"
}

# mem_table: what run_mem measured, the median of the rounds.
mem_table() {
	[ -s "${MEM:-}" ] || return 0
	printf "\nmemory per GiB read (128k sequential, O_DIRECT in the guest): page cache growth, daemon RSS after (MiB; median of rounds)\n"
	awk "$AWK_MED"'
		{ k = $1; c[k, ++cnt[k]] = $2; r[k, cnt[k]] = $4; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
		END {
			printf "%-26s %16s %16s\n", "memory", "page cache MiB", "daemon RSS MiB"
			for (i = 1; i <= n; i++)
				printf "%-26s %16d %16s\n", order[i], med(c, order[i], cnt[order[i]]),
					r[order[i], 1] == 0 && cnt[order[i]] ? "-" : sprintf("%d", med(r, order[i], cnt[order[i]]))
		}' $MEM
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

# fresh: nothing of the image in the page cache when a system starts.
fresh() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

# bench_tables "PEER:SYSTEM ...": the IOPS of every system (median of the
# rounds, cell by cell), SYSTEM/PEER for each pair of which both were
# measured, and the daemons' CPU time per I/O.
bench_tables() {
	awk -v jobs="$JOBS" -v pairs="$1" "$AWK_MED"'
		{
			k = $1 "," $2; v[k, ++cnt[k]] = $3
			if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
		}
		END {
			# median of the rounds, cell by cell
			for (k in cnt)
				iops[k] = med(v, k, cnt[k])
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
			nr = split(pairs, R, " ")
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
	pair_table "$CPU" "daemon CPU time per I/O in microseconds, all threads (io-wq workers part)" \
		"us/IO" "%.1f (%.1f)"
}
