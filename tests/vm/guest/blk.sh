#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# blk.sh: the whole virtio-blk device on a real kernel (issue 5): discard,
# write-zeroes, serial, block size, the aio backend, block devices as images,
# O_DIRECT with misaligned guest I/O, and backend errors.
. /tests/lib.sh

# start NAME ARGS...: daemon attached by itself; DEV gets /dev/vdX.
start() {
	_n=$1
	shift
	daemon_start "$_n" --attach "$@" || return 1
	DEV=$NODE
	SYS=/sys/block/${DEV#/dev/}
}

stop() {
	kill -TERM $DPID
	wait $DPID
}

blocks_of() { stat -c %b "$1"; }

# fio_verify DEV BS [ARGS...]: random writes with crc32c verification.
fio_verify() {
	_dev=$1
	_bs=$2
	shift 2
	$FIO --name=v --filename="$_dev" --ioengine=libaio --direct=1 --rw=randwrite \
		--bs="$_bs" --iodepth=16 --size=16M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --minimal "$@" >/dev/null
}

# --- discard, write-zeroes, serial ------------------------------------------
IMG=/tmp/disk.img
dd if=/dev/zero of=$IMG bs=1M count=64 2>/dev/null
if start vd --image $IMG --serial serial-1234567890; then
	check_ring ring-layout vd
	run_case serial-in-sysfs [ "$(cat $SYS/serial)" = serial-1234567890 ]
	run_case discard-offered [ "$(cat $SYS/queue/discard_max_bytes)" -gt 0 ]
	run_case write-zeroes-offered [ "$(cat $SYS/queue/write_zeroes_max_bytes)" -gt 0 ]
	run_case volatile-write-cache [ "$(cat $SYS/queue/write_cache)" = "write back" ]
	run_case max-segments-from-queue-size [ "$(cat $SYS/queue/max_segments)" -eq 254 ]

	mkdir -p /mnt/t
	$MKFS_EXT4 -q -F -E nodiscard "$DEV" && mount -t ext4 "$DEV" /mnt/t
	dd if=/dev/urandom of=/mnt/t/big bs=1M count=24 2>/dev/null
	sync
	rm /mnt/t/big
	sync
	before=$(blocks_of $IMG)
	$FSTRIM /mnt/t
	sync
	after=$(blocks_of $IMG)
	info "image blocks before fstrim $before, after $after"
	run_case fstrim-shrinks-image [ "$after" -lt $((before - 24 * 1024 * 2 / 2)) ]
	umount /mnt/t

	dd if=/dev/urandom of="$DEV" bs=1M count=4 seek=8 oflag=direct conv=notrunc 2>/dev/null
	$BLKDISCARD -f -z -o $((8 << 20)) -l $((4 << 20)) "$DEV"
	dd if="$DEV" of=/tmp/z1 bs=1M count=4 skip=8 iflag=direct 2>/dev/null
	run_case blkdiscard-z-reads-zeroes is_zero /tmp/z1
	dd if=$IMG of=/tmp/z2 bs=1M count=4 skip=8 2>/dev/null
	run_case blkdiscard-z-zeroes-image is_zero /tmp/z2

	dd if=/dev/urandom of="$DEV" bs=1M count=4 seek=20 oflag=direct conv=notrunc 2>/dev/null
	sync
	b1=$(blocks_of $IMG)
	$BLKDISCARD -f -o $((20 << 20)) -l $((4 << 20)) "$DEV"
	run_case blkdiscard-punches-image [ "$(blocks_of $IMG)" -lt "$b1" ]
	run_case fio-verify-io_uring fio_verify "$DEV" 4k
	stop
	run_case stop-exits-0 [ $? -eq 0 ]
else
	fail start-vd "daemon did not attach"
fi

# Default serial: derived from the image, the same after a restart.
if start vs1 --image $IMG; then
	s1=$(cat $SYS/serial)
	stop
	if start vs2 --image $IMG; then
		s2=$(cat $SYS/serial)
		stop
		info "default serial '$s1'"
		run_case default-serial-stable [ -n "$s1" ] && [ "$s1" = "$s2" ]
	fi
else
	fail default-serial "daemon did not attach"
fi

# --- logical block size 4096 ----------------------------------------------
if start vb4 --image $IMG --block-size 4096; then
	run_case block-size-4096 [ "$(cat $SYS/queue/logical_block_size)" = 4096 ]
	run_case fio-verify-bs4096 fio_verify "$DEV" 4k
	stop
else
	fail block-size-4096 "daemon did not attach"
fi

# --- aio backend -----------------------------------------------------------
if start vaio --image $IMG --backend aio --queues 2; then
	run_case aio-backend-in-use grep -q "backend aio" /tmp/vaio.log
	run_case fio-verify-aio fio_verify "$DEV" 4k --numjobs=2 --offset_increment=16M
	dd if=/dev/urandom of="$DEV" bs=1M count=1 oflag=direct conv=notrunc 2>/dev/null
	$BLKDISCARD -f -z -o 0 -l $((1 << 20)) "$DEV"
	dd if="$DEV" of=/tmp/z3 bs=1M count=1 iflag=direct 2>/dev/null
	run_case aio-write-zeroes is_zero /tmp/z3
	stop
	run_case aio-stop-exits-0 [ $? -eq 0 ]
else
	fail aio-backend "daemon did not attach"
fi

# io_uring disabled by sysctl: the daemon says so and uses aio.
if [ -w /proc/sys/kernel/io_uring_disabled ]; then
	echo 2 > /proc/sys/kernel/io_uring_disabled
	if start vnouring --image $IMG; then
		run_case io_uring-disabled-falls-back-to-aio grep -q "io_uring is unavailable.*using the aio backend" /tmp/vnouring.log
		run_case fio-verify-aio-fallback fio_verify "$DEV" 4k --size=8M
		stop
		run_case aio-fallback-stop-exits-0 [ $? -eq 0 ]
	else
		fail io_uring-disabled "daemon did not attach"
	fi
	"$VDUSE_BLKD" $RING_ARGS --image $IMG --name vforce --backend io_uring >/tmp/err.out 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "io_uring is unavailable here" /tmp/err.out; then
		pass io_uring-disabled-explicit-backend-refused "exit 1"
	else
		fail io_uring-disabled-explicit-backend-refused "exit $rc: $(cat /tmp/err.out)"
	fi
	echo 0 > /proc/sys/kernel/io_uring_disabled
else
	skip io_uring-disabled "no kernel.io_uring_disabled sysctl"
fi

# --- a block device as the image: a loop device ------------------------------
dd if=/dev/zero of=/tmp/loop.img bs=1M count=64 2>/dev/null
LOOP=$($LOSETUP -f --show /tmp/loop.img)
if [ -b "$LOOP" ] && start vloop --image "$LOOP"; then
	run_case loop-capacity [ "$(sectors_of "$DEV")" -eq $((64 * 2048)) ]
	run_case fio-verify-loop fio_verify "$DEV" 4k
	dd if=/dev/urandom of=/tmp/pat bs=4096 count=16 2>/dev/null
	dd if=/tmp/pat of="$DEV" bs=4096 seek=3 oflag=direct conv=notrunc 2>/dev/null
	sync
	dd if=/tmp/loop.img of=/tmp/back bs=4096 skip=3 count=16 2>/dev/null
	run_case loop-data-lands cmp /tmp/pat /tmp/back
	$BLKDISCARD -f -z -o 12288 -l 65536 "$DEV"
	sync
	dd if=/tmp/loop.img of=/tmp/z4 bs=4096 skip=3 count=16 2>/dev/null
	run_case loop-write-zeroes is_zero /tmp/z4
	stop
else
	fail loop-image "no loop device or daemon did not attach"
fi
[ -b "$LOOP" ] && $LOSETUP -d "$LOOP"

# A 4096-byte-sector device refuses a smaller --block-size; the default follows it.
LOOP4=$($LOSETUP -f --show -b 4096 /tmp/loop.img)
if [ -b "$LOOP4" ]; then
	"$VDUSE_BLKD" $RING_ARGS --image "$LOOP4" --name vsmall --block-size 512 >/tmp/err.out 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "smaller than the logical block size 4096" /tmp/err.out; then
		pass block-size-below-device-refused "exit 1"
	else
		fail block-size-below-device-refused "exit $rc: $(cat /tmp/err.out)"
	fi
	if start v4k --image "$LOOP4" --queue-size 64; then
		run_case block-size-follows-device [ "$(cat $SYS/queue/logical_block_size)" = 4096 ]
		run_case topology-physical-block [ "$(cat $SYS/queue/physical_block_size)" = 4096 ]
		run_case seg-max-follows-queue-size [ "$(cat $SYS/queue/max_segments)" -eq 62 ]
		stop
	fi

	# --- O_DIRECT with 512-byte guest I/O on a 4k-sector filesystem ----------
	mkdir -p /mnt/d
	if $MKFS_EXT4 -q -F -b 4096 "$LOOP4" && mount -t ext4 "$LOOP4" /mnt/d; then
		dd if=/dev/zero of=/mnt/d/img bs=1M count=32 2>/dev/null
		# 512-byte blocks: O_DIRECT would need read-modify-write; the page cache serves.
		if start vdio --image /mnt/d/img --direct; then
			run_case direct-small-blocks-use-page-cache grep -q "serving it through the page cache instead" /tmp/vdio.log
			dd if=/dev/urandom of=/tmp/p512 bs=512 count=7 2>/dev/null
			dd if=/tmp/p512 of="$DEV" bs=512 seek=3 oflag=direct conv=notrunc 2>/dev/null
			run_case direct-512-write-ok [ $? -eq 0 ]
			dd if="$DEV" of=/tmp/b512 bs=512 skip=3 count=7 iflag=direct 2>/dev/null
			run_case direct-512-reads-back cmp /tmp/p512 /tmp/b512
			dd if=/mnt/d/img of=/tmp/i512 bs=512 skip=3 count=7 2>/dev/null
			run_case direct-512-lands-in-image cmp /tmp/p512 /tmp/i512
			run_case fio-verify-direct-512 fio_verify "$DEV" 512 --size=4M
			stop
		else
			fail direct "daemon did not attach"
		fi
		# 4096-byte blocks: every request fits O_DIRECT, which stays on.
		if start vdio4k --image /mnt/d/img --direct --block-size 4096; then
			run_case direct-4k-keeps-o_direct grep -q "O_DIRECT" /tmp/vdio4k.log
			run_case fio-verify-direct-4k fio_verify "$DEV" 4k --size=8M
			dd if=/dev/urandom of=/tmp/p4k bs=4096 count=8 2>/dev/null
			dd if=/tmp/p4k of="$DEV" bs=4096 seek=5 oflag=direct conv=notrunc 2>/dev/null
			dd if=/mnt/d/img of=/tmp/i4k bs=4096 skip=5 count=8 iflag=direct 2>/dev/null
			run_case direct-4k-lands-in-image cmp /tmp/p4k /tmp/i4k
			stop
		else
			fail direct-4k "daemon did not attach"
		fi
		umount /mnt/d
	else
		skip direct "no ext4 on a 4k loop device"
	fi
	$LOSETUP -d "$LOOP4"
fi

# --- backend errors: ENOSPC under a sparse image ------------------------------
mkdir -p /mnt/small
mount -t tmpfs -o size=4m tmpfs /mnt/small
truncate -s 64M /mnt/small/sparse.img
if start venospc --image /mnt/small/sparse.img; then
	dd if=/dev/urandom of="$DEV" bs=1M count=16 oflag=direct conv=notrunc 2>/tmp/dd.err
	rc=$?
	run_case enospc-write-fails [ $rc -ne 0 ]
	info "dd: $(tail -n1 /tmp/dd.err)"
	run_case enospc-daemon-alive kill -0 $DPID
	dd if="$DEV" of=/dev/null bs=1M count=2 iflag=direct 2>/dev/null
	run_case enospc-reads-still-work [ $? -eq 0 ]
	rm -f /mnt/small/filler
	dd if=/dev/urandom of=/tmp/pat bs=4096 count=4 2>/dev/null
	dd if=/tmp/pat of="$DEV" bs=4096 count=4 seek=1 oflag=direct conv=notrunc 2>/dev/null
	dd if="$DEV" of=/tmp/back bs=4096 count=4 skip=1 iflag=direct 2>/dev/null
	run_case enospc-small-writes-still-work cmp /tmp/pat /tmp/back
	stop
	run_case enospc-stop-exits-0 [ $? -eq 0 ]
else
	fail enospc "daemon did not attach"
fi
umount /mnt/small

summary
