#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# lib.sh: helpers for guest test scripts (busybox ash, POSIX sh).
# Source it:   . /tests/lib.sh
#
# Results:  pass NAME [note] | fail NAME MSG | skip NAME WHY
#           run_case NAME CMD...   pass if CMD succeeds, else fail
#           summary                prints "N passed, N failed, N skipped" and
#                                  exits 1 if anything failed, else 0
# Helpers:  info MSG, wait_for PATH [TIMEOUT], vdisk_of NAME,
#           wait_vdisk NAME [TIMEOUT], load_module NAME [PARAMS...],
#           load_vhost_vdpa, load_extra NAME, bind_vdpa NAME DRIVER,
#           sectors_of DEV, wait_inflight DEV SECS
#
# run_case captures the command's output: do not use it to start a daemon
# in the background (the capture waits for the daemon's stdout to close).
#
# Busybox's shell runs its own applets before anything on PATH (losetup,
# blkdiscard, fstrim, blockdev, mke2fs...): call the real tools by full path,
# e.g. $LOSETUP or /usr/sbin/losetup. /tmp is a tmpfs: put scratch files
# there; the test scripts themselves live in /tests.

# shellcheck disable=SC2034  # used by the scripts that source this file
LOSETUP=/usr/sbin/losetup
BLKDISCARD=/usr/sbin/blkdiscard
FSTRIM=/usr/sbin/fstrim
BLOCKDEV=/usr/sbin/blockdev
MKFS_EXT4=/usr/sbin/mkfs.ext4
E2FSCK=/usr/sbin/e2fsck
VDPA=/usr/sbin/vdpa
FIO=/usr/bin/fio
QSD=/usr/bin/qemu-storage-daemon
VDUSE_BLKD=/usr/bin/vduse-blkd

# The virtqueue layout (issue 11): VDB_RING=auto|split|packed, from the kernel
# command line (run.sh passes the host's VDB_RING) or from suites.sh for a
# suite named NAME@RING.  Suites add $RING_ARGS (unquoted) to every daemon
# they start; unset, the daemon's own default applies.
RING_ARGS=${VDB_RING:+--ring $VDB_RING}

# The sandbox must never be what kills a healthy daemon: every daemon of
# every suite runs with its seccomp filter recording instead of killing
# (test builds: a forbidden call fails with ENOSYS and is appended to the
# file below), and a suite fails if anything was recorded (summary(), and
# suites.sh once the suite's leftovers are stopped).  VDB_SANDBOX=on on the
# kernel command line runs them in the default mode instead.
export VDUSE_BLKD_TEST_SANDBOX=${VDB_SANDBOX:-record}
export VDUSE_BLKD_TEST_SANDBOX_FILE=/run/vdb-seccomp-records

VM_MODDIR=${VM_MODDIR:-/lib/modules/$(uname -r)}

_n_pass=0
_n_fail=0
_n_skip=0
_failed=""

info() { echo "# $*"; }

pass() {
	_n_pass=$((_n_pass + 1))
	echo "PASS: $1${2:+ ($2)}"
}

fail() {
	_n_fail=$((_n_fail + 1))
	_failed="$_failed $1"
	echo "FAIL: $1${2:+: $2}"
}

skip() {
	_n_skip=$((_n_skip + 1))
	echo "SKIP: $1${2:+: $2}"
}

# run_case NAME CMD [ARGS...]: CMD's output is shown, indented.
run_case() {
	_name=$1
	shift
	_out=$("$@" 2>&1)
	_rc=$?
	[ -n "$_out" ] && printf '%s\n' "$_out" | sed 's/^/    /'
	if [ $_rc -eq 0 ]; then
		pass "$_name"
	else
		fail "$_name" "'$*' exited $_rc"
	fi
	return $_rc
}

# seccomp_records: fail if a daemon recorded a forbidden system call (see above).
seccomp_records() {
	if [ -s "$VDUSE_BLKD_TEST_SANDBOX_FILE" ]; then
		fail seccomp-nothing-recorded "$(sort "$VDUSE_BLKD_TEST_SANDBOX_FILE" | uniq -c)"
		: > "$VDUSE_BLKD_TEST_SANDBOX_FILE"
	fi
}

summary() {
	seccomp_records
	[ -n "$_failed" ] && echo "failed:$_failed"
	echo "$_n_pass passed, $_n_fail failed, $_n_skip skipped"
	[ "$_n_fail" -eq 0 ] && exit 0
	exit 1
}

# wait_for PATH [TIMEOUT-SECONDS=10]: until PATH exists.
wait_for() {
	_p=$1
	_t=$(( ${2:-10} * 10 ))
	while [ ! -e "$_p" ]; do
		[ $_t -le 0 ] && return 1
		_t=$((_t - 1))
		sleep 0.1
	done
	return 0
}

# vdisk_of NAME: print /dev/vdX of the vdpa device NAME (bound to
# virtio_vdpa); fails if it has no block device (yet).
vdisk_of() {
	for _b in /sys/bus/vdpa/devices/"$1"/virtio*/block/*; do
		[ -e "$_b" ] || continue
		echo "/dev/${_b##*/}"
		return 0
	done
	return 1
}

# wait_vdisk NAME [TIMEOUT-SECONDS=10]: vdisk_of, once the node exists.
wait_vdisk() {
	_t=$(( ${2:-10} * 10 ))
	while :; do
		_d=$(vdisk_of "$1") && [ -b "$_d" ] && { echo "$_d"; return 0; }
		[ $_t -le 0 ] && return 1
		_t=$((_t - 1))
		sleep 0.1
	done
}

# sectors_of DEV: size in 512-byte sectors, from sysfs.
sectors_of() {
	cat "/sys/class/block/${1##*/}/size"
}

