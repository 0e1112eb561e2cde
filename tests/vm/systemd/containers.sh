#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# containers.sh (systemd guest): the disk of vduse-blkd@disk1, handed to a
# container as the README's "For containers" section shows, gets a file system
# written inside the container, and the host reads it back.
#
#   nspawn   systemd-nspawn with the disk bound in runs mkfs.ext4 -d
#   podman   an image made offline (podman import of a directory's tar)
#            run with --device and --network none does the same
# The container's tree is the guest's own mke2fs with its libraries, an
# os-release and /data/hello (random bytes): no registry, no network.
. /usr/lib/vmtest/lib.sh

ROOT=/var/lib/machines/mkfs
# udev makes the by-id link after the disk appears: in a boot that has just
# reached multi-user.target it may still be at work.
udevadm settle --timeout=30
wait_for /dev/disk/by-id/virtio-disk1 10
dev=$(readlink -f /dev/disk/by-id/virtio-disk1)
if [ ! -b "$dev" ]; then
	fail disk "no /dev/disk/by-id/virtio-disk1 (is vduse-blkd@disk1 serving? $(systemctl is-active vduse-blkd@disk1))"
	summary
fi
info "disk1 is $dev"

# The container's tree: mke2fs, its libraries, an os-release, the data.
rm -rf $ROOT
mkdir -p $ROOT/usr/sbin $ROOT/usr/lib $ROOT/etc $ROOT/data $ROOT/dev $ROOT/proc $ROOT/sys
cp /usr/sbin/mke2fs $ROOT/usr/sbin/
for l in $(ldd /usr/sbin/mke2fs | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
	mkdir -p "$ROOT$(dirname "$l")"
	cp -L "$l" "$ROOT$l"
done
# Debian's libraries live in /usr/lib (merged /usr): the same links as the host.
for d in bin sbin lib lib64; do [ -L /$d ] && ln -s "$(readlink /$d)" $ROOT/$d; done
cp /etc/mke2fs.conf $ROOT/etc/
printf 'ID=mkfs\nNAME=mkfs\n' > $ROOT/usr/lib/os-release
dd if=/dev/urandom of=$ROOT/data/hello bs=1k count=256 2>/dev/null

# check_fs NAME: the host mounts what the container wrote and reads it back.
check_fs() {
	run_case "$1-fsck" /usr/sbin/e2fsck -fn "$dev"
	mkdir -p /mnt/c
	if mount /dev/disk/by-id/virtio-disk1 /mnt/c; then
		run_case "$1-host-reads-back" cmp /mnt/c/hello $ROOT/data/hello
		umount /mnt/c
	else
		fail "$1-host-reads-back" "mount $dev failed"
	fi
}

# --- nspawn ------------------------------------------------------------------
wipefs -qa "$dev"
# As the README shows it:
systemd-nspawn --quiet --register=no -D /var/lib/machines/mkfs \
    --bind="$(readlink -f /dev/disk/by-id/virtio-disk1)":/dev/vdb \
    /usr/sbin/mke2fs -F -q -t ext4 -d /data /dev/vdb
run_case nspawn-mkfs [ $? -eq 0 ]
check_fs nspawn

# --- podman --------------------------------------------------------------------
wipefs -qa "$dev"
podman rmi -f localhost/mkfs >/dev/null 2>&1
# As the README shows it:
tar -C /var/lib/machines/mkfs -c . | podman import --quiet - localhost/mkfs
run_case podman-import podman image exists localhost/mkfs
podman run --rm --network none --device "$(readlink -f /dev/disk/by-id/virtio-disk1)":/dev/vdb \
    localhost/mkfs /usr/sbin/mke2fs -F -q -t ext4 -d /data /dev/vdb
run_case podman-mkfs [ $? -eq 0 ]
check_fs podman
summary
