#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh: run guest test suites in a QEMU (TCG) VM with a Debian kernel
# that has VDUSE, all in one boot, one after another.
#
# Usage: tests/vm/run.sh BUILD_DIR [SUITE...]
#
#   BUILD_DIR     meson build directory; BUILD_DIR/src/vduse-blkd, if built,
#                 goes into the guest as /usr/bin/vduse-blkd. Console logs,
#                 the initramfs and the results are written to BUILD_DIR/tests-vm/.
#   SUITE         a file (path), or a name under tests/vm/guest/ ("smoke",
#                 "smoke.sh"); default smoke. Several run in one boot, in the
#                 order given, each reported on its own.  NAME@RING (e.g.
#                 blk@split) runs NAME with VDB_RING=RING, reported as NAME@RING.
#
# Environment: VM_KERNEL (bookworm, newest or a path: see lib/fetch-kernel.sh;
#   default bookworm), VDUSE_BLKD_CACHE (default /var/cache/vduse-blkd-vm),
#   VM_TIMEOUT (seconds, default 600 per suite), VM_MEM (2G), VM_SMP (2),
#   VM_APPEND (extra kernel arguments), VM_ADD (extra "SRC:DST" pairs,
#   space separated, for build-initramfs.sh --add), VDB_RING (auto, split or
#   packed: --ring for every daemon the suites start; default the daemon's).
#
# Results: one line per suite on stderr ("vm-run: result: ...") and in
# BUILD_DIR/tests-vm/results-TAG[-LABEL].txt (TAG = the suite's name, or
# "suites" for several; LABEL = newest or custom, none for bookworm):
# "LABEL KVER SUITE RESULT SECONDS SUMMARY", RESULT one of OK FAIL TIMEOUT
# DIED NOTRUN SKIP.  The console log is console-TAG[-LABEL].log beside it.
#
# Exit status: 0 = every suite passed, 1 = a suite failed, 77 = skipped (no
# qemu, no kernel), 124 = timeout, 125 = guest died without reporting, 2 = usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'vm-run: %s\n' "$*" >&2; }
# shellcheck source=lib/results.sh
. "$here/lib/results.sh"

if (($# < 1)); then
	sed -n '3,31p' "$0" >&2
	exit 2
fi
build=$1
shift
(($#)) || set -- smoke
choice=${VM_KERNEL:-bookworm}
case $choice in
bookworm|newest) label=$choice ;;
*) label=custom ;;
esac

ring_ok() {
	case $1 in
	auto|split|packed) return 0 ;;
	esac
	log "ring layout '$1' is not auto, split or packed"
	exit 2
}
[[ -n ${VDB_RING:-} ]] && ring_ok "$VDB_RING"

# Resolve the suites' scripts; NAME@RING picks the ring layout of one suite.
scripts=() names=()
for guest in "$@"; do
	at=
	if [[ $guest == *@* ]]; then
		at=@${guest##*@}
		guest=${guest%@*}
		ring_ok "${at#@}"
	fi
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
	scripts+=("$guest")
	names+=("$(basename "$guest" .sh)$at")
done
if (($# == 1)); then tag=${names[0]}; else tag=suites; fi
suites_csv=$(IFS=,; echo "${names[*]}")

t_start=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$build/tests-vm"
outdir=$(cd "$build/tests-vm" && pwd)
# Named NAME (bookworm, the default kernel) or NAME-LABEL (the others).
sfx=${label/#bookworm/}; sfx=${sfx:+-$sfx}
initrd=$outdir/initrd-$tag$sfx.cpio.gz
console=$outdir/console-$tag$sfx.log
results=$outdir/results-$tag$sfx.txt
rm -f "$results"

# skip_all REASON: every suite skipped, exit 77.
skip_all() {
	local n
	log "SKIP ($label kernel): $1"
	for n in "${names[@]}"; do
		echo "$label - $n SKIP 0 $1" >> "$results"
		log "result: $label - $n SKIP 0s ($1)"
	done
	exit 77
}

command -v qemu-system-x86_64 >/dev/null ||
	skip_all "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"

set +e
VM_KERNEL=$choice "$here/lib/fetch-kernel.sh" 2>&1 >"$outdir/kver-$label" |
	tee "$outdir/fetch-$label.log" >&2
frc=$?
set -e
kver=$(tail -n1 "$outdir/kver-$label")
if ((frc != 0)) || [[ -z $kver ]]; then
	why=$(sed -n 's/^fetch-kernel: error: //p' "$outdir/fetch-$label.log" | tail -n1)
	skip_all "could not fetch the $choice kernel: ${why:-fetch-kernel.sh exited $frc}"
fi
t_kernel=$(since "$t_start")

adds=()
for f in "$here"/guest/*; do
	[[ -f $f ]] && adds+=(--add "$f:/tests/$(basename "$f")")
done
for i in "${!scripts[@]}"; do
	[[ ${scripts[$i]} == "$here/guest/${names[$i]%@*}.sh" ]] ||
		adds+=(--add "${scripts[$i]}:/tests/${names[$i]%@*}.sh")
done
adds+=(--add "$here/lib/suites.sh:/usr/lib/vmtest/suites.sh")
if [[ -x $build/src/vduse-blkd ]]; then
	adds+=(--add "$build/src/vduse-blkd:/usr/bin/vduse-blkd")
else
	log "note: $build/src/vduse-blkd not built; the guest has no vduse-blkd"
fi
if [[ -x $build/src/vduse-blkctl ]]; then
	adds+=(--add "$build/src/vduse-blkctl:/usr/bin/vduse-blkctl")
fi
# The ctl suite grows a file system on a resized disk.
[[ -x /usr/sbin/resize2fs ]] && adds+=(--add "/usr/sbin/resize2fs:/usr/sbin/resize2fs")
if [[ -x $build/tests/vm/vhost-blk-test ]]; then
	adds+=(--add "$build/tests/vm/vhost-blk-test:/usr/bin/vhost-blk-test")
fi
# The notify suite's stand-in for systemd's notify socket.
if [[ -x $build/tests/notify-listen ]]; then
	adds+=(--add "$build/tests/notify-listen:/usr/bin/notify-listen")
fi
for a in ${VM_ADD:-}; do adds+=(--add "$a"); done

t0=$(date +%s.%N)
"$here/lib/build-initramfs.sh" --kver "$kver" --out "$initrd" "${adds[@]}"
t_initrd=$(since "$t0")

t0=$(date +%s.%N)
set +e
VM_TIMEOUT=${VM_TIMEOUT:-$((600 * ${#names[@]}))} \
"$here/lib/boot.sh" --kver "$kver" --initrd "$initrd" --log "$console" \
	--script /usr/lib/vmtest/suites.sh \
	--append "vmtest.suites=$suites_csv${VDB_RING:+ VDB_RING=$VDB_RING} ${VM_APPEND:-}"
rc=$?
set -e
t_boot=$(since "$t0")

# One result per suite, from the markers suites.sh printed.
clean=$(tr -d '\r' < "$console")
any_fail=0
for n in "${names[@]}"; do
	suite_result "$clean" "$n" "$n" "$rc" || any_fail=1
done
log "console log $console"
log "initramfs $(du -h "$initrd" | cut -f1); times: kernel ${t_kernel}s, initramfs ${t_initrd}s, VM ${t_boot}s, total $(since "$t_start")s"
case $rc in
124|125) exit "$rc" ;;
esac
((any_fail)) && exit 1
exit "$rc"