# load_module NAME [PARAMS...]: insmod from the initramfs module directory.
load_module() {
	_m=$1
	shift
	[ -d "/sys/module/$_m" ] && return 0
	insmod "$VM_MODDIR/$_m.ko" "$@"
}

# load_vhost_vdpa: load vhost_vdpa and its dependencies. Not loaded at boot:
# a new vdpa device binds to the first loaded vdpa bus driver, so after this
# devices may become /dev/vhost-vdpa-N instead of /dev/vdX (use
# /sys/bus/vdpa/devices/NAME/driver_override to choose).
load_vhost_vdpa() {
	while read -r _k; do
		[ -n "$_k" ] || continue
		[ -d "/sys/module/${_k%.ko}" ] && continue
		insmod "$VM_MODDIR/$_k" || return 1
	done < "$VM_MODDIR/modules.vhost_vdpa"
}

# load_extra NAME [PARAMS...]: load module NAME of modules.extra (brd, xfs, nbd)
# with PARAMS, and before it the modules it needs, which that list names first.
load_extra() {
	_x=$1
	shift
	while read -r _k; do
		[ -n "$_k" ] || continue
		if [ "${_k%.ko}" = "$_x" ]; then
			[ -d "/sys/module/$_x" ] || insmod "$VM_MODDIR/$_k" "$@"
			return
		fi
		[ -d "/sys/module/${_k%.ko}" ] || insmod "$VM_MODDIR/$_k" || return 1
	done < "$VM_MODDIR/modules.extra"
	return 1
}

# bind_vdpa NAME DRIVER: rebind vdpa device NAME to DRIVER (virtio_vdpa or
# vhost_vdpa) through driver_override. Seen working on 6.12: virtio_vdpa ->
# vhost_vdpa turns /dev/vdX into /dev/vhost-vdpa-N.
bind_vdpa() {
	_d=/sys/bus/vdpa/devices/$1
	[ -e "$_d" ] || return 1
	echo "$2" > "$_d/driver_override" || return 1
	if [ -e "$_d/driver" ]; then
		_cur=$(readlink "$_d/driver")
		[ "${_cur##*/}" = "$2" ] && return 0
		echo "$1" > "/sys/bus/vdpa/drivers/${_cur##*/}/unbind" || return 1
	fi
	echo "$1" > /sys/bus/vdpa/drivers_probe || return 1
	[ "$(readlink "$_d/driver" 2>/dev/null | sed 's|.*/||')" = "$2" ]
}

# wait_inflight DEV SECS: until the disk has requests in flight.
wait_inflight() {
	_t=$(($2 * 20))
	while [ $_t -gt 0 ]; do
		_if=$(awk '{ print $1 + $2 }' "/sys/block/${1#/dev/}/inflight" 2>/dev/null)
		[ "${_if:-0}" -gt 0 ] && return 0
		_t=$((_t - 1))
		sleep 0.05
	done
	return 1
}

# is_zero FILE: true when FILE holds only zero bytes (busybox cmp has no -n).
is_zero() {
	[ -z "$(tr -d '\000' < "$1" | head -c 1)" ]
}

# daemon_start NAME ARGS...: vduse-blkd --name NAME ARGS... in the background
# (attaching itself: ARGS has --attach), waiting up to 30 s for the node it
# prints.  Sets DPID and NODE; its stdout and stderr are /tmp/NAME.out and
# /tmp/NAME.log.  Returns 1, with its log printed, when it exits first.
daemon_start() {
	_name=$1
	shift
	rm -f "/tmp/$_name.out"
	"$VDUSE_BLKD" $RING_ARGS --name "$_name" "$@" >"/tmp/$_name.out" 2>"/tmp/$_name.log" &
	DPID=$!
	_t=300
	while [ ! -s "/tmp/$_name.out" ]; do
		kill -0 $DPID 2>/dev/null || { cat "/tmp/$_name.log"; return 1; }
		_t=$((_t - 1))
		[ $_t -le 0 ] && return 1
		sleep 0.1
	done
	NODE=$(head -n1 "/tmp/$_name.out")
}

# ring_layout: the layout the suite's daemons run with: VDB_RING, or the
# default that the daemon's --help names.
ring_layout() {
	[ -n "$VDB_RING" ] && { echo "$VDB_RING"; return; }
	"$VDUSE_BLKD" --help 2>&1 | sed -n '/--ring/,/default/ s/.*(default \([a-z]*\)).*/\1/p' | head -n1
}

# vhost_ring: the layout vhost-blk-test takes (--ring) against the suite's
# daemons: packed where they allow nothing else, else split.
vhost_ring() {
	if [ "$(ring_layout)" = packed ]; then echo packed; else echo split; fi
}

# check_ring CASE NAME: the virtio device of vdpa device NAME negotiated the
# layout asked for: VIRTIO_F_RING_PACKED (bit 34, the 35th character of
# /sys/bus/virtio/devices/virtioN/features) set with packed and auto (Linux
# takes packed rings when offered), clear with split.
check_ring() {
	_lay=$(ring_layout)
	case $_lay in
	packed|auto) _want=1 ;;
	split) _want=0 ;;
	*) fail "$1" "cannot tell the ring layout (VDB_RING '$VDB_RING', --help default '$_lay')"; return 1 ;;
	esac
	_f=
	for _v in /sys/bus/vdpa/devices/"$2"/virtio*/features; do
		[ -r "$_v" ] && _f=$(cat "$_v")
	done
	_bit=$(printf '%s' "$_f" | cut -c35)
	if [ "$_bit" = "$_want" ]; then
		pass "$1" "--ring $_lay: RING_PACKED bit '$_bit'"
	else
		fail "$1" "--ring $_lay: RING_PACKED bit is '$_bit', want '$_want' (features $_f)"
	fi
}
