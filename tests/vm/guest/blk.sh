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

# bounce_in_vm_io: is the running daemon's mapping of VDUSE's bounce buffer
# VM_IO ("io" in VmFlags: Linux 6.12.118), which O_DIRECT cannot pin?
bounce_in_vm_io() {
	grep -A30 'anon_inode:\[vduse-domain\]' /proc/$DPID/smaps | grep '^VmFlags:' | grep -q ' io '
}

# direct_case NAME IMAGE BS MODE [ARGS...]: --direct on IMAGE (a file or a block
# device) with --block-size BS.  MODE umem: VDUSE's bounce buffer is the
# daemon's own memory (VDUSE_IOTLB_REG_UMEM), which O_DIRECT pins.  MODE copy:
# the kernel's bounce pages (test hook VDUSE_BLKD_TEST_NO_UMEM); where the
# kernel maps them VM_IO, O_DIRECT into them fails with EFAULT and the daemon
# must copy through its own buffers, saying so once.  Either way every byte
# goes where it belongs and the image is read and written with O_DIRECT.
direct_case() {
	_dn=$1 _dimg=$2 _dbs=$3 _dmode=$4
	shift 4
	[ "$_dmode" = copy ] && export VDUSE_BLKD_TEST_NO_UMEM=1
	start "$_dn" --image "$_dimg" --direct --block-size "$_dbs" "$@"
	_rc=$?
	unset VDUSE_BLKD_TEST_NO_UMEM
	if [ $_rc -ne 0 ]; then
		fail "$_dn" "daemon did not attach"
		return
	fi
	run_case "$_dn-keeps-o_direct" grep -q ", O_DIRECT" "/tmp/$_dn.log"
	dd if=/dev/urandom of=/tmp/dpat bs="$_dbs" count=8 2>/dev/null
	dd if=/tmp/dpat of="$DEV" bs="$_dbs" seek=5 oflag=direct conv=notrunc 2>/dev/null
	run_case "$_dn-write-ok" [ $? -eq 0 ]
	dd if="$DEV" of=/tmp/dback bs="$_dbs" skip=5 count=8 iflag=direct 2>/dev/null
	run_case "$_dn-reads-back" cmp /tmp/dpat /tmp/dback
	dd if="$_dimg" of=/tmp/dimg bs="$_dbs" skip=5 count=8 iflag=direct 2>/dev/null
	run_case "$_dn-lands-in-image" cmp /tmp/dpat /tmp/dimg
	run_case "$_dn-fio-verify" fio_verify "$DEV" "$_dbs" --size=4M
	if [ "$_dmode" = umem ]; then
		run_case "$_dn-bounce-in-daemon-memory" grep -q "bounce buffer .* is the daemon's own memory" "/tmp/$_dn.log"
	elif bounce_in_vm_io; then
		info "$_dn: the kernel maps the bounce buffer VM_IO"
		run_case "$_dn-copies-what-the-kernel-refuses" grep -q "refuses to pin the driver's buffers" "/tmp/$_dn.log"
	else
		info "$_dn: the kernel's bounce pages take O_DIRECT as they are"
		run_case "$_dn-no-copy-needed" sh -c "! grep -q 'refuses to pin' /tmp/$_dn.log"
	fi
	run_case "$_dn-no-io-errors" sh -c "! grep -q 'failed' /tmp/$_dn.log"
	stop
	run_case "$_dn-stop-exits-0" [ $? -eq 0 ]
}

# page_cache_bypassed DIR: reading 24 MiB through the device adds no page
# cache of the image with --direct (fincore), and does without it (the check
# can fail).  DIR: a filesystem on a block device.
page_cache_bypassed() {
	dd if=/dev/urandom of="$1/pc.img" bs=1M count=32 2>/dev/null
	sync
	for _pm in direct buffered; do
		echo 3 > /proc/sys/vm/drop_caches
		if [ $_pm = direct ]; then _pa=--direct; else _pa=; fi
		if ! start "vpc$_pm" --image "$1/pc.img" --block-size 4096 $_pa; then
			fail "page-cache-$_pm" "daemon did not attach"
			continue
		fi
		dd if="$DEV" of=/dev/null bs=1M count=24 iflag=direct 2>/dev/null
		_res=$(fincore --bytes --noheadings --output RES "$1/pc.img")
		info "after reading 24 MiB through the device ($_pm): $_res bytes of the image cached"
		if [ $_pm = direct ]; then
			run_case page-cache-bypassed-with-direct [ "$_res" -lt $((1 << 20)) ]
		else
			run_case page-cache-used-without-direct [ "$_res" -ge $((16 << 20)) ]
		fi
		stop
	done
	rm -f "$1/pc.img"
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
		direct_case d-ext4-4k-uring /mnt/d/img 4096 umem
		direct_case d-ext4-4k-aio-copy /mnt/d/img 4096 copy --backend aio
		page_cache_bypassed /mnt/d
		umount /mnt/d
	else
		skip direct "no ext4 on a 4k loop device"
	fi
	direct_case d-raw4k-aio "$LOOP4" 4096 umem --backend aio
	direct_case d-raw4k-uring-copy "$LOOP4" 4096 copy
	$LOSETUP -d "$LOOP4"
fi

# --- O_DIRECT on 512-byte-sector devices: a raw device, ext4 on one -----------
dd if=/dev/zero of=/tmp/raw512.img bs=1M count=64 2>/dev/null
LOOPR=$($LOSETUP -f --show /tmp/raw512.img)
if [ -b "$LOOPR" ]; then
	direct_case d-raw512-uring "$LOOPR" 512 umem
	direct_case d-raw512-aio-copy "$LOOPR" 512 copy --backend aio
	# A block device is O_DIRECT by default; --buffered keeps the page cache.
	if start vdefault --image "$LOOPR"; then
		run_case raw-default-is-o_direct grep -q ", O_DIRECT" /tmp/vdefault.log
		run_case raw-default-fio-verify fio_verify "$DEV" 4096 --size=4M
		run_case raw-default-no-io-errors sh -c "! grep -q 'failed' /tmp/vdefault.log"
		stop
	else
		fail raw-default "daemon did not attach"
	fi
	if start vbuffered --image "$LOOPR" --buffered; then
		run_case raw-buffered-keeps-page-cache sh -c "! grep -q ', O_DIRECT' /tmp/vbuffered.log"
		run_case raw-buffered-fio-verify fio_verify "$DEV" 4096 --size=4M
		stop
	else
		fail raw-buffered "daemon did not attach"
	fi
	mkdir -p /mnt/e
	if $MKFS_EXT4 -q -F -b 4096 "$LOOPR" && mount -t ext4 "$LOOPR" /mnt/e; then
		dd if=/dev/zero of=/mnt/e/img bs=1M count=32 2>/dev/null
		direct_case d-ext4-512-uring /mnt/e/img 512 umem
		direct_case d-ext4-512-aio-copy /mnt/e/img 512 copy --backend aio
		umount /mnt/e
	else
		skip direct-ext4-512 "no ext4 on a 512-byte-sector loop device"
	fi
	$LOSETUP -d "$LOOPR"
else
	skip direct-raw512 "no loop device"
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
