#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# boot.sh: boot the test VM under QEMU TCG and return the guest's exit code.
#
# Usage: boot.sh --initrd FILE [--kernel VMLINUZ | --kver KVER] [--log FILE]
#                [--timeout SECONDS] [--script GUEST-PATH] [--append ARGS]
#                [--mem SIZE] [--smp N] [--qemu ARG]...
#
# --qemu ARG adds ARG to QEMU's command line (repeat it: one argument each),
# e.g. the disks of the systemd guest.
# Without --kernel/--kver it runs fetch-kernel.sh. The console is shown and
# copied to --log (default vm-console.log). The guest's /init prints
# "VM-EXIT-CODE=<n>" before powering off; that n is our exit status.
# 77 = skipped (no qemu-system-x86_64, no kernel); 124 = timeout;
# 125 = the guest stopped without printing the marker.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
log() { printf 'boot: %s\n' "$*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

kernel="" kver="" initrd="" logf=vm-console.log timeout=${VM_TIMEOUT:-600}
script="" append="" mem=${VM_MEM:-2G} smp=${VM_SMP:-2}
qemu_args=()
while (($#)); do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--kver) kver=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--qemu) qemu_args+=("$2"); shift 2 ;;
	-h|--help) sed -n '3,18p' "$0"; exit 0 ;;
	*) log "unknown argument: $1"; exit 2 ;;
	esac
done
[[ -n $initrd ]] || { log "--initrd is required"; exit 2; }
[[ -f $initrd ]] || { log "no initrd $initrd"; exit 2; }

qemu=$(command -v qemu-system-x86_64 || true)
[[ -n $qemu ]] || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"

if [[ -z $kernel ]]; then
	if [[ -z $kver ]]; then
		kver=$("$here/fetch-kernel.sh" | tail -n1) || skip "could not fetch the ${VM_KERNEL:-bookworm} kernel"
	fi
	kernel=$CACHE/kernel/$kver/vmlinuz
fi
[[ -f $kernel ]] || skip "kernel $kernel not found"

cmdline="console=ttyS0 panic=-1 quiet"
[[ -n $script ]] && cmdline+=" vmtest.script=$script"
[[ -n $append ]] && cmdline+=" $append"

mkdir -p "$(dirname "$logf")"
rm -f "$logf.t"
log "qemu TCG, ${mem} RAM, ${smp} vCPUs, timeout ${timeout}s, console -> $logf"
start=$(date +%s.%N)
set +e
# "-display none -vga none -serial mon:stdio" is -nographic without one side
# effect: with -nographic SeaBIOS turns on its serial console and writes
# escape codes (reset, clear, line wrap off) to our terminal.
# stdin from /dev/null: no interactive serial, no raw terminal left behind.
timeout -k 10 "$timeout" "$qemu" \
	-accel tcg -cpu max -m "$mem" -smp "$smp" \
	-display none -vga none -serial mon:stdio -no-reboot -net none \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" "${qemu_args[@]}" \
	</dev/null 2>&1 |
	tee "$logf" >({ grep -q -m1 'vm-init: up at' && date +%s.%N > "$logf.t"
		cat > /dev/null; })
qrc=${PIPESTATUS[0]}	# (the watcher wrote $logf.t long before qemu ended)
set -e
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
if [[ -s $logf.t ]]; then
	log "host wall time from qemu start to the guest's /init: $(awk -v a="$start" \
		'{ printf "%.1f", $1 - a }' "$logf.t")s"
fi
rm -f "$logf.t"

marker=$(tr -d '\r' < "$logf" | sed -n 's/^VM-EXIT-CODE=\([0-9][0-9]*\)$/\1/p' | tail -n1)
if [[ $qrc == 124 || $qrc == 137 ]]; then
	log "TIMEOUT after ${timeout}s (wall ${elapsed}s)"
	exit 124
fi
if [[ -z $marker ]]; then
	log "guest stopped without VM-EXIT-CODE (qemu exit $qrc, wall ${elapsed}s)"
	exit 125
fi
log "guest exit code $marker, wall ${elapsed}s"
exit "$marker"
