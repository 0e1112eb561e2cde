#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# nbd.sh: the nbd backend on the real kernel (issue 24).  The guest has no
# network: qemu-nbd runs in the guest, serving a qcow2 image whose backing
# file is a raw image of random data, on a Unix socket.
#
#   attach    vduse-blkd --image nbd+unix:///?socket=... --attach, 2 queues:
#             the node it prints, and the time from its start to that node
#             (a note: the issue's goal is under 100 ms on real hardware;
#             this is TCG)
#   size      the disk has the export's size
#   backing   the disk reads the backing file where nothing was written
#   ext4      mkfs.ext4, fio randwrite + crc32c verify on a file, e2fsck clean
#   kill9     fio randwrite + verify on the disk; kill -9 of the daemon with
#             requests in flight, the same command line again takes the
#             device over (same node): fio ends without error
#   upgrade   SIGHUP under fio randwrite + verify: a live upgrade closes the
#             export's connections and the new image connects again (the
#             image has no fd to hand over), under the seccomp filter and
#             Landlock; the same pid serves again, fio ends without error;
#             no I/O error in dmesg since the ext4 part
#   stop      SIGTERM: exit 0, the state file gone
. /tests/lib.sh

QEMU_NBD=/usr/bin/qemu-nbd
QEMU_IMG=/usr/bin/qemu-img
SDIR=/tmp/vdb-state
SOCK=/tmp/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
NAME=nbd0
IMAGE_MB=64

