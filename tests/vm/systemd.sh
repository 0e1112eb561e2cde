#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# systemd.sh: the shipped unit under a real systemd, in a QEMU (TCG) guest
# booted from a Debian 12 root file system (lib/build-rootfs.sh) with
# systemd as PID 1, twice: the first boot follows the README as a user
# would, the second finds the units it enabled started at boot.
#
# Usage: tests/vm/systemd.sh BUILD_DIR [BOOT1-SUITES [BOOT2-SUITES]]
#
#   BUILD_DIR      meson build directory: `meson install --destdir` of it is
#                  what the guest has under /usr/local (binaries, man pages,
#                  the unit, the sysusers entry), as `meson install` would put
#                  it on a user's machine
#   BOOT1-SUITES   comma-separated guest suites (tests/vm/systemd/NAME.sh) of
#                  the first boot, default "unit"; BOOT2-SUITES those of the
#                  second, default "boot,containers,rbd" ("" or "-": no
#                  second boot)
#
# The root disk is on virtio-scsi (/dev/sdX), so /dev/vdX are VDUSE's; the
# kernel's module tree is a second, read-only disk mounted at
# /lib/modules/KVER, nothing of it loaded until something asks.  A busybox
# initramfs loads what the root disk needs, puts the build's files and the
# suites on it and switches to /lib/systemd/systemd; vmtest.service runs
# the suites, prints their results on the serial console and powers off.
# Both boots share one qcow2 overlay of the cached root image
# (BUILD_DIR/tests-vm/systemd-LABEL.qcow2, removed at the end).
#
# Environment: VM_KERNEL, VDUSE_BLKD_CACHE, VM_MEM, VM_SMP as for run.sh;
#   VM_TIMEOUT (seconds per boot, default 1500); VM_APPEND.
#
# Results: "vm-run: result: LABEL KVER systemd-SUITE RESULT SECONDS
# (SUMMARY)" per suite on stderr (what scripts/test.sh counts) and in
# BUILD_DIR/tests-vm/results-systemd[-LABEL].txt; console logs
# console-systemd-bootN[-LABEL].log beside it.  Exit status as run.sh's:
# 0 all passed, 1 a suite failed, 77 skipped (no QEMU, qemu-img, mmdebstrap
# or kernel), 124 timeout, 125 the guest died, 2 usage.
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_root=$(cd "$here/../.." && pwd)
log() { printf 'vm-run: %s\n' "$*" >&2; }
# shellcheck source=lib/results.sh
. "$here/lib/results.sh"

