#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rbd.sh (systemd guest): a disk that lives in Ceph, on the real kernel.  A
# single-node cluster (tests/ceph/cluster.sh: one monitor, one memstore OSD
# on loopback, auth none) runs in the guest; the unit serves
# IMAGE=rbd:rbd/disk0 with systemd/rbd.conf.example as its drop-in; ext4 on
# the disk, fio verify on a file in it while the OSD is stopped and started
# again: no error, the daemon serves on (same pid), fsck is clean.
. /usr/lib/vmtest/lib.sh

CL=/var/lib/vmtest-ceph
U=vduse-blkd@rdisk
prop() { systemctl show -p "$2" --value "$1"; }

rm -rf $CL
mkdir -p $CL
t0=$(cut -d' ' -f1 /proc/uptime)
if ! bash /usr/lib/vmtest/cluster.sh start $CL 256; then
	fail cluster "cluster.sh start failed: $(tail -n 5 $CL/log/setup.out 2>/dev/null | tr '\n' '|')"
	summary
fi
pass cluster-up "after $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s"

# The client's configuration where librados looks first: the cluster's,
# without the tests' 3 s op timeout (the daemon's default, 30 s, outlasts an
# OSD restart), client log file or admin socket.
sed -e '/rados osd op timeout/d' -e '/^admin socket/d' -e '/^log file/d' $CL/ceph.conf \
	> /etc/ceph/ceph.conf
mkdir -p /etc/systemd/system/$U.service.d
cp /usr/lib/vmtest/rbd.conf.example /etc/systemd/system/$U.service.d/rbd.conf
printf 'IMAGE=rbd:rbd/disk0\nOPTIONS="--queues 2 --serial rdisk"\n' > /etc/vduse-blkd/rdisk.conf
systemctl daemon-reload
run_case rbd-enable-now systemctl enable --now $U
node=$(vdisk_of rdisk)
info "rdisk: $(prop $U StatusText)"
run_case rbd-disk [ -b "$node" ]
run_case rbd-size [ "$(sectors_of "$node")" = $((256 * 2048)) ]
pid=$(prop $U MainPID)
run_case rbd-own-filter sh -c "journalctl -b -u $U --no-pager | grep -q 'seccomp sandbox on'"

run_case rbd-mkfs $MKFS_EXT4 -q -F "$node"
mkdir -p /mnt/r
run_case rbd-mount mount "$node" /mnt/r
fio --name=rbd --filename=/mnt/r/f --rw=randwrite --bs=4k --size=32M --ioengine=libaio \
	--iodepth=8 --direct=1 --verify=crc32c --verify_fatal=1 --time_based --runtime=30 \
	--output=/tmp/fio-rbd.out >/dev/null 2>&1 &
fpid=$!
sleep 5
run_case osd-stop bash /usr/lib/vmtest/cluster.sh stop-osd $CL
sleep 3
run_case osd-start bash /usr/lib/vmtest/cluster.sh start-osd $CL
wait $fpid
rc=$?
if [ $rc -eq 0 ] && grep -q "err= 0" /tmp/fio-rbd.out; then
	pass rbd-fio-no-error "$(grep -o 'IOPS=[^,]*' /tmp/fio-rbd.out | head -n1)"
else
	fail rbd-fio-no-error "fio exited $rc: $(grep -E 'err=|verify' /tmp/fio-rbd.out | head -n3 | tr '\n' '|')"
fi
run_case rbd-same-daemon [ "$(prop $U MainPID)" = "$pid" ]
run_case rbd-no-io-error sh -c "! dmesg | grep -q 'I/O error, dev ${node#/dev/}'"
umount /mnt/r
run_case rbd-fsck $E2FSCK -fn "$node"
run_case rbd-stop systemctl stop $U
# A stop is a teardown (exit 0, the device destroyed), not death by SIGTERM
# in one of librbd's threads (ExecMainStatus 15, the device left behind).
run_case rbd-stop-status-0 [ "$(prop $U ExecMainStatus)" = 0 ]
run_case rbd-stop-destroyed sh -c "[ ! -e /dev/vduse/rdisk ] && journalctl -b -u $U --no-pager | grep -q \"device 'rdisk' destroyed\""
bash /usr/lib/vmtest/cluster.sh stop $CL
summary
