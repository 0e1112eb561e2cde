#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test-cli-rbd.sh path/to/vduse-blkd: the rbd backend's start errors are
# clear, against a throwaway cluster (cluster.sh): no such pool, image or
# snapshot, a malformed spec, an unreachable cluster (within client mount
# timeout), a missing --ceph-conf, no keyring, refused credentials.  A build
# without librbd must say so.  Exit 77 when the Ceph packages are missing.
set -u
bin=${1:?usage: test-cli-rbd.sh path/to/vduse-blkd}
here=$(cd "$(dirname "$0")" && pwd)
npass=0 nfail=0
tmp=$(mktemp -d)
cleanup() { "$here/cluster.sh" stop "$tmp/cluster" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

expect() {
	local name=$1 want=$2 re=$3
	shift 3
	timeout 60 "$bin" "$@" --name vdb-rbd-cli --state-dir "$tmp" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -eq $want ]] && grep -Eq -- "$re" "$tmp/err"; then
		echo "PASS: $name"
		npass=$((npass + 1))
	else
		echo "FAIL: $name: exit $rc (want $want); stderr: $(cat "$tmp/err")"
		nfail=$((nfail + 1))
	fi
}

if ! "$bin" --help | grep -q -- '--ceph-conf'; then
	echo "FAIL: --help does not document --ceph-conf"
	exit 1
fi
if "$bin" --image rbd:p/i --name x 2>&1 | grep -q "this build has no rbd backend"; then
	expect no-librbd 2 "this build has no rbd backend \(librbd was not found" --image rbd:rbd/disk0
	expect no-librbd-backend 2 "--backend rbd: this build has no rbd backend \(librbd was not found" \
		--image rbd:rbd/disk0 --backend rbd
	# Its options are known all the same: they belong to an rbd: image.
	expect no-librbd-ceph-conf 2 "--ceph-conf is an option of the rbd backend" --image /dev/null \
		--ceph-conf /dev/null
	echo "$npass passed, $nfail failed (a build without librbd: nothing more to test)"
	[[ $nfail -eq 0 ]]
	exit
fi

expect bad-spec 1 "--image 'rbd:nopoolslash': not POOL/IMAGE or POOL/IMAGE@SNAP" --image rbd:nopoolslash --ceph-conf /dev/null
expect missing-conf 1 "reading --ceph-conf '$tmp/nope.conf'" --image rbd:rbd/disk0 --ceph-conf "$tmp/nope.conf"
expect ceph-opts-without-rbd 2 "--ceph-conf is an option of the rbd backend \(an rbd:POOL/IMAGE\[@SNAP\] --image\)" \
	--image /dev/null --ceph-conf /dev/null
# The backend's own options, as --backend-opt KEY=VALUE: the same as --KEY VALUE.
expect missing-conf-backend-opt 1 "reading --ceph-conf '$tmp/nope.conf'" --image rbd:rbd/disk0 \
	--backend-opt ceph-conf="$tmp/nope.conf"
expect backend-opt-not-rbds 2 "--backend-opt pool: the rbd backend has no option 'pool' \(its options: ceph-conf, ceph-id\)" \
	--image rbd:rbd/disk0 --backend-opt pool=rbd
expect direct-rbd 2 "--direct: the rbd backend has no page cache to bypass" --image rbd:rbd/disk0 --direct
expect backend-mismatch 2 "is served by the rbd backend, not --backend aio" --image rbd:rbd/disk0 --backend aio

# A cluster nobody answers for: a free port, a short mount timeout.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[global]\nmon host = v2:127.0.0.1:%s\nauth client required = none\nclient mount timeout = 2\n' \
	"$port" >"$tmp/dead.conf"
expect unreachable 1 "did not answer within client mount timeout \(2" --image rbd:rbd/disk0 --ceph-conf "$tmp/dead.conf"

mkdir "$tmp/cluster"
CLUSTER_OWNER_PID=$$ "$here/cluster.sh" start "$tmp/cluster" 16
rc=$?
if [[ $rc -eq 77 ]]; then
	echo "SKIP: the Ceph packages are missing (ceph-mon, ceph-osd, ceph-common)"
	exit 77
fi
[[ $rc -eq 0 ]] || { echo "FAIL: the cluster did not start"; exit 1; }
conf=$tmp/cluster/ceph.conf
expect no-pool 1 "rbd: pool 'nopool': no such pool" --image rbd:nopool/disk0 --ceph-conf "$conf"
expect no-image 1 "rbd: no image 'nosuch' in pool 'rbd'" --image rbd:rbd/nosuch --ceph-conf "$conf"
expect no-snapshot 1 "rbd: no image 'disk0' with snapshot 'snap1' in pool 'rbd'" \
	--image rbd:rbd/disk0@snap1 --ceph-conf "$conf"
# cephx where the cluster has none: with no keyring, and with one it refuses.
sed 's/^auth client required = none/auth client required = cephx/' "$conf" >"$tmp/nokey.conf"
expect no-keyring 1 "rbd: connecting as client.admin: No such file or directory \(wrong credentials, or no keyring" \
	--image rbd:rbd/disk0 --ceph-conf "$tmp/nokey.conf"
printf '[client.nobody]\n\tkey = AQBxuyxlAAAAABAAc9G4dzTzZ3D8ALjzmYYNLw==\n' >"$tmp/bad.keyring"
sed "s|^auth client required = none|auth client required = cephx\nkeyring = $tmp/bad.keyring|" \
	"$conf" >"$tmp/badkey.conf"
expect credentials-refused 1 "rbd: connecting as client.nobody: Permission denied \(wrong credentials" \
	--image rbd:rbd/disk0 --ceph-conf "$tmp/badkey.conf" --ceph-id nobody
# The image opens and is described; only the missing VDUSE module stops it here.
expect opens 1 "(serving 'rbd:rbd/disk0'|/dev/vduse/control|VDUSE)" --image rbd:rbd/disk0 --ceph-conf "$conf"

echo "$npass passed, $nfail failed"
[[ $nfail -eq 0 ]]
