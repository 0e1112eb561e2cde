#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build-rootfs.sh: a Debian 12 root file system with systemd as PID 1 for the
# systemd guest (tests/vm/systemd.sh), built with mmdebstrap from the
# machine's own apt mirror and cached as an ext4 image.
#
# Usage: build-rootfs.sh      (prints the image's path as its last line)
#
# The image holds what a user's machine would: systemd, udev, dbus, kmod,
# the libraries vduse-blkd links, iproute2 (vdpa), fio, e2fsprogs,
# systemd-container (systemd-nspawn), podman, and the Ceph daemons and
# tools for the rbd checks.  No kernel and no vduse-blkd: the guest boots
# the kernel fetch-kernel.sh prepared, and run time puts that kernel's
# modules and a `meson install` of the build under test into the root.
#
# Cached as $CACHE/rootfs/bookworm-KEY.img (KEY hashes this script: edit the
# package list and it is rebuilt); older images are removed.  The image is
# never written by a test: each run boots a qcow2 overlay of its own.
# Exit status: 0, 1 on failure (the last line on stderr says why), 77 when
# mmdebstrap is not installed.
set -euo pipefail

CACHE=${VDUSE_BLKD_CACHE:-/var/cache/vduse-blkd-vm}
log() { printf 'build-rootfs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PKGS=(systemd systemd-sysv udev dbus kmod procps iproute2 util-linux e2fsprogs fio
      # vduse-blkd's run-time libraries (meson install puts only our files)
      liburing2 libaio1 libnl-3-200 libnl-genl-3-200 libseccomp2 libjson-c5 librbd1 librados2
      # containers: systemd-nspawn, podman with its runtime
      systemd-container podman crun conmon
      # rbd: a single-node cluster as tests/ceph/cluster.sh starts it
      ceph-mon ceph-osd ceph-common python3)
SIZE=${ROOTFS_SIZE:-4G}

command -v mmdebstrap >/dev/null || { log "mmdebstrap is not installed (apt-get install mmdebstrap)"; exit 77; }
command -v mke2fs >/dev/null || die "mke2fs (e2fsprogs) is not installed"

key=$( { sha256sum "$0" | cut -d' ' -f1; echo "$SIZE"; } | sha256sum | cut -c1-16)
out=$CACHE/rootfs/bookworm-$key.img
mkdir -p "$CACHE/rootfs"
exec 9> "$CACHE/rootfs/.lock"	# one build at a time per cache
flock 9
if [[ -s $out ]]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

# The machine's Debian mirror, as its own apt configuration names it.
uri=$("$(dirname "${BASH_SOURCE[0]}")/apt-mirror.sh" || true)
[[ -n $uri ]] || die "the machine's apt configuration names no Debian mirror"

tmp=$(mktemp -d "$CACHE/rootfs/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$(date +%s)
log "mmdebstrap bookworm from $uri ($(echo "${PKGS[@]}" | wc -w) packages) into $tmp/root"
mmdebstrap --variant=apt --include="$(IFS=,; echo "${PKGS[*]}")" \
	--aptopt='Apt::Install-Recommends "false"' \
	--customize-hook='echo vduse-vm > "$1/etc/hostname"' \
	--customize-hook='echo "127.0.1.1 vduse-vm" >> "$1/etc/hosts"' \
	--customize-hook='passwd --root "$1" -d root' \
	--customize-hook='printf "LABEL=vmroot / ext4 rw,errors=remount-ro 0 0\n" > "$1/etc/fstab"' \
	--customize-hook='rm -f "$1"/etc/systemd/system/*.wants/systemd-networkd* "$1"/etc/systemd/system/*.wants/ceph*' \
	--customize-hook='mkdir -p "$1/etc/containers" && printf "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/var/lib/containers/storage\"\n" > "$1/etc/containers/storage.conf"' \
	bookworm "$tmp/root" "deb $uri bookworm main" >&2 || die "mmdebstrap failed"
# No getty on the serial console: the console is the tests'.
rm -f "$tmp/root/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
ln -sf /dev/null "$tmp/root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$tmp/root/etc/systemd/system/getty@tty1.service"
log "root file system: $(du -sh "$tmp/root" | cut -f1); making the ext4 image ($SIZE)"
truncate -s "$SIZE" "$tmp/root.img"
mke2fs -q -t ext4 -L vmroot -d "$tmp/root" "$tmp/root.img" || die "mke2fs -d failed"
mv "$tmp/root.img" "$out"
find "$CACHE/rootfs" -maxdepth 1 -name 'bookworm-*.img' ! -path "$out" -delete
log "built $out in $(( $(date +%s) - t0 )) s"
echo "$out"
