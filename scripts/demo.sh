#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh DAEMON WORKDIR: serve a scratch image with vduse-blkd, attach it,
# make ext4 on the /dev/vdX it becomes, write and read back a file, detach and
# stop.  Needs root and the vduse, virtio_vdpa and virtio_blk modules.  POSIX
# sh, so it runs on a host and in the busybox test guest alike.
set -u
DAEMON=$1
WORK=$2
NAME=vduse-demo
IMG=$WORK/demo.img
MNT=$WORK/mnt
VDPA=/usr/sbin/vdpa
MKFS=/usr/sbin/mkfs.ext4
say() { echo "demo: $*"; }
die() { say "FAILED: $*"; [ -f "$WORK/daemon.log" ] && sed 's/^/  daemon: /' "$WORK/daemon.log"; exit 1; }

mkdir -p "$WORK" "$MNT"
rm -f "$IMG"
truncate -s 256M "$IMG" || die "cannot create $IMG"
say "created a 256 MiB sparse image $IMG"

"$DAEMON" --image "$IMG" --name $NAME --queues 2 2>"$WORK/daemon.log" &
pid=$!
i=0
while [ ! -e /dev/vduse/$NAME ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && die "vduse-blkd did not create /dev/vduse/$NAME"
	kill -0 $pid 2>/dev/null || die "vduse-blkd exited"
	sleep 0.1
done
say "vduse-blkd (pid $pid) created /dev/vduse/$NAME with 2 queues"

$VDPA dev add name $NAME mgmtdev vduse || die "vdpa dev add failed (is virtio_vdpa loaded?)"
dev=""
i=0
while [ -z "$dev" ]; do
	for b in /sys/bus/vdpa/devices/$NAME/virtio*/block/*; do
		[ -e "$b" ] && dev=/dev/${b##*/}
	done
	i=$((i + 1))
	[ $i -gt 200 ] && die "no /dev/vdX appeared (is virtio_blk loaded?)"
	[ -z "$dev" ] && sleep 0.1
done
while [ ! -b "$dev" ]; do sleep 0.1; done
say "attached: $NAME is $dev ($(cat /sys/class/block/${dev#/dev/}/size) sectors of 512 bytes)"

$MKFS -q -F "$dev" || die "mkfs.ext4 $dev failed"
mount -t ext4 "$dev" "$MNT" || die "mount failed"
say "made ext4 on $dev and mounted it on $MNT"
dd if=/dev/urandom of="$WORK/payload" bs=1M count=8 2>/dev/null
cp "$WORK/payload" "$MNT/payload"
sync
umount "$MNT"
echo 3 > /proc/sys/vm/drop_caches
mount -t ext4 "$dev" "$MNT" || die "remount failed"
if cmp "$WORK/payload" "$MNT/payload"; then
	say "wrote 8 MiB through $dev, remounted, read it back: identical"
else
	die "read-back differs"
fi
umount "$MNT"

$VDPA dev del $NAME
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || die "vduse-blkd exited $rc"
say "detached, stopped vduse-blkd (exit 0); /dev/vduse/$NAME is gone: $([ -e /dev/vduse/$NAME ] && echo no || echo yes)"
say "daemon log:"
sed 's/^/  /' "$WORK/daemon.log"
say "OK"
