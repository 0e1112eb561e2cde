#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test-cli-nbd.sh path/to/vduse-blkd: the nbd backend's start errors are
# clear and exit 1: nothing at the Unix socket or the TCP port (the URI and
# libnbd's reason named), an export the server does not have (named), an
# --image that is not an NBD URI, a bad nbd-retry-ms; its option given for
# a file image is a command-line error; a writable export without
# multi-conn for 2 queues.  A build without libnbd must say so.  The last
# two need qemu-nbd (skipped, and said, without it).
set -u
bin=${1:?usage: test-cli-nbd.sh path/to/vduse-blkd}
npass=0 nfail=0 nskip=0
tmp=$(mktemp -d)
qemu_pid=
cleanup() { [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

expect() {
	local name=$1 want=$2 re=$3
	shift 3
	timeout 30 "$bin" "$@" --name vdb-nbd-cli --state-dir "$tmp" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -eq $want ]] && grep -Eq -- "$re" "$tmp/err"; then
		echo "PASS: $name"
		npass=$((npass + 1))
	else
		echo "FAIL: $name: exit $rc (want $want); stderr: $(cat "$tmp/err")"
		nfail=$((nfail + 1))
	fi
}

if "$bin" --image nbd://localhost/ --name x 2>&1 | grep -q "this build has no nbd backend"; then
	expect no-libnbd 2 "this build has no nbd backend \(libnbd was not found" --image nbd://localhost/
	echo "$npass passed, $nfail failed (a build without libnbd: nothing more to test)"
	[[ $nfail -eq 0 ]]
	exit
fi

expect unix-socket-absent 1 "nbd: connecting to 'nbd\+unix:///\?socket=$tmp/none.sock': .*connect: No such file or directory" \
	--image "nbd+unix:///?socket=$tmp/none.sock"
# A port nothing listens on: one the kernel just gave and took back.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
expect tcp-refused 1 "nbd: connecting to 'nbd://127.0.0.1:$port/': .*Connection refused" \
	--image "nbd://127.0.0.1:$port/"
expect not-a-uri 1 "--image 'nbd\+tcp://x/': not an NBD URI" --image nbd+tcp://x/
# A file whose name starts with "nbd" is a file, not an NBD URI.
expect file-called-nbd 1 "image 'nbdisk.img': No such file or directory" --image nbdisk.img
expect retry-ms-junk 1 "--backend-opt nbd-retry-ms=soon: not a number of milliseconds" \
	--image "nbd+unix:///?socket=$tmp/none.sock" --backend-opt nbd-retry-ms=soon
expect timeout-ms-junk 1 "--backend-opt nbd-timeout-ms=-1: not a number of milliseconds" \
	--image "nbd+unix:///?socket=$tmp/none.sock" --backend-opt nbd-timeout-ms=-1
expect retry-ms-for-a-file 2 "--backend-opt nbd-retry-ms is an option of the nbd backend" \
	--image /dev/null --backend-opt nbd-retry-ms=100

if command -v qemu-nbd >/dev/null; then
	truncate -s 16M "$tmp/disk.img"
	qemu-nbd --socket="$tmp/q.sock" -f raw -x disk --persistent "$tmp/disk.img" 2>"$tmp/qemu-nbd.log" &
	qemu_pid=$!
	for _ in $(seq 100); do [[ -S $tmp/q.sock ]] && break; sleep 0.1; done
	expect export-refused 1 "nbd: connecting to 'nbd\+unix:///other\?socket=$tmp/q.sock': .*server has no export named 'other'" \
		--image "nbd+unix:///other?socket=$tmp/q.sock"
	# qemu-nbd's default (--shared=1) advertises no multi-conn: one queue only, writable.
	expect no-multi-conn-2-queues 1 "does not advertise multi-conn, so 2 connections .* --queues 1, or --readonly" \
		--image "nbd+unix:///disk?socket=$tmp/q.sock" --queues 2
else
	echo "SKIP: export-refused, no-multi-conn-2-queues: qemu-nbd is missing (Debian: qemu-utils)"
	nskip=$((nskip + 2))
fi
echo "$npass passed, $nfail failed, $nskip skipped"
[[ $nfail -eq 0 ]]
