#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# cluster.sh start DIR [IMAGE_MIB] | stop DIR | stop-osd DIR | start-osd DIR
#
# A throwaway single-node Ceph cluster for tests, from Debian's ceph-mon and
# ceph-osd: one monitor on a free loopback port, one memstore OSD, pool "rbd"
# of size 1 with image "disk0" (IMAGE_MIB, default 64), auth none, every
# file under DIR (which must exist and be empty).  DIR/ceph.conf is the
# configuration for clients.  Daemons run in the foreground of a background
# job with their stdio in DIR/log (a daemon holding our stdout would hang a
# caller's $(...)); they are stopped by PID, and waited for through
# /proc/PID/task (a killed daemon may linger as a zombie here).
#
# With $CLUSTER_OWNER_PID set, start also stops the cluster once that
# process is gone, in case it cannot (killed, or a sanitizer's exit).
#
# Exit status: 0, 1 on failure (the reason on stderr), 77 when the Ceph
# packages are missing (install ceph-mon ceph-osd ceph-common).
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }

need_tools() {
	local t
	for t in ceph-mon ceph-osd monmaptool ceph rbd; do
		command -v "$t" >/dev/null || { echo "cluster.sh: $t is not installed" >&2; exit 77; }
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_gone PID: until the process (and its threads) are gone, at most 10 s.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < 200; i++)); do
		[[ -d /proc/$pid/task ]] && [[ -n $(ls /proc/"$pid"/task 2>/dev/null) ]] || return 0
		# A zombie has no threads left to wait for.
		grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

stop_pid() {
	local f=$1 pid
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" || true; }
	rm -f "$f"
}

ceph_cli() { timeout 20 ceph -c "$dir/ceph.conf" "$@"; }

start_osd() {
	ceph-osd -f -i 0 -c "$dir/ceph.conf" </dev/null >>"$dir/log/osd.out" 2>&1 &
	echo $! >"$dir/osd.pid"
	local i
	for ((i = 0; i < 200; i++)); do
		ceph_cli osd dump 2>/dev/null | grep -q '^osd.0 up' && return 0
		sleep 0.1
	done
	die "the OSD did not come up (see $dir/log)"
}

# $CLUSTER_OWNER_PID: stop the cluster once that process is gone, however it
# ended (a sanitizer's report exits at once, skipping the owner's own stop).
watch_owner() {
	local owner=$1
	(
		exec </dev/null >/dev/null 2>&1
		while [[ -d /proc/$owner ]] && ! grep -q '^State:.*Z' /proc/"$owner"/status; do
			[[ -f $dir/mon.pid ]] || exit 0
			sleep 1
		done
		stop
	) &
	disown
}

start() {
	need_tools
	local port fsid osd_uuid
	port=$(free_port)
	fsid=$(cat /proc/sys/kernel/random/uuid)
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
	cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none

ms bind ipv6 = false
mon allow pool size one = true
mon allow pool delete = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd objectstore = memstore
# A stopped OSD saves its memstore to DIR/osd and loads it again at start.
osd fast shutdown = false
memstore device bytes = 1073741824
osd crush chooseleaf type = 0
osd data = $dir/osd
mon data = $dir/mon
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file =

client mount timeout = 10
rados osd op timeout = 3
mon osd down out interval = 0
[mon]
paxos propose interval = 0.01
mon data avail warn = 1
mon data avail crit = 0
CONF
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$dir/monmap" >"$dir/log/setup.out" 2>&1
	ceph-mon --mkfs -i a --monmap "$dir/monmap" -c "$dir/ceph.conf" >>"$dir/log/setup.out" 2>&1 ||
		die "ceph-mon --mkfs failed (see $dir/log/setup.out)"
	ceph-mon -f -i a -c "$dir/ceph.conf" </dev/null >>"$dir/log/mon.out" 2>&1 &
	echo $! >"$dir/mon.pid"
	local id
	id=$(ceph_cli osd new "$osd_uuid" 2>>"$dir/log/setup.out") || die "ceph osd new failed (see $dir/log)"
	[[ $id == 0 ]] || die "unexpected OSD id '$id'"
	ceph-osd --mkfs -i 0 --osd-uuid "$osd_uuid" -c "$dir/ceph.conf" >>"$dir/log/setup.out" 2>&1 ||
		die "ceph-osd --mkfs failed (see $dir/log/setup.out)"
	start_osd
	ceph_cli osd pool create rbd 8 >>"$dir/log/setup.out" 2>&1 || die "creating pool rbd failed"
	ceph_cli osd pool application enable rbd rbd >>"$dir/log/setup.out" 2>&1 || true
	timeout 20 rbd -c "$dir/ceph.conf" create rbd/disk0 --size "${1:-64}M" >>"$dir/log/setup.out" 2>&1 ||
		die "creating image rbd/disk0 failed (see $dir/log/setup.out)"
	[[ -z ${CLUSTER_OWNER_PID:-} ]] || watch_owner "$CLUSTER_OWNER_PID"
}

stop() {
	stop_pid "$dir/osd.pid"
	stop_pid "$dir/mon.pid"
}

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || die "usage: cluster.sh start|stop|stop-osd|start-osd DIR [IMAGE_MIB]"
dir=$(cd "$dir" && pwd)
case $cmd in
start) start "${3:-}" ;;
stop) stop ;;
stop-osd) stop_pid "$dir/osd.pid" ;;
start-osd) start_osd ;;
*) die "unknown command '$cmd'" ;;
esac