now() { cut -d' ' -f1 /proc/uptime; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# fio_verify NAME FILE SIZE-MB [ARGS...]: randwrite + crc32c verify; JSON in /tmp/NAME.json.
fio_verify() {
	_n=$1 _f=$2 _mb=$3
	shift 3
	$FIO --name="$_n" --filename="$_f" --ioengine=libaio --direct=1 --rw=randwrite \
		--bs=4k --iodepth=16 --numjobs=2 --size="${_mb}M" --offset_increment="${_mb}M" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting \
		--output-format=json --output="/tmp/$_n.json" "$@" >"/tmp/$_n.err" 2>&1
}

# fio_judge CASE WHAT: the fio_verify CASE in the background (FPID) ended clean.
fio_judge() {
	if wait "$FPID"; then
		pass "$1-fio-verify" "2 x 16 MiB, verified across $2"
	else
		fail "$1-fio-verify" "$(tr '\n' '|' < "/tmp/$1.err" | cut -c1-400)"
	fi
}

for t in $QEMU_NBD $QEMU_IMG $FIO; do
	if [ ! -x "$t" ]; then
		skip nbd "$t is not in the guest (tests/vm/lib/build-initramfs.sh TOOLS)"
		summary
	fi
done
mkdir -p $SDIR /mnt/nbd

# The images: 64 MiB of random data, a qcow2 over it.
dd if=/dev/urandom of=/tmp/base.raw bs=1M count=$IMAGE_MB 2>/dev/null
$QEMU_IMG create -q -f qcow2 -b /tmp/base.raw -F raw /tmp/top.qcow2 ||
	{ fail images "qemu-img create"; summary; }
$QEMU_NBD --socket=$SOCK -f qcow2 --persistent --shared=8 /tmp/top.qcow2 2>/tmp/qemu-nbd.log &
QPID=$!
if ! wait_for $SOCK 20; then
	fail qemu-nbd "no socket after 20 s: $(cat /tmp/qemu-nbd.log)"
	summary
fi

# attach
t0=$(now)
if daemon_start $NAME --image "$URI" --queues 2 --state-dir $SDIR --attach; then
	pass attach "$NODE after $(ms_since "$t0") ms (TCG)"
else
	fail attach "the daemon did not print its node: $(tr '\n' '|' < /tmp/$NAME.log)"
	kill $QPID
	summary
fi

# size
want=$((IMAGE_MB * 2048))
got=$(sectors_of "$NODE")
if [ "$got" = "$want" ]; then pass size "$got sectors"; else fail size "$got sectors, want $want"; fi

# backing: the backing file's data through qcow2, qemu-nbd, libnbd and the disk.
dd if="$NODE" of=/tmp/got bs=64k count=16 skip=100 2>/dev/null
dd if=/tmp/base.raw of=/tmp/want bs=64k count=16 skip=100 2>/dev/null
if cmp -s /tmp/got /tmp/want; then pass backing; else fail backing "the disk differs from base.raw"; fi

# ext4
dmesg_n=$(dmesg | wc -l)
if $MKFS_EXT4 -q -F "$NODE" && mount -t ext4 "$NODE" /mnt/nbd; then
	if fio_verify ext4 /mnt/nbd/f 12; then
		pass ext4-fio-verify "2 x 12 MiB on a file"
	else
		fail ext4-fio-verify "$(tr '\n' '|' < /tmp/ext4.err)"
	fi
	umount /mnt/nbd
	run_case ext4-fsck-clean $E2FSCK -fn "$NODE"
else
	fail ext4 "mkfs.ext4 or mount failed"
fi

# kill9: with requests in flight, then the same command line takes over.
fio_verify kill9 "$NODE" 16 &
FPID=$!
if wait_inflight "$NODE" 20; then
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null
	t0=$(now)
	old=$NODE
	if daemon_start $NAME --image "$URI" --queues 2 --state-dir $SDIR --attach &&
	   [ "$NODE" = "$old" ]; then
		pass kill9-takeover "$NODE again after $(ms_since "$t0") ms"
	else
		fail kill9-takeover "node '$NODE' (was '$old'): $(tr '\n' '|' < /tmp/$NAME.log)"
	fi
else
	fail kill9-inflight "no request in flight within 20 s"
fi
fio_judge kill9 "the kill"

# upgrade: the new image connects again under the old one's sandbox.
served() { grep -c "live upgrade: serving .*again after" "/tmp/$NAME.log"; }
fio_verify upgrade "$NODE" 16 &
FPID=$!
if wait_inflight "$NODE" 20; then
	before=$(served)
	pid0=$DPID
	kill -HUP "$DPID"
	t=300
	while [ "$(served)" -le "$before" ] && kill -0 "$DPID" 2>/dev/null && [ $t -gt 0 ]; do
		t=$((t - 1))
		sleep 0.1
	done
	ms=$(sed -n 's/.*live upgrade: serving .*again after \([0-9]*\) ms.*/\1/p' "/tmp/$NAME.log" | tail -n 1)
	if [ "$(served)" -gt "$before" ] && kill -0 "$pid0" 2>/dev/null; then
		pass upgrade-serving-again "same pid $pid0, serving again after $ms ms"
	else
		fail upgrade-serving-again "$(tail -n 5 /tmp/$NAME.log | tr '\n' '|')"
		# Gone: a new daemon takes the device over, or fio waits for ever.
		kill -0 "$pid0" 2>/dev/null ||
			daemon_start $NAME --image "$URI" --queues 2 --state-dir $SDIR --attach ||
			info "upgrade: the takeover after the failure failed too"
	fi
else
	fail upgrade-inflight "no request in flight within 20 s"
fi
fio_judge upgrade "the live upgrade"

if dmesg | tail -n +$((dmesg_n + 1)) | grep -q -E 'I/O error|blk_update_request'; then
	fail no-io-error-in-dmesg "$(dmesg | tail -n +$((dmesg_n + 1)) | grep -E 'I/O error' | head -n 3 | tr '\n' '|')"
else
	pass no-io-error-in-dmesg
fi

# stop
kill -TERM "$DPID"
wait "$DPID"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$SDIR/$NAME.state" ]; then
	pass stop
else
	fail stop "exit $rc; state dir: $(ls $SDIR)"
fi
kill $QPID
wait $QPID 2>/dev/null
summary
