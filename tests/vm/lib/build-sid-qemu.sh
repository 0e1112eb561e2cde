#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-sid-qemu.sh: a VM client for the systemd guest's `vm` suite.  Debian
# 12's QEMU (7.2) has no virtio-blk-vhost-vdpa block driver; the development
# suite's QEMU (11.x) has it through qemu-block-extra and libblkio1.  This
# builds a minimal sid tree with qemu-system-x86 and qemu-block-extra with
# mmdebstrap (the machine's apt mirror) and caches it as an ext4 image the
# guest mounts and chroots into: the binary runs on sid's own C library.
#
# Usage: build-sid-qemu.sh      (prints the image's path as its last line)
#
# The mirror may serve a snapshot whose Release file has expired: its
# Valid-Until is not checked (the signature is).
# Cached as $CACHE/rootfs/sid-qemu-KEY.img (KEY: this script and the week,
# so sid's moving packages are refreshed weekly).  Exit status: 0, 1 on
# failure, 77 when mmdebstrap is missing.
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
log() { printf 'build-sid-qemu: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v mmdebstrap >/dev/null || { log "mmdebstrap is not installed"; exit 77; }
key=$( { sha256sum "$0" | cut -d' ' -f1; date +%G-%V; } | sha256sum | cut -c1-16)
out=$CACHE/rootfs/sid-qemu-$key.img
mkdir -p "$CACHE/rootfs"
exec 9> "$CACHE/rootfs/.lock-sid"
flock 9
if [[ -s $out ]]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi
# The machine's Debian mirror, as its own apt configuration names it.
uri=$("$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh" || true)
[[ -n $uri ]] || die "the machine's apt configuration names no Debian mirror"
tmp=$(mktemp -d "$CACHE/rootfs/.sid.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
mmdebstrap --variant=essential --include=qemu-system-x86,qemu-block-extra \
	--aptopt='Apt::Install-Recommends "false"' \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	sid "$tmp/root" "deb $uri sid main" >&2 || die "mmdebstrap sid failed"
rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/locale"
mb=$(( $(du -sm "$tmp/root" | cut -f1) * 13 / 10 + 64 ))
truncate -s "${mb}M" "$tmp/sid.img"
mke2fs -q -t ext4 -L vmsid -d "$tmp/root" "$tmp/sid.img" || die "mke2fs -d failed"
mv "$tmp/sid.img" "$out"
find "$CACHE/rootfs" -maxdepth 1 -name 'sid-qemu-*.img' ! -path "$out" -delete
log "built $out (${mb} MiB) in $(( $(date +%s) - t0 )) s: $(chroot "$tmp/root" qemu-system-x86_64 --version 2>/dev/null | head -n1)"
echo "$out"
