#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# quickstart.sh: install what is needed, build vduse-blkd, and serve a
# scratch image as a virtio-blk disk: for real where this machine has VDUSE,
# otherwise inside a throwaway QEMU guest running Debian's 6.12 kernel.
# Either way it makes ext4 on the /dev/vdX, writes and reads back, and says
# what it did.  Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[[ -d build/meson-private ]] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "quickstart: built $(build/src/vduse-blkd --version)"

if [[ ! -e /dev/vduse/control ]]; then
	modprobe -q vduse 2>/dev/null && modprobe -q virtio_vdpa 2>/dev/null &&
		modprobe -q virtio_blk 2>/dev/null || true
fi
if [[ -e /dev/vduse/control ]] && [[ -d /sys/bus/vdpa/drivers/virtio_vdpa ]]; then
	echo "quickstart: this machine has VDUSE: serving a scratch image for real"
	exec scripts/demo.sh "$PWD/build/src/vduse-blkd" /var/tmp/vduse-blkd-demo
fi

echo "quickstart: no VDUSE on this machine (kernel $(uname -r)): running the same steps"
echo "quickstart: inside a throwaway QEMU guest with Debian's 6.12 kernel (about a minute)"
VM_ADD="$PWD/scripts/demo.sh:/tests/demo.sh" tests/vm/run.sh build quickstart || rc=$?
tr -d '\r' < build/tests-vm/console-quickstart.log | grep -E '^(demo:|  |PASS|FAIL|#)' || true
exit "${rc:-0}"
