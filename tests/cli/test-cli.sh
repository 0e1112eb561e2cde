#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Command-line errors of vduse-blkd that need no VDUSE kernel: each must exit
# non-zero with a clear message.  Prints "N passed, N failed, N skipped".
set -u
bin=${1:?usage: test-cli.sh path/to/vduse-blkd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npass=0 nfail=0 nskip=0

# expect CASE EXIT REGEX ARGS...: exit status EXIT and stderr matching REGEX.
expect() {
	local name=$1 want=$2 re=$3
	shift 3
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -eq $want ]] && grep -Eq -- "$re" "$tmp/err" "$tmp/out"; then
		echo "PASS: $name"
		npass=$((npass + 1))
	else
		echo "FAIL: $name: exit $rc (want $want); stderr: $(cat "$tmp/err")"
		nfail=$((nfail + 1))
	fi
}

truncate -s 16M "$tmp/disk.img"
truncate -s 100 "$tmp/tiny.img"
truncate -s $((1024 * 1024 + 7)) "$tmp/odd.img"

expect help 0 "Usage: vduse-blkd --image PATH --name NAME" --help
expect version 0 "^vduse-blkd [0-9]+\.[0-9]+" --version
expect no-args 2 "--image is required"
expect missing-name 2 "--name is required" --image "$tmp/disk.img"
expect unknown-option 2 "unknown option '--frobnicate'" --image "$tmp/disk.img" --name x --frobnicate
expect missing-value 2 "needs a value" --image
expect stray-argument 2 "unexpected argument 'extra'" --image "$tmp/disk.img" --name x extra
expect queues-zero 2 "--queues: '0' is not a number from 1 to 64" --image "$tmp/disk.img" --name x --queues 0
expect queues-junk 2 "--queues: '2x'" --image "$tmp/disk.img" --name x --queues 2x
expect queue-size-not-pow2 2 "not a power of two" --image "$tmp/disk.img" --name x --queue-size 100
expect queue-size-too-big 2 "from 2 to 1024" --image "$tmp/disk.img" --name x --queue-size 2048
expect block-size-bad 2 "--block-size: 1000 is not a power of two" --image "$tmp/disk.img" --name x --block-size 1000
expect block-size-too-big 2 "from 512 to 4096" --image "$tmp/disk.img" --name x --block-size 8192
expect serial-too-long 2 "longer than 20 bytes" --image "$tmp/disk.img" --name x --serial 123456789012345678901
# The backends this build has: io_uring, and whichever others it was built with.
expect backend-unknown 2 "unknown backend 'spdk' \(io_uring(, [a-z_]+)*( or [a-z_]+)?\)" --image "$tmp/disk.img" --name x --backend spdk
expect backend-opt-not-key-value 2 "--backend-opt: 'foo' is not KEY=VALUE" --image "$tmp/disk.img" --name x --backend-opt foo
expect backend-opt-no-key 2 "--backend-opt: '=1' is not KEY=VALUE" --image "$tmp/disk.img" --name x --backend-opt =1
expect backend-opt-unknown 2 "--backend-opt foo: no backend has an option 'foo'" --image "$tmp/disk.img" --name x --backend-opt foo=1
expect backend-opt-of-rbd 2 "--backend-opt ceph-id is an option of the rbd backend \(an rbd:POOL/IMAGE\[@SNAP\] --image\), not of a file image's backend" \
	--image "$tmp/disk.img" --name x --backend-opt ceph-id=admin
expect backend-opt-null-has-none 2 "--backend-opt foo: the null backend has no option 'foo' \(it has none\)" \
	--image "$tmp/disk.img" --name x --backend null --backend-opt foo=1
expect backend-opt-in-help 0 "--backend-opt KEY=VALUE" --help
expect name-with-slash 2 "without '/'" --image "$tmp/disk.img" --name a/b
expect direct-and-buffered 2 "--direct and --buffered: give one of them" --image "$tmp/disk.img" --name x --direct --buffered
expect buffered-in-help 0 "--buffered +open the image without O_DIRECT" --help
expect image-missing 1 "image '$tmp/nope.img': No such file or directory" --image "$tmp/nope.img" --name x
expect image-directory 1 "image .*(Is a directory|not a regular file or block device)" --image "$tmp" --name x
expect image-too-small 1 "100 bytes: too small" --image "$tmp/tiny.img" --name x

if [[ -e /dev/vduse/control ]]; then
	echo "SKIP: no-vduse-module: this machine has /dev/vduse/control"
	nskip=$((nskip + 1))
else
	expect no-vduse-module 1 "/dev/vduse/control is missing: load the vduse module" \
		--image "$tmp/disk.img" --name x
	expect odd-size-warns-first 1 "not a multiple of 512: serving the first 1048576" \
		--image "$tmp/odd.img" --name x
fi

echo "$npass passed, $nfail failed, $nskip skipped"
[[ $nfail -eq 0 ]]
