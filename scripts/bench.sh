#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh: measure vduse-blkd against the kernel loop device,
# qemu-storage-daemon's vduse-blk export and ublk's loop target in one QEMU
# guest boot, and print IOPS, ratios and each daemon's CPU time per I/O
# (with both cache modes also each system's best mode against each peer's
# best), vduse-blkd's kicks and interrupts per request, and the page cache
# and daemon memory a GiB read through each device costs.
# A measurement, not a test: it never fails on numbers.
# Environment: BENCH_RUNTIME (seconds per fio job, default 8), BENCH_ROUNDS
# (rounds over all paths, interleaved; the median of each cell is printed;
# default 3), BENCH_QUEUES (queue counts to compare, default "2"),
# UBLKSRV (a built ublksrv: bin/ublk, bin/ublk.loop, lib/; default
# ../shared/anchors/ublksrv when it exists), BENCH_BASE (another
# vduse-blkd binary measured in the same boot as "base": before and after a
# change, where TCG's noise is shared; BENCH_BASE_ENV: VAR=VALUE words and
# BENCH_BASE_ARGS: options it runs with; BENCH_BASE may name the same binary;
# BENCH_ARGS: options vduse-blkd itself runs with, e.g. --ring split),
# BENCH_ONLY (which peers to measure besides vduse-blkd: default "loop qsd
# ublk"; "none": vduse-blkd and base alone), BENCH_PERF=1 (also profile
# vduse-blkd, and qemu-storage-daemon when measured, with perf in the last
# round: guest kernel and daemon together; BENCH_PERF_JOBS: which jobs,
# default "randread4k-qd32 randread4k-qd16x2 read128k-qd8"), BENCH_JOBS (only
# these of the five jobs, by name, e.g. "randread4k-qd1 read128k-qd8"),
# VM_KERNEL (bookworm, newest or a path, as for tests/vm/run.sh),
# BENCH_HOME (where the image lives: tmpfs, raw (a RAM disk as the block
# device), ext4 or xfs (a file on a RAM disk); default tmpfs), BENCH_CACHE
# (buffered, direct or "buffered direct": the page cache or O_DIRECT, every
# system in the same mode; or default: vduse-blkd's own choice, the peers
# buffered; default buffered).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[[ -d build/meson-private ]] || meson setup build >/dev/null
ninja -C build >/dev/null
env=build/tests-vm/bench.env
mkdir -p build/tests-vm
rounds=${BENCH_ROUNDS:-3} queues=${BENCH_QUEUES:-2}
printf 'BENCH_RUNTIME=%s\nBENCH_ROUNDS=%s\nBENCH_QUEUES="%s"\nBENCH_PERF=%s\nBENCH_PERF_JOBS="%s"\nBENCH_JOBS="%s"\nBENCH_BASE_ENV="%s"\nBENCH_BASE_ARGS="%s"\nBENCH_ARGS="%s"\nBENCH_ONLY="%s"\nBENCH_HOME=%s\nBENCH_CACHE="%s"\n' \
	"${BENCH_RUNTIME:-8}" "$rounds" "$queues" "${BENCH_PERF:-0}" \
	"${BENCH_PERF_JOBS:-randread4k-qd32 randread4k-qd16x2 read128k-qd8}" "${BENCH_JOBS:-}" \
	"${BENCH_BASE_ENV:-}" \
	"${BENCH_BASE_ARGS:-}" "${BENCH_ARGS:-}" "${BENCH_ONLY:-loop qsd ublk}" \
	"${BENCH_HOME:-tmpfs}" "${BENCH_CACHE:-buffered}" > "$env"
add="$PWD/$env:/tests/bench.env"
ublksrv=${UBLKSRV:-../shared/anchors/ublksrv}
if [[ -x $ublksrv/bin/ublk ]]; then
	ublksrv=$(cd "$ublksrv" && pwd)
	# the binaries on their own as well, so that the guest gets their libraries
	add="$add $ublksrv:/opt/ublksrv $ublksrv/bin/ublk:/opt/ublksrv/bin/ublk"
	add="$add $ublksrv/bin/ublk.loop:/opt/ublksrv/bin/ublk.loop"
	export LD_LIBRARY_PATH=$ublksrv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
	echo "bench: no ublksrv at $ublksrv (UBLKSRV=...): ublk is not measured" >&2
fi
if [[ ${BENCH_PERF:-0} == 1 ]]; then
	perf=$(command -v perf || true)
	[[ -n $perf ]] || { echo "bench: BENCH_PERF=1 wants perf (apt-get install linux-perf)" >&2; exit 2; }
	add="$add $(readlink -f "$perf"):/usr/bin/perf"
fi
if [[ -n ${BENCH_BASE:-} ]]; then
	[[ -x $BENCH_BASE ]] || { echo "bench: BENCH_BASE=$BENCH_BASE is not an executable" >&2; exit 2; }
	add="$add $(readlink -f "$BENCH_BASE"):/usr/bin/vduse-blkd-base"
fi
nq=$(wc -w <<<"$queues")
nc=$(wc -w <<<"${BENCH_CACHE:-buffered}")
nj=5
[[ -z ${BENCH_JOBS:-} ]] || nj=$(wc -w <<<"$BENCH_JOBS")
echo "bench: booting the guest; about $(( (${BENCH_RUNTIME:-8} + 1) * nj * (1 + 3 * nq) * nc * rounds / 60 + 2 )) minutes" >&2
# The image on a RAM disk beside the page cache it may fill: more memory.
[[ ${BENCH_HOME:-tmpfs} == tmpfs ]] || export VM_MEM=${VM_MEM:-3G}
kernel=${VM_KERNEL:-bookworm}
case $kernel in bookworm) sfx="" ;; newest) sfx=-newest ;; *) sfx=-custom ;; esac
rm -f "build/tests-vm/console-bench$sfx.log"
VM_KERNEL=$kernel VM_ADD="$add" VM_TIMEOUT=${VM_TIMEOUT:-1800} tests/vm/run.sh build bench >/dev/null || true
[[ -f build/tests-vm/console-bench$sfx.log ]] || { echo "bench: no guest ran on the $kernel kernel" >&2; exit 77; }
echo "# kernel: $kernel, $(sed -n 's/^vm-init: up at .*, kernel //p' "build/tests-vm/console-bench$sfx.log" | tr -d '\r' | head -n1)"
tr -d '\r' < "build/tests-vm/console-bench$sfx.log" | sed -n '/^# guest:/p;/idle: /p;/BENCH-TABLE-BEGIN/,/BENCH-TABLE-END/p' |
	grep -v 'BENCH-TABLE'
if [[ ${BENCH_PERF:-0} == 1 ]]; then
	echo
	tr -d '\r' < "build/tests-vm/console-bench$sfx.log" | sed -n '/^PERF-BEGIN/,/^PERF-END/p'
fi
