#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# smoke.sh: prove the VM infrastructure and the kernel's VDUSE path with the
# peer (qemu-storage-daemon's vduse-blk export), not our daemon.
#
# Image file on tmpfs -> qemu-storage-daemon -> /dev/vduse/qsd0 ->
# vdpa dev add -> virtio_vdpa -> virtio_blk -> /dev/vdX.

. /tests/lib.sh

NAME=qsd0
IMG=/tmp/qsd0.img
MNT=/mnt/qsd0
SIZE_MB=64
qsd_pid=""
dev=""

cleanup() {
	mountpoint_of "$MNT" && umount "$MNT"
	[ -e "/sys/bus/vdpa/devices/$NAME" ] && $VDPA dev del "$NAME"
	[ -n "$qsd_pid" ] && kill "$qsd_pid" 2>/dev/null
}
mountpoint_of() { grep -q " $1 " /proc/mounts; }
trap cleanup EXIT

info "kernel $(uname -r), $(nproc) CPUs"

# -- VDUSE is there ----------------------------------------------------------
if [ -c /dev/vduse/control ]; then
	pass vduse-control
else
	fail vduse-control "/dev/vduse/control missing (vduse module not loaded?)"
	summary
fi
run_case vdpa-mgmtdev sh -c "$VDPA mgmtdev show | grep -q vduse"

# -- image and peer daemon ------------------------------------------------------
dd if=/dev/zero of="$IMG" bs=1M count=$SIZE_MB 2>/dev/null
if [ "$(stat -c %s "$IMG")" -eq $((SIZE_MB * 1024 * 1024)) ]; then
	pass image-create
else
	fail image-create "size $(stat -c %s "$IMG")"
fi

$QSD \
	--blockdev driver=file,node-name=file0,filename="$IMG" \
	--blockdev driver=raw,node-name=n0,file=file0 \
	--export vduse-blk,id=v0,name=$NAME,node-name=n0,num-queues=1,writable=on \
	> /tmp/qsd.log 2>&1 &
qsd_pid=$!
if wait_for /dev/vduse/$NAME 10; then
	pass qsd-start "pid $qsd_pid, /dev/vduse/$NAME"
else
	fail qsd-start "no /dev/vduse/$NAME; daemon log:"
	cat /tmp/qsd.log
	summary
