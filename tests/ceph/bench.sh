#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh BUILD_DIR [ROUNDS [SECONDS]]: the rbd backend against the
# cluster's own ceiling, on a throwaway cluster (cluster.sh, 256 MiB image).
# Each round runs, one after the other (who goes first alternates), 4 KiB
# random writes then reads at depth 32: BUILD_DIR/tests/bench_rbd (the real
# data path, the harness as the driver, 1 queue) and `rbd bench
# --io-threads 32` with librbd's cache off, as the daemon runs it.  Prints each run's IOPS and the ratio
# vduse-blkd / rbd bench.  A benchmark, not a test: numbers, no verdict.
set -euo pipefail
build=${1:?usage: bench.sh BUILD_DIR [ROUNDS [SECONDS]]}
rounds=${2:-3}
secs=${3:-4}
here=$(cd "$(dirname "$0")" && pwd)
bench=$build/tests/bench_rbd
[[ -x $bench ]] || { echo "bench.sh: $bench is not built (no librbd?)" >&2; exit 1; }
tmp=$(mktemp -d)
trap '"$here/cluster.sh" stop "$tmp"; rm -rf "$tmp"' EXIT
CLUSTER_OWNER_PID=$$ "$here/cluster.sh" start "$tmp" 256
conf=$tmp/ceph.conf
# Fill the image once, so that reads read data rather than absent objects,
# and warm the OSD up with small random writes (the first round ran faster
# than every later one without it).
timeout 120 rbd -c "$conf" bench --io-type write --io-size 4M --io-threads 4 --io-total 256M \
	--io-pattern seq rbd/disk0 >/dev/null 2>&1
timeout 120 rbd -c "$conf" bench --io-type write --io-size 4096 --io-threads 32 --io-total 48M \
	--io-pattern rand --rbd_cache=false rbd/disk0 >/dev/null 2>&1

rbd_iops() {
	timeout 120 rbd -c "$conf" bench --io-type "$1" --io-size 4096 --io-threads 32 \
		--io-total "$2" --io-pattern rand --rbd_cache=false rbd/disk0 2>&1 |
		awk '/^elapsed:/ { printf "%.0f\n", $6 }'
}

for ((r = 1; r <= rounds; r++)); do
	for t in write read; do
		# Who runs first alternates: memstore slows down as it fills.
		if ((r % 2 == 0)); then
			theirs=$(rbd_iops "$t" $(( 2500 * secs * 4096 )))
		fi
		ours=$("$bench" "$conf" rbd/disk0 "$t" 4096 32 1 "$secs" |
			sed -n 's/.*: \([0-9]*\) IOPS.*/\1/p')
		if ((r % 2 == 1)); then
			# About as many operations as ours took SECONDS for.
			ops=$(( ours * secs ))
			theirs=$(rbd_iops "$t" $(( (ops > 4096 ? ops : 4096) * 4096 )))
		fi
		awk -v r="$r" -v t="$t" -v a="$ours" -v b="$theirs" 'BEGIN {
			printf "round %d 4k rand%-5s QD32: vduse-blkd rbd %6d IOPS, rbd bench %6d IOPS, ratio %.2f\n",
				r, t, a, b, b ? a / b : 0 }' | tee -a "$tmp/results"
	done
done
# The median ratio of each job over the rounds.
for t in write read; do
	grep "rand$t " "$tmp/results" | awk '{ print $NF }' | sort -n |
		awk -v t="$t" '{ v[NR] = $1 } END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "median ratio 4k rand%s QD32 over %d rounds: %.2f (min %.2f, max %.2f)\n",
				t, NR, m, v[1], v[NR] }'
done
