#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# systemd-kernel.sh KVER: what the systemd guest needs of a kernel that
# fetch-kernel.sh prepared, cached in $CACHE/systemd/KVER/:
#
#   modules.img       the kernel's whole module tree as its packages ship it
#                     (compressed .ko, modules.dep from depmod), an ext4 image
#                     the guest mounts read-only at /lib/modules/KVER: modprobe,
#                     systemd's modprobe@.service and udev work as on a real
#                     install, and nothing is loaded until something asks
#   initrd/*.ko       decompressed, for the busybox initramfs: what mounting
#                     the root disk takes (virtio_scsi, sd_mod, ext4)
#   initrd/order      their insmod order, dependencies first
#
# The packages are the ones fetch-kernel.sh downloaded (named in
# $CACHE/kernel/KVER/source).  Prints the directory as its last line.
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
log() { printf 'systemd-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

kver=${1:?usage: systemd-kernel.sh KVER}
src=$CACHE/kernel/$kver/source
[[ -f $src ]] || die "kernel $kver not prepared (run fetch-kernel.sh)"
out=$CACHE/systemd/$kver
stamp="$(sha256sum "$0" | cut -c1-16) $(sed -n '2,$p' "$src" | tr '\n' ' ')"
mkdir -p "$CACHE/systemd"
exec 9> "$CACHE/systemd/.lock"
flock 9
if [[ -f $out/.complete && $(cat "$out/.complete") == "$stamp" ]]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

tmp=$(mktemp -d "$CACHE/systemd/.x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
while IFS= read -r deb; do
	[[ $deb == *.deb ]] || continue
	[[ -f $deb ]] || die "$deb (named in $src) is gone: remove $CACHE/kernel/$kver and fetch again"
	log "extracting $(basename "$deb")"
	dpkg-deb -x "$deb" "$tmp/pkg"
done < <(sed -n '2,$p' "$src")
mkdir -p "$tmp/tree/lib/modules"
for d in "$tmp/pkg/lib/modules/$kver" "$tmp/pkg/usr/lib/modules/$kver"; do
	[[ -d $d/kernel ]] && mv "$d" "$tmp/tree/lib/modules/$kver"
done
mdir=$tmp/tree/lib/modules/$kver
[[ -d $mdir/kernel ]] || die "no modules for $kver in the packages"
rm -rf "$tmp/pkg" "$mdir/build" "$mdir/source" "$mdir/vmlinuz"
depmod -b "$tmp/tree" "$kver" || die "depmod failed"

# The root disk's modules for the initramfs, in the order modprobe would load them.
mkdir -p "$tmp/out/initrd"
: > "$tmp/out/initrd/order"
want=(virtio_scsi sd_mod ext4)
[[ -n $(find "$mdir" -name 'crc32c_generic.ko*' -print -quit) ]] && want=(crc32c_generic "${want[@]}")
for m in "${want[@]}"; do
	modprobe -d "$tmp/tree" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" { print $2 }' | while IFS= read -r ko; do
	ko=${ko#"$tmp/tree"}
	name=$(basename "$ko"); name=${name%%.ko*}.ko
	grep -qxF "$name" "$tmp/out/initrd/order" && continue
	case $ko in
	*.xz) xz -dc "$tmp/tree$ko" ;;
	*.zst) zstd -qdc "$tmp/tree$ko" ;;
	*.gz) gzip -dc "$tmp/tree$ko" ;;
	*) cat "$tmp/tree$ko" ;;
	esac > "$tmp/out/initrd/$name"
	echo "$name" >> "$tmp/out/initrd/order"
done
log "initramfs modules: $(tr '\n' ' ' < "$tmp/out/initrd/order")"

mb=$(( $(du -sm "$mdir" | cut -f1) * 13 / 10 + 32 ))
truncate -s "${mb}M" "$tmp/out/modules.img"
mke2fs -q -t ext4 -L vmmodules -d "$mdir" "$tmp/out/modules.img" || die "mke2fs -d failed"
echo "$stamp" > "$tmp/out/.complete"
rm -rf "$out"
mv "$tmp/out" "$out"
log "kernel $kver ready for the systemd guest in $out (modules image ${mb} MiB)"
echo "$out"
