#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# install-deps.sh [--build-only]: install what vduse-blkd needs on Debian 12,
# as root.  Without --build-only also what the real-kernel tests (tests/vm)
# need: QEMU, busybox, fio, vdpa, e2fsprogs, xfsprogs, qemu-storage-daemon,
# dmsetup, mmdebstrap and qemu-img for the systemd guest, and the Ceph daemons
# the rbd backend's tests start (ceph-mon, ceph-osd).
set -euo pipefail

build_pkgs=(build-essential meson ninja-build pkg-config liburing-dev libaio-dev
	libnl-3-dev libnl-genl-3-dev libseccomp-dev libjson-c-dev libcmocka-dev librbd-dev
	libnbd-dev)
vm_pkgs=(qemu-system-x86 qemu-system-common busybox-static fio iproute2 e2fsprogs
	util-linux cpio xz-utils zstd kmod binutils dmsetup xfsprogs)
# The systemd guest (tests/vm/systemd.sh): its Debian root file system is
# built with mmdebstrap, each run boots a qcow2 overlay of it (qemu-img).
vm_pkgs+=(mmdebstrap qemu-utils)
# The rbd backend's tests: a throwaway cluster (tests/ceph/cluster.sh).
vm_pkgs+=(ceph-mon ceph-osd ceph-common)
# The nbd backend's tests: real NBD servers (qemu-nbd from qemu-utils, above).
vm_pkgs+=(nbdkit)
vm_pkgs+=(nbd-client)   # the kernel NBD client, the peer in scripts/bench-nbd.sh
# The fuzz targets: clang with libFuzzer (scripts/fuzz.sh).
vm_pkgs+=(clang libclang-rt-14-dev)

pkgs=("${build_pkgs[@]}")
[[ ${1:-} == --build-only ]] || pkgs+=("${vm_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-deps: everything is installed"
	exit 0
fi
if ((EUID != 0)); then
	echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
