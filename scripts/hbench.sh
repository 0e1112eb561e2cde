#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hbench.sh: the data path's cost on this host, in seconds, no guest.
# One queue of the real queue loop (vq -> blk -> backend -> used ring ->
# interrupt) driven by the harness driver through the daemon's IOTLB memory
# path (tests/bench/hbench.c):
#   - requests/s at QD1 and QD32, null backend and io_uring on a tmpfs image
#     (median of HBENCH_ROUNDS runs of HBENCH_SECONDS each; default 3 x 2 s),
#     on each ring layout in HBENCH_RINGS (default "split packed");
#   - instructions per 4k request of the queue thread (callgrind, null
#     backend; the harness driver's memory hooks left out; reads include the
#     null backend's zeroing of the buffer, whose rep stosb valgrind counts
#     byte by byte).  Exact and repeatable, unlike the rate:
#     compare it before and after a change to the data path.
# A measurement, not a test: it never fails on numbers.
# Usage: scripts/hbench.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -d $build/meson-private ]] || meson setup "$build" >/dev/null
ninja -C "$build" tests/bench/hbench >/dev/null
hb=$build/tests/bench/hbench
rounds=${HBENCH_ROUNDS:-3}
secs=${HBENCH_SECONDS:-2}
rings=${HBENCH_RINGS:-split packed}

median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# hbench: $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
printf '%-28s %12s\n' "job (one queue, 4k)" "requests/s"
for be in null io_uring; do
	for rw in read write; do
		for qd in 1 32; do
			w=(); [[ $rw == write ]] && w=(--write)
			for ring in $rings; do
				v=$(for ((i = 0; i < rounds; i++)); do
					"$hb" --backend $be --qd $qd --seconds "$secs" --ring $ring \
						"${w[@]}" |
						sed -n 's/.*, \([0-9]*\) requests\/s.*/\1/p'
				done | median)
				printf '%-28s %12.0f\n' "$be $rw QD$qd $ring" "$v"
			done
		done
	done
done

if ! command -v valgrind >/dev/null; then
	echo "# instructions per request: valgrind not installed (apt-get install valgrind)"
	exit 0
fi
n=20000
printf '\n%-28s %12s\n' "job (null backend, 4k)" "instr/request"
for rw in write read; do
	for qd in 1 32; do
	for ring in $rings; do
		w=(); [[ $rw == write ]] && w=(--write)
		out=$(mktemp)
		# valgrind cannot run the queue thread under the daemon's seccomp filter
		HDRV_SECCOMP=off valgrind --tool=callgrind --collect-atstart=no \
			--toggle-collect=blk_queue_run \
			--callgrind-out-file="$out" "$hb" --backend null --qd $qd --requests $n \
			--ring $ring "${w[@]}" >/dev/null 2>&1
		ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
		# the harness driver's own memory hooks (hdrv.c) are not the daemon's
		hook=$(callgrind_annotate --threshold=100 "$out" 2>/dev/null |
			awk '/hdrv\.c:/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
		rm -f "$out"
		note=""; [[ $rw == read ]] && note=" (incl. zeroing 4 KiB)"
		printf '%-28s %12.0f%s\n' "null $rw QD$qd $ring" \
			"$(awk -v a="$ir" -v h="$hook" -v b=$n 'BEGIN { print (a - h) / b }')" "$note"
	done
	done
done