fi
for f in "/sys/class/vduse/$NAME"/*; do
	[ -f "$f" ] && info "$f = $(tr '\n' ' ' < "$f" 2>/dev/null)"
done

# -- attach: vdpa dev add -> /dev/vdX ----------------------------------------
t0=$(cut -d' ' -f1 /proc/uptime)
if run_case vdpa-add "$VDPA" dev add name $NAME mgmtdev vduse; then
	if dev=$(wait_vdisk $NAME 10); then
		t1=$(cut -d' ' -f1 /proc/uptime)
		pass vdisk-appears "$dev after $(awk "BEGIN { print $t1 - $t0 }")s"
		info "$($VDPA dev show $NAME)"
		info "driver: $(readlink /sys/bus/vdpa/devices/$NAME/driver)"
	else
		fail vdisk-appears "no block device under /sys/bus/vdpa/devices/$NAME"
		ls -lR /sys/bus/vdpa/devices/$NAME/ 2>&1 | head -30
	fi
fi

if [ -z "$dev" ]; then
	for c in vdisk-size write-read image-offset image-untouched fio-randread \
	         mkfs-ext4 mount-ext4 write-file umount-ext4 e2fsck-clean \
	         remount-verify; do
		skip $c "no /dev/vdX"
	done
else
	s=$(sectors_of "$dev")
	if [ "$s" -eq $((SIZE_MB * 2048)) ]; then
		pass vdisk-size "$s sectors"
	else
		fail vdisk-size "$s sectors, want $((SIZE_MB * 2048))"
	fi

	# -- raw I/O: 1 MiB pattern at 4 MiB, O_DIRECT both ways ---------------
	dd if=/dev/urandom of=/tmp/pat bs=1M count=1 2>/dev/null
	if dd if=/tmp/pat of="$dev" bs=4096 seek=1024 oflag=direct conv=fsync,notrunc 2>/dev/null &&
	   dd if="$dev" of=/tmp/back bs=4096 skip=1024 count=256 iflag=direct 2>/dev/null &&
	   cmp -s /tmp/pat /tmp/back; then
		pass write-read
	else
		fail write-read "pattern read back from $dev differs"
	fi
	dd if="$IMG" of=/tmp/inimg bs=4096 skip=1024 count=256 2>/dev/null
	if cmp -s /tmp/pat /tmp/inimg; then
		pass image-offset "bytes 4 MiB..5 MiB of $IMG"
	else
		fail image-offset "pattern not at offset 4 MiB of $IMG"
	fi
	# and nothing before it was touched
	if [ "$(dd if="$IMG" bs=4096 count=1024 2>/dev/null | tr -d '\0' | wc -c)" -eq 0 ]; then
		pass image-untouched "first 4 MiB still zero"
	else
		fail image-untouched "bytes before 4 MiB changed"
	fi

	q=/sys/class/block/${dev##*/}/queue
	for a in logical_block_size physical_block_size max_sectors_kb max_hw_sectors_kb \
	         max_segments max_segment_size discard_max_bytes \
	         write_zeroes_max_bytes write_cache rotational nr_requests; do
		[ -f "$q/$a" ] && info "queue/$a = $(cat "$q/$a")"
	done
	info "mq hw queues: $(find "/sys/class/block/${dev##*/}/mq/" -mindepth 1 -maxdepth 1 | wc -l)"

	# -- fio runs against it (proves fio and libaio in the guest) -------------
	if out=$("$FIO" --name=smoke --filename="$dev" --rw=randread --bs=4k \
		--iodepth=8 --ioengine=libaio --direct=1 --runtime=2 --time_based \
		--size=${SIZE_MB}M 2>&1) &&
	   iops=$(echo "$out" | grep -o 'IOPS=[^,]*' | head -n1) && [ -n "$iops" ]; then
		pass fio-randread "4k QD8 $iops"
	else
		fail fio-randread "fio failed"
		echo "$out" | sed 's/^/    /'
	fi

	# -- ext4 ---------------------------------------------------------------
	mkdir -p "$MNT"
	if run_case mkfs-ext4 "$MKFS_EXT4" -q -F "$dev" &&
	   run_case mount-ext4 mount -t ext4 "$dev" "$MNT"; then
		dd if=/dev/urandom of=/tmp/file bs=1M count=8 2>/dev/null
		sum=$(md5sum < /tmp/file)
		if cp /tmp/file "$MNT/file" && sync && [ "$(md5sum < "$MNT/file")" = "$sum" ]; then
			pass write-file "8 MiB"
		else
			fail write-file "copy or checksum failed"
		fi
		run_case umount-ext4 umount "$MNT"
		run_case e2fsck-clean "$E2FSCK" -fn "$dev"
		echo 3 > /proc/sys/vm/drop_caches
		if mount -t ext4 -o ro "$dev" "$MNT" && [ "$(md5sum < "$MNT/file")" = "$sum" ]; then
			pass remount-verify
		else
			fail remount-verify "file differs after remount"
		fi
		mountpoint_of "$MNT" && umount "$MNT"
	else
		for c in write-file umount-ext4 e2fsck-clean remount-verify; do
			skip $c "no file system"
		done
	fi
fi

# -- detach and stop ------------------------------------------------------------
if [ -e /sys/bus/vdpa/devices/$NAME ]; then
	if run_case vdpa-del "$VDPA" dev del $NAME; then
		if [ -n "$dev" ] && [ -e "/sys/class/block/${dev##*/}" ]; then
			fail vdisk-gone "$dev still present after vdpa dev del"
		else
			pass vdisk-gone
		fi
	fi
else
	skip vdpa-del "device was not added"
fi

kill "$qsd_pid"
i=0
while kill -0 "$qsd_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$qsd_pid" 2>/dev/null; then
	fail qsd-stop "daemon did not exit on SIGTERM"
	kill -9 "$qsd_pid"
elif [ -e /dev/vduse/$NAME ]; then
	fail qsd-stop "/dev/vduse/$NAME still present after the daemon exited"
else
	pass qsd-stop "/dev/vduse/$NAME destroyed"
fi
qsd_pid=""

info "dmesg lines about vduse/vdpa/virtio_blk:"
dmesg | grep -iE 'vduse|vdpa|virtio_blk|vd[a-z]+:|EXT4-fs' | sed 's/^/    /'

summary
