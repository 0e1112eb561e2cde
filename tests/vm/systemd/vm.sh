#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vm.sh (systemd guest): a real VM on the disk, through vhost-vdpa.  The
# unit serves vm0 with --attach=vhost; QEMU 11 of Debian's development
# suite (its tree mounted at /srv/sid: build-sid-qemu.sh) boots a small VM
# (TCG inside TCG) with -blockdev driver=virtio-blk-vhost-vdpa.  The VM
# writes, reads back and compares; the daemon is killed (kill -9) while it
# does I/O; systemd restarts it, it takes the device over, and the VM's
# checks and the image on the host agree.
. /usr/lib/vmtest/lib.sh

SID=/srv/sid
U=vduse-blkd@vm0
N=/usr/lib/vmtest/nested
LOG=/tmp/nested.log
prop() { systemctl show -p "$2" --value "$1"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

if [ ! -x $SID/usr/bin/qemu-system-x86_64 ]; then
	skip vm "no sid QEMU at $SID (build-sid-qemu.sh)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 77
fi
info "$(chroot $SID qemu-system-x86_64 --version | head -n1)"
# As unit.sh did in the first boot (idempotent): the suite may run alone.
systemd-sysusers
systemctl daemon-reload
mkdir -p /etc/vduse-blkd /var/lib/vduse-blkd
run_case vhost-vdpa-module modprobe vhost_vdpa
truncate -s 256M /var/lib/vduse-blkd/vm0.raw
printf 'IMAGE=/var/lib/vduse-blkd/vm0.raw\nOPTIONS="--attach=vhost --queues 1 --serial vm0"\n' \
    > /etc/vduse-blkd/vm0.conf
run_case vm0-start systemctl start $U
vh=
for d in /sys/bus/vdpa/devices/vm0/vhost-vdpa-*; do [ -e "$d" ] && vh=/dev/${d##*/}; done
info "vm0: $(prop $U StatusText), $vh"
if [ ! -c "$vh" ]; then
	fail vhost-node "no /dev/vhost-vdpa-N for vm0"
	summary
fi
pass vhost-node "$vh"
pid=$(prop $U MainPID)

for m in dev proc sys; do mount --bind /$m $SID/$m; done
mount -t tmpfs tmpfs $SID/tmp
mount -t tmpfs tmpfs $SID/mnt
cp $N/vmlinuz $N/initrd.gz $SID/mnt/
t0=$(uptime_s)
# The VM's memory must be a shared file mapping: vhost-vdpa hands VDUSE
# only such memory (the daemon maps it through VDUSE_IOTLB_GET_FD).
chroot $SID qemu-system-x86_64 -accel tcg -cpu max -smp 1 -display none -vga none \
	-m 256M -object memory-backend-memfd,id=mem,size=256M,share=on -machine pc,memory-backend=mem \
	-serial stdio -monitor none -no-reboot -net none \
	-kernel /mnt/vmlinuz -initrd /mnt/initrd.gz -append "console=ttyS0 panic=-1 quiet" \
	-blockdev driver=virtio-blk-vhost-vdpa,node-name=d0,path=$vh,cache.direct=on \
	-device virtio-blk-pci,drive=d0 </dev/null >$LOG 2>&1 &
qpid=$!
# wait_mark MARK SECONDS: until the VM printed MARK (or QEMU ended).
wait_mark() {
	local t=$(($2 * 2))
	while ! grep -q "$1" $LOG; do
		kill -0 $qpid 2>/dev/null || return 1
		[ $t -le 0 ] && return 1
		t=$((t - 1))
		sleep 0.5
	done
}
if wait_mark NESTED-UP 1200; then
	pass vm-boots "its /init after $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.0f", b - a }') s"
else
	fail vm-boots "no NESTED-UP: $(tail -n 5 $LOG | tr '\n' '|')"
fi
wait_mark NESTED-DISK 600 && pass vm-sees-disk "$(grep NESTED-DISK $LOG)" || fail vm-sees-disk "$(tail -n 5 $LOG | tr '\n' '|')"
wait_mark NESTED-LOOP 600
run_case vm-first-write-read grep -q "NESTED-FIRST ok" $LOG
# kill -9 while the VM does I/O: systemd restarts the daemon, it takes over.
sleep 2
# No daemon (MainPID 0): "kill -9 0" would kill this script's own group.
[ "${pid:-0}" -gt 1 ] && kill -9 "$pid"
t1=$(uptime_s)
t=300
while [ $t -gt 0 ]; do
	np=$(prop $U MainPID)
	[ "$np" != 0 ] && [ "$np" != "$pid" ] && [ "$(systemctl is-active $U)" = active ] && break
	t=$((t - 1)); sleep 0.1
done
run_case vm-daemon-restarted sh -c "[ \"\$(systemctl is-active $U)\" = active ] && [ \"\$(systemctl show -p MainPID --value $U)\" != $pid ]"
info "restarted after $(awk -v a="$t1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }') s"
if wait_mark NESTED-EXIT 1200; then
	pass vm-finished "after $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.0f", b - a }') s in all"
else
	fail vm-finished "$(tail -n 5 $LOG | tr '\n' '|')"
fi
wait $qpid 2>/dev/null
sed -n '/NESTED-/p' $LOG | sed 's/^/    /'
run_case vm-io-no-error grep -q "NESTED-LOOP-DONE rounds=24 bad=0" $LOG
sha=$(sed -n 's/^NESTED-SHA //p' $LOG | tr -d '\r')
run_case vm-image-has-vm-data sh -c "[ -n '$sha' ] && [ \"\$(dd if=/var/lib/vduse-blkd/vm0.raw bs=1M count=4 2>/dev/null | sha256sum | cut -d' ' -f1)\" = '$sha' ]"
run_case vm-took-over sh -c "journalctl -b -u $U --no-pager | grep -q 'taking over device'"
for m in mnt tmp sys proc dev; do umount $SID/$m; done
run_case vm0-stop systemctl stop $U
summary