if (($# < 1)); then
	sed -n '3,38p' "$0" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
boot1=${2:-unit}
boot2=${3-boot,containers,rbd}
[[ $boot2 == - ]] && boot2=
choice=${VM_KERNEL:-bookworm}
case $choice in
bookworm|newest) label=$choice ;;
*) label=custom ;;
esac
sfx=${label/#bookworm/}; sfx=${sfx:+-$sfx}
mkdir -p "$build/tests-vm"
outdir=$build/tests-vm
results=$outdir/results-systemd$sfx.txt
rm -f "$results"
names=()
for s in ${boot1//,/ } ${boot2//,/ }; do
	[[ -f $here/systemd/$s.sh ]] || { log "no guest suite tests/vm/systemd/$s.sh"; exit 2; }
	names+=("$s")
done

t_start=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

skip_all() {
	local n
	log "SKIP (systemd guest, $label kernel): $1"
	for n in "${names[@]}"; do
		echo "$label - systemd-$n SKIP 0 $1" >> "$results"
		log "result: $label - systemd-$n SKIP 0s ($1)"
	done
	exit 77
}

for t in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mmdebstrap:mmdebstrap \
	 /bin/busybox:busybox-static; do
	command -v "${t%%:*}" >/dev/null || skip_all "${t%%:*} not installed (apt-get install ${t#*:})"
done

set +e
kver=$(VM_KERNEL=$choice "$here/lib/fetch-kernel.sh" 2>"$outdir/fetch-systemd-$label.log" | tail -n1)
frc=$?
set -e
if ((frc != 0)) || [[ -z $kver ]]; then
	why=$(sed -n 's/^fetch-kernel: error: //p' "$outdir/fetch-systemd-$label.log" | tail -n1)
	skip_all "could not fetch the $choice kernel: ${why:-fetch-kernel.sh exited $frc}"
fi
t0=$(date +%s.%N)
set +e
rootfs=$("$here/lib/build-rootfs.sh" | tail -n1)
rrc=${PIPESTATUS[0]}
set -e
((rrc == 77)) && skip_all "mmdebstrap is not installed"
((rrc == 0)) && [[ -s $rootfs ]] || { log "building the root file system failed"; exit 1; }
t_rootfs=$(since "$t0")
kdir=$("$here/lib/systemd-kernel.sh" "$kver" | tail -n1)

# The initramfs: busybox, the root disk's modules, /init, and the payload
# that /init copies onto the root file system at every boot.
work=$(mktemp -d "$outdir/.systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/initrd
mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,newroot,modules,payload}
cp /bin/busybox "$tree/bin/busybox"
while IFS= read -r a; do
	[[ $(basename "$a") == busybox || -e $tree/$a ]] && continue
	mkdir -p "$tree/$(dirname "$a")"
	ln -s /bin/busybox "$tree/$a"
done < <(/bin/busybox --list-full)
cp "$kdir"/initrd/*.ko "$kdir/initrd/order" "$tree/modules/"
cp "$here/systemd/init" "$tree/init"
chmod 755 "$tree/init"

pl=$tree/payload
meson install -C "$build" --no-rebuild --quiet --destdir "$pl" >/dev/null
mkdir -p "$pl/usr/lib/vmtest" "$pl/etc/systemd/system/multi-user.target.wants"
cp "$here"/systemd/*.sh "$here/guest/lib.sh" "$src_root/tests/ceph/cluster.sh" \
	"$src_root/systemd/rbd.conf.example" "$pl/usr/lib/vmtest/"
cp "$here/systemd/vmtest.service" "$pl/etc/systemd/system/"
ln -sf ../vmtest.service "$pl/etc/systemd/system/multi-user.target.wants/vmtest.service"
# The vm suite: the development suite's QEMU on a disk of its own, and the
# small VM it boots (this kernel, busybox, virtio_blk, nested-init).
sid_disk=() sid_arg=
if [[ ,$boot1,$boot2, == *,vm,* ]]; then
	set +e
	sid=$("$here/lib/build-sid-qemu.sh" | tail -n1)
	set -e
	if [[ -s $sid ]]; then
		sid_disk=(--qemu -drive --qemu "file=$sid,if=none,id=sid,format=raw,readonly=on"
			  --qemu -device --qemu scsi-hd,drive=sid,bus=scsi.0)
		sid_arg=vmtest.sid=1
	else
		log "no sid QEMU: the vm suite will skip"
	fi
	nt=$work/nested
	mkdir -p "$nt/bin" "$pl/usr/lib/vmtest/nested"
	cp /bin/busybox "$nt/bin/busybox"
	for a in sh mount insmod sleep cat cut dd cmp sha256sum poweroff echo; do ln -s busybox "$nt/bin/$a"; done
	cp "$CACHE/kernel/$kver/modules/virtio_blk.ko" "$nt/virtio_blk.ko"
	cp "$here/systemd/nested-init" "$nt/init"
	mkdir -p "$nt/dev" "$nt/proc" "$nt/sys"
	(cd "$nt" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$pl/usr/lib/vmtest/nested/initrd.gz"
	cp "$CACHE/kernel/$kver/vmlinuz" "$pl/usr/lib/vmtest/nested/vmlinuz"
fi
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 > "$work/initrd.gz"

overlay=$outdir/systemd$sfx.qcow2
qemu-img create -q -f qcow2 -b "$rootfs" -F raw "$overlay"
disks=(--qemu -device --qemu virtio-scsi-pci,id=scsi
       --qemu -drive --qemu "file=$overlay,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap"
       --qemu -device --qemu scsi-hd,drive=root,bus=scsi.0
       --qemu -drive --qemu "file=$kdir/modules.img,if=none,id=mods,format=raw,readonly=on"
       --qemu -device --qemu scsi-hd,drive=mods,bus=scsi.0)

any_fail=0
# boot N SUITES: one boot running SUITES; appends a result line per suite.
boot() {
	local n=$1 suites=$2 console=$outdir/console-systemd-boot$1$sfx.log rc s
	[[ -n $suites ]] || return 0
	log "boot $n of the systemd guest ($kver): $suites"
	local t0
	t0=$(date +%s.%N)
	set +e
	VM_TIMEOUT=${VM_TIMEOUT:-1500} "$here/lib/boot.sh" --kver "$kver" --initrd "$work/initrd.gz" \
		--log "$console" "${disks[@]}" "${sid_disk[@]}" \
		--append "vmtest.suites=$suites $sid_arg systemd.show_status=false ${VM_APPEND:-}"
	rc=$?
	set -e
	log "boot $n: wall $(since "$t0")s"
	local clean
	clean=$(tr -d '\r' < "$console")
	for s in ${suites//,/ }; do
		suite_result "$clean" "$s" "systemd-$s" "$rc" || any_fail=1
	done
	log "console log $console"
	return "$rc"
}

brc=0
boot 1 "$boot1" || brc=$?
if ((brc == 0 || brc == 1)); then
	boot 2 "$boot2" || brc=$?
fi
rm -f "$overlay"
log "times: root file system ${t_rootfs}s (cached or built), total $(since "$t_start")s"
case $brc in
124|125) exit "$brc" ;;
esac
((any_fail)) && exit 1
exit 0
