#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench-nbd.sh: measure vduse-blkd's nbd backend against the kernel's own NBD
# client (nbd.ko through nbd-client) in one QEMU guest boot, both served by
# the same qemu-nbd on a Unix socket, and print IOPS, ratios and the time
# each takes from its start to a usable disk (tests/vm/guest/bench-nbd.sh).
# A measurement, not a test: it never fails on numbers.
# Environment: BENCH_RUNTIME (seconds per fio job, default 8), BENCH_ROUNDS
# (rounds, interleaved; the median of each cell is printed; default 3),
# BENCH_QUEUES (vduse-blkd's queues and the kernel client's connections,
# default "2"), BENCH_FORMATS (the images qemu-nbd serves: "qcow2 raw"),
# BENCH_ATTACH_TRIES (timed starts of each system, default 7),
# BENCH_STRACE=1 (also one traced start of each, printed),
# BENCH_NORBD=1 (also time the starts of a vduse-blkd built without the rbd
# backend, in build-norbd: what loading librbd cost at each start while it
# was linked; since it is loaded on use, nothing),
# VM_KERNEL (bookworm, newest or a path, as for tests/vm/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[[ -d build/meson-private ]] || meson setup build >/dev/null
ninja -C build >/dev/null
env=build/tests-vm/bench-nbd.env
mkdir -p build/tests-vm
printf 'BENCH_RUNTIME=%s\nBENCH_ROUNDS=%s\nBENCH_QUEUES="%s"\nBENCH_FORMATS="%s"\nBENCH_ATTACH_TRIES=%s\nBENCH_STRACE=%s\n' \
	"${BENCH_RUNTIME:-8}" "${BENCH_ROUNDS:-3}" "${BENCH_QUEUES:-2}" "${BENCH_FORMATS:-qcow2 raw}" \
	"${BENCH_ATTACH_TRIES:-7}" "${BENCH_STRACE:-0}" > "$env"
add="$PWD/$env:/tests/bench-nbd.env $(command -v nbd-client):/usr/sbin/nbd-client"
add="$add $PWD/build/tests/vm/first-read:/usr/bin/first-read"
if [[ ${BENCH_STRACE:-0} == 1 ]]; then
	strace=$(command -v strace || true)
	[[ -n $strace ]] || { echo "bench-nbd: BENCH_STRACE=1 wants strace (apt-get install strace)" >&2; exit 2; }
	add="$add $strace:/usr/bin/strace"
fi
if [[ ${BENCH_NORBD:-0} == 1 ]]; then
	[[ -d build-norbd/meson-private ]] || meson setup build-norbd -Drbd=disabled -Dtests=false >/dev/null
	ninja -C build-norbd src/vduse-blkd >/dev/null
	add="$add $PWD/build-norbd/src/vduse-blkd:/usr/bin/vduse-blkd-norbd"
fi
nsys=$(( 2 * $(wc -w <<<"${BENCH_QUEUES:-2}") * $(wc -w <<<"${BENCH_FORMATS:-qcow2 raw}") ))
echo "bench-nbd: booting the guest; about $(( (${BENCH_RUNTIME:-8} + 1) * 5 * nsys * ${BENCH_ROUNDS:-3} / 60 + 3 )) minutes" >&2
kernel=${VM_KERNEL:-bookworm}
case $kernel in bookworm) sfx="" ;; newest) sfx=-newest ;; *) sfx=-custom ;; esac
log=build/tests-vm/console-bench-nbd$sfx.log
rm -f "$log"
VM_KERNEL=$kernel VM_ADD="$add" VM_TIMEOUT=${VM_TIMEOUT:-1800} tests/vm/run.sh build bench-nbd >/dev/null || true
[[ -f $log ]] || { echo "bench-nbd: no guest ran on the $kernel kernel" >&2; exit 77; }
echo "# kernel: $kernel, $(sed -n 's/^vm-init: up at .*, kernel //p' "$log" | tr -d '\r' | head -n1)"
tr -d '\r' < "$log" | sed -n '/^# guest:/p;/BENCH-TABLE-BEGIN/,/BENCH-TABLE-END/p' | grep -v 'BENCH-TABLE'
