#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench.sh: measure vduse-blkd against the kernel loop device and
# qemu-storage-daemon's vduse-blk export (and ublk, if UBLK=/path/to/ublk
# names a ublk server binary) in one QEMU guest boot, and print IOPS and
# ratios.  A measurement, not a test: it never fails on numbers.
# Environment: BENCH_RUNTIME (seconds per fio job, default 8), BENCH_ROUNDS
# (rounds over all paths, interleaved; the median of each cell is printed;
# default 1), UBLK, VM_KERNEL (bookworm, newest or a path, as for
# tests/vm/run.sh: compare the same table across kernels).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[[ -d build/meson-private ]] || meson setup build >/dev/null
ninja -C build >/dev/null
env=build/tests-vm/bench.env
mkdir -p build/tests-vm
printf 'BENCH_RUNTIME=%s\nBENCH_ROUNDS=%s\n' "${BENCH_RUNTIME:-8}" "${BENCH_ROUNDS:-1}" > "$env"
add="$PWD/$env:/tests/bench.env"
[[ -n ${UBLK:-} ]] && add="$add $UBLK:/usr/bin/ublk"
echo "bench: booting the guest; about $(( (${BENCH_RUNTIME:-8} + 1) * 4 * 7 * ${BENCH_ROUNDS:-1} / 60 + 1 )) minutes" >&2
kernel=${VM_KERNEL:-bookworm}
case $kernel in bookworm) sfx="" ;; newest) sfx=-newest ;; *) sfx=-custom ;; esac
rm -f "build/tests-vm/console-bench$sfx.log"
VM_KERNEL=$kernel VM_ADD="$add" VM_TIMEOUT=${VM_TIMEOUT:-1800} tests/vm/run.sh build bench >/dev/null || true
[[ -f build/tests-vm/console-bench$sfx.log ]] || { echo "bench: no guest ran on the $kernel kernel" >&2; exit 77; }
echo "# kernel: $kernel, $(sed -n 's/^vm-init: up at .*, kernel //p' "build/tests-vm/console-bench$sfx.log" | tr -d '\r' | head -n1)"
tr -d '\r' < "build/tests-vm/console-bench$sfx.log" | sed -n '/^# guest:/p;/BENCH-TABLE-BEGIN/,/BENCH-TABLE-END/p' |
	grep -v 'BENCH-TABLE'
