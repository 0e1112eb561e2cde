#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh: run one guest test script in a QEMU (TCG) VM with Debian's 6.12
# kernel, which has VDUSE.
#
# Usage: tests/vm/run.sh BUILD_DIR [GUEST_SCRIPT]
#
#   BUILD_DIR     meson build directory; BUILD_DIR/src/vduse-blkd, if built,
#                 goes into the guest as /usr/bin/vduse-blkd. Console logs and
#                 the initramfs are written to BUILD_DIR/tests-vm/.
#   GUEST_SCRIPT  a file (path), or a name under tests/vm/guest/ ("smoke",
#                 "smoke.sh"); default tests/vm/guest/smoke.sh.
#
# Environment: VDUSE_BLKD_CACHE (default /var/cache/vduse-blkd-vm),
#   VM_TIMEOUT (seconds, default 600), VM_MEM (2G), VM_SMP (2),
#   VM_APPEND (extra kernel arguments), VM_ADD (extra "SRC:DST" pairs,
#   space separated, for build-initramfs.sh --add).
#
# Exit status: the guest script's (0 = all passed), 77 = skipped (no qemu,
# no kernel), 124 = timeout, 125 = guest died without reporting, 2 = usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'vm-run: %s\n' "$*" >&2; }

if (($# < 1 || $# > 2)); then
	sed -n '3,22p' "$0" >&2
	exit 2
fi
build=$1
guest=${2:-smoke.sh}

# Resolve the guest script.
if [[ -f $guest ]]; then
	guest=$(cd "$(dirname "$guest")" && pwd)/$(basename "$guest")
elif [[ -f $here/guest/$guest ]]; then
	guest=$here/guest/$guest
elif [[ -f $here/guest/$guest.sh ]]; then
	guest=$here/guest/$guest.sh
else
	log "guest script $guest not found"
	exit 2
fi
gname=$(basename "$guest")

t_start=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	log "SKIP: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
	exit 77
fi

kver=$("$here/lib/fetch-kernel.sh" | tail -n1) || {
	log "SKIP: could not fetch a 6.12 kernel with VDUSE"
	exit 77
}
t_kernel=$(since "$t_start")

mkdir -p "$build/tests-vm"
outdir=$(cd "$build/tests-vm" && pwd)
initrd=$outdir/initrd-${gname%.sh}.cpio.gz
console=$outdir/console-${gname%.sh}.log

adds=()
for f in "$here"/guest/*; do
	[[ -f $f ]] && adds+=(--add "$f:/tests/$(basename "$f")")
done
[[ $guest == "$here/guest/$gname" ]] || adds+=(--add "$guest:/tests/$gname")
if [[ -x $build/src/vduse-blkd ]]; then
	adds+=(--add "$build/src/vduse-blkd:/usr/bin/vduse-blkd")
else
	log "note: $build/src/vduse-blkd not built; the guest has no vduse-blkd"
fi
if [[ -x $build/tests/vm/vhost-blk-test ]]; then
	adds+=(--add "$build/tests/vm/vhost-blk-test:/usr/bin/vhost-blk-test")
fi
for a in ${VM_ADD:-}; do adds+=(--add "$a"); done

t0=$(date +%s.%N)
"$here/lib/build-initramfs.sh" --kver "$kver" --out "$initrd" "${adds[@]}"
t_initrd=$(since "$t0")

t0=$(date +%s.%N)
set +e
"$here/lib/boot.sh" --kver "$kver" --initrd "$initrd" --log "$console" \
	--script "/tests/$gname" --append "${VM_APPEND:-}"
rc=$?
set -e
t_boot=$(since "$t0")

result=$(tr -d '\r' < "$console" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n1 || true)
log "kernel $kver; guest $gname; console log $console"
log "initramfs $(du -h "$initrd" | cut -f1); times: kernel ${t_kernel}s, initramfs ${t_initrd}s, VM ${t_boot}s, total $(since "$t_start")s"
log "result: ${result:-no summary line}; exit $rc"
exit "$rc"
