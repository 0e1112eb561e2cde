#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# attach.sh: vduse-blkd --attach over vdpa netlink, bus driver binding and
# clean shutdown (issue 4).
. /tests/lib.sh

IMG=/tmp/disk.img
dd if=/dev/zero of=$IMG bs=1M count=32 2>/dev/null

# gone NAME: no vdpa device, no VDUSE device left.
gone() {
	[ ! -e "/sys/bus/vdpa/devices/$1" ] && [ ! -e "/dev/vduse/$1" ]
}

# start_attached NAME ARGS...: daemon with --attach..., its stdout line in NODE.
start_attached() { daemon_start "$@"; }

# --- --attach alone gives a working /dev/vdX -------------------------------
if start_attached va --image $IMG --attach; then
	info "--attach printed $NODE"
	run_case attach-virtio-prints-vdX sh -c "case '$NODE' in /dev/vd[a-z]*) [ -b '$NODE' ];; *) false;; esac"
	check_ring attach-ring-layout va
	run_case attach-virtio-bound [ "$(basename "$(readlink /sys/bus/vdpa/devices/va/driver)")" = virtio_vdpa ]
	dd if=/dev/urandom of=/tmp/pat bs=4096 count=64 2>/dev/null
	dd if=/tmp/pat of="$NODE" bs=4096 seek=10 oflag=direct conv=notrunc 2>/dev/null
	dd if=$IMG of=/tmp/back bs=4096 skip=10 count=64 2>/dev/null
	run_case attach-virtio-io cmp /tmp/pat /tmp/back
	kill -TERM $DPID
	wait $DPID
	rc=$?
	run_case attach-sigterm-exits-0 [ $rc -eq 0 ]
	run_case attach-sigterm-leaves-nothing gone va
	grep -q "detached 'va'" /tmp/va.log || cat /tmp/va.log
else
	fail attach-virtio "no node printed: $(cat /tmp/va.log)"
fi

# SIGINT works the same way.
if start_attached vb --image $IMG --attach=virtio; then
	kill -INT $DPID
	wait $DPID
	rc=$?
	run_case attach-sigint-exits-0 [ $rc -eq 0 ]
	run_case attach-sigint-leaves-nothing gone vb
else
	fail attach-sigint "daemon did not attach: $(cat /tmp/vb.log)"
fi

# --- errors: clear message, non-zero exit, nothing left behind ---------------
"$VDUSE_BLKD" $RING_ARGS --image $IMG --name vbad --attach=xen >/tmp/err.out 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "unknown driver 'xen'" /tmp/err.out && gone vbad; then
	pass attach-unknown-driver "exit 2"
else
	fail attach-unknown-driver "exit $rc: $(cat /tmp/err.out)"
fi

# Bus driver module missing: take virtio_vdpa away.
if rmmod virtio_vdpa 2>/dev/null; then
	"$VDUSE_BLKD" $RING_ARGS --image $IMG --name vnod --attach >/tmp/err.out 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "virtio_vdpa bus driver is not loaded (modprobe virtio_vdpa)" /tmp/err.out && gone vnod; then
		pass attach-bus-driver-missing "exit 1"
	else
		fail attach-bus-driver-missing "exit $rc: $(cat /tmp/err.out)"
	fi
	load_module virtio_vdpa
else
	skip attach-bus-driver-missing "cannot unload virtio_vdpa"
fi

# No CAP_NET_ADMIN: root without it cannot use vdpa netlink.
if /usr/bin/setpriv --bounding-set=-net_admin --inh-caps=-net_admin true 2>/dev/null; then
	/usr/bin/setpriv --bounding-set=-net_admin --inh-caps=-net_admin \
		"$VDUSE_BLKD" $RING_ARGS --image $IMG --name vperm --attach >/tmp/err.out 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "permission denied (needs CAP_NET_ADMIN)" /tmp/err.out && gone vperm; then
		pass attach-no-cap-net-admin "exit 1"
	else
		fail attach-no-cap-net-admin "exit $rc: $(cat /tmp/err.out)"
	fi
else
	skip attach-no-cap-net-admin "setpriv cannot drop capabilities here"
fi

# --- vhost: /dev/vhost-vdpa-N ----------------------------------------------
if load_vhost_vdpa; then
	if start_attached vh --image $IMG --attach=vhost; then
		info "--attach=vhost printed $NODE"
		run_case attach-vhost-prints-node sh -c "case '$NODE' in /dev/vhost-vdpa-*) [ -c '$NODE' ];; *) false;; esac"
		run_case attach-vhost-bound [ "$(basename "$(readlink /sys/bus/vdpa/devices/vh/driver)")" = vhost_vdpa ]
		if [ -x /usr/bin/vhost-blk-test ]; then
			vring=$(vhost_ring)
			run_case vhost-driver-io /usr/bin/vhost-blk-test "$NODE" --image $IMG --ring $vring
			run_case vhost-driver-remap /usr/bin/vhost-blk-test "$NODE" --image $IMG --remap --ring $vring
			run_case vhost-driver-no-event-idx-no-indirect /usr/bin/vhost-blk-test "$NODE" \
				--image $IMG --no-event-idx --no-indirect --always-kick --ring $vring
		else
			fail vhost-driver-io "vhost-blk-test is not in the guest"
		fi
		kill -TERM $DPID
		wait $DPID
		rc=$?
		run_case attach-vhost-sigterm-exits-0 [ $rc -eq 0 ]
		run_case attach-vhost-leaves-nothing gone vh
	else
		fail attach-vhost "no node printed: $(cat /tmp/vh.log)"
	fi
	# A VM on packed rings (whatever VDB_RING says): I/O, a remap, both
	# kick and interrupt suppression schemes, a 64-entry ring that wraps
	# often (vhost takes only powers of two), GET_VRING_BASE's packed state;
	# and a driver that keeps to split rings refused with --ring packed.
	if [ -x /usr/bin/vhost-blk-test ] && start_attached vp --image $IMG --attach=vhost --ring packed; then
		run_case vhost-packed-io /usr/bin/vhost-blk-test "$NODE" --image $IMG --ring packed
		run_case vhost-packed-remap /usr/bin/vhost-blk-test "$NODE" --image $IMG --remap --ring packed
		run_case vhost-packed-no-event-idx-no-indirect /usr/bin/vhost-blk-test "$NODE" \
			--image $IMG --no-event-idx --no-indirect --ring packed
		run_case vhost-packed-event-idx-no-always-kick /usr/bin/vhost-blk-test "$NODE" \
			--image $IMG --no-indirect --ring packed --queue-size 64
		/usr/bin/vhost-blk-test "$NODE" --image $IMG --ring split >/tmp/vsplit.out 2>&1
		rc=$?
		if [ $rc -eq 1 ] && grep -q "FAIL: DRIVER_OK" /tmp/vsplit.out &&
			grep -q "did not accept packed rings" /tmp/vp.log && kill -0 $DPID; then
			pass vhost-split-driver-refused-by-ring-packed "$(grep -m1 'did not accept' /tmp/vp.log)"
		else
			fail vhost-split-driver-refused-by-ring-packed "exit $rc: $(grep FAIL /tmp/vsplit.out | head -n 3) | $(tail -n 3 /tmp/vp.log)"
		fi
		# Refused once, the device still serves a driver that takes packed rings.
		run_case vhost-packed-after-refusal /usr/bin/vhost-blk-test "$NODE" --image $IMG --ring packed
		kill -TERM $DPID
		wait $DPID
		run_case vhost-packed-sigterm-exits-0 [ $? -eq 0 ]
	elif [ -x /usr/bin/vhost-blk-test ]; then
		fail vhost-packed "no node printed: $(cat /tmp/vp.log)"
	fi
	# With both bus drivers loaded, --attach (virtio) still gets virtio_vdpa.
	if start_attached vv --image $IMG --attach; then
		run_case attach-virtio-with-vhost-loaded sh -c "case '$NODE' in /dev/vd[a-z]*) true;; *) false;; esac"
		kill -TERM $DPID
		wait $DPID
		run_case attach-virtio-with-vhost-exits-0 [ $? -eq 0 ]
	else
		fail attach-virtio-with-vhost-loaded "$(cat /tmp/vv.log)"
	fi
else
	skip attach-vhost "vhost_vdpa could not be loaded"
fi

summary
