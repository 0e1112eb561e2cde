#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unit.sh (first boot of the systemd guest): the shipped unit, driven as the
# README's "Under systemd" tells users, with systemd 252 as PID 1.
# The build is installed under /usr/local as `meson install` puts it; the
# vduse modules are not loaded.
#
#   start        enable --now with the modules not loaded returns 0 with the
#                disk there, on the first try (no restart), STATUS= says so
#   privileges   every thread runs as vduse-blkd with CAP_NET_ADMIN alone
#   own-filter   the daemon's own seccomp filter on top of the unit's
#                (Seccomp_filters two more than with --sandbox off: the allowlist
#                and the no-exec filter)
#   blkctl       vduse-blkctl list and stats reach the daemon; the socket is
#                the user's
#   consumer     a unit with Requires= and After= the disk starts after it
#   reload       systemctl reload under fio: same pid, the binary now
#                installed, one filter, no I/O error
#   kill9        kill -9 under fio: restarted, takes the device over, no error
#   watchdog     SIGSTOP under fio: the watchdog aborts it, the restart takes
#                over, no error
#   two-disks    a second disk beside the first
#   stop         stop: exit 0, the disk, state file and socket gone
#   security     systemd-analyze security: exposure at most 2.5
#   journal      nothing failed, nothing refused in the units' journal
# Then it leaves both disks and the consumer enabled for the second boot
# (boot.sh), with a checksum of what it wrote.
. /usr/lib/vmtest/lib.sh

SBIN=/usr/local/sbin
BLKCTL=$SBIN/vduse-blkctl
U=vduse-blkd@disk0
SD=/run/vduse-blkd
KEEP=/var/lib/vmtest
mkdir -p $KEEP

prop() { systemctl show -p "$2" --value "$1"; }
mainpid() { prop "$1" MainPID; }
node_of() { vdisk_of "$1"; }
# fio_verify NAME DEV SECONDS: fio randwrite + crc32c verify in the background
# (FIO_PID), its output in /tmp/fio-NAME.out.
fio_verify() {
	fio --name="$1" --filename="$2" --rw=randwrite --bs=4k --size=32M --direct=1 \
		--ioengine=libaio --iodepth=16 --verify=crc32c --verify_fatal=1 \
		--time_based --runtime="$3" --output=/tmp/fio-"$1".out >/dev/null 2>&1 &
	FIO_PID=$!
}
# fio_done NAME: waits for fio; passes when it exited 0 with err=0.
fio_done() {
	wait "$FIO_PID"
	local rc=$?
	if [ $rc -eq 0 ] && grep -q "err= 0" /tmp/fio-"$1".out && ! grep -q "verify:.*bad" /tmp/fio-"$1".out; then
		pass "$1-fio-no-error" "$(grep -o 'IOPS=[^,]*' /tmp/fio-"$1".out | head -n1)"
	else
		fail "$1-fio-no-error" "fio exited $rc: $(grep -E 'err=|verify' /tmp/fio-"$1".out | head -n3 | tr '\n' '|')"
	fi
}
# wait_new_pid UNIT OLD SECONDS: until UNIT is active with a MainPID other than OLD.
wait_new_pid() {
	local t=$(($3 * 10)) p
	while [ $t -gt 0 ]; do
		p=$(mainpid "$1")
		[ "$p" != 0 ] && [ "$p" != "$2" ] && [ "$(systemctl is-active "$1")" = active ] && { echo "$p"; return 0; }
		t=$((t - 1))
		sleep 0.1
	done
	return 1
}
filters() { awk '/^Seccomp_filters:/ { print $2 }' "/proc/$1/status"; }
since_ms() { awk -v a="$1" '{ printf "%d", ($1 - a) * 1000 }' /proc/uptime; }

# --- start: the README's steps, with the modules not loaded ---------------
if [ -d /sys/module/vduse ]; then
	fail modules-not-loaded-before "vduse is loaded already: the first start proves nothing"
else
	pass modules-not-loaded-before
fi
# `meson install -C build` was done by systemd.sh; then, as the README says:
run_case sysusers systemd-sysusers
run_case daemon-reload systemctl daemon-reload
run_case user-exists id vduse-blkd
mkdir -p /etc/vduse-blkd /var/lib/vduse-blkd
truncate -s 10G /var/lib/vduse-blkd/disk0.raw
printf 'IMAGE=/var/lib/vduse-blkd/disk0.raw\nOPTIONS="--queues 4 --serial disk0"\n' \
    > /etc/vduse-blkd/disk0.conf
t0=$(cut -d' ' -f1 /proc/uptime)
systemctl enable --now vduse-blkd@disk0
rc=$?
ms=$(since_ms "$t0")
node=$(node_of disk0)
if [ $rc -eq 0 ] && [ -b "$node" ]; then
	pass enable-now-first-try "returned 0 after $ms ms with $node there"
else
	fail enable-now-first-try "exit $rc after $ms ms, node '$node': $(journalctl -b -u $U --no-pager | tail -n 5 | tr '\n' '|')"
fi
run_case no-restart-needed [ "$(prop $U NRestarts)" = 0 ]
run_case modules-loaded-by-modprobe-at [ -d /sys/module/vduse ] && [ -d /sys/module/virtio_vdpa ]
st=$(prop $U StatusText)
info "status: $st"
run_case status-serving sh -c "echo '$st' | grep -Eq '^serving 4 queue\(s\) on $node\$'"
systemctl status $U --no-pager | sed 's/^/    /' | head -n 12

# --- privileges: every thread as the user ------------------------------
pid=$(mainpid $U)
uid=$(id -u vduse-blkd)
bad=
for t in /proc/"$pid"/task/*; do
	awk -v u="$uid" '/^Uid:/ { exit !($2 == u && $3 == u && $4 == u && $5 == u) }' "$t/status" ||
		bad="$bad ${t##*/}"
done
run_case all-threads-as-user [ -z "$bad" ]
run_case caps-net-admin-alone grep -q '^CapEff:.*0000000000001000$' "/proc/$pid/status"

# --- own-filter: ours on top of the unit's --------------------------------
printf 'IMAGE=/var/lib/vduse-blkd/disk1.raw\nOPTIONS="--queues 1 --serial disk1 --sandbox off"\n' \
    > /etc/vduse-blkd/disk1.conf
truncate -s 1G /var/lib/vduse-blkd/disk1.raw
if systemctl start vduse-blkd@disk1; then
	unit_only=$(filters "$(mainpid vduse-blkd@disk1)")
	systemctl stop vduse-blkd@disk1
else
	unit_only=
fi
ours=$(filters "$pid")
info "Seccomp_filters: $ours under the unit with the daemon's filter, '$unit_only' with --sandbox off"
# Two of ours: the allowlist, and the filter that keeps data fds from being mapped executable.
run_case own-filter-on-top [ -n "$unit_only" ] && [ "$ours" = $((unit_only + 2)) ]
run_case own-filter-logged sh -c "journalctl -b -u $U --no-pager | grep -q 'seccomp sandbox on'"
run_case no-foreign-filter-taken sh -c "! journalctl -b -u $U --no-pager | grep -q 'kept the filter'"

# --- blkctl: the control socket -------------------------------------------
dd if=/dev/urandom of="$node" bs=64k count=16 oflag=direct 2>/dev/null
$BLKCTL list | sed 's/^/    /'
run_case blkctl-list sh -c "$BLKCTL list | grep -Eq '^disk0 .* $node +serving +$pid\$'"
run_case blkctl-stats sh -c "$BLKCTL stats disk0 --json | grep -q '\"write_ops\"'"
run_case socket-is-users [ "$(stat -c %U:%G:%a $SD/disk0.sock)" = vduse-blkd:vduse-blkd:600 ]

# --- consumer: a unit after the disk ---------------------------------------
cat > /etc/systemd/system/disk0-user.service <<'UNIT'
[Unit]
Description=uses vduse-blkd disk0
Requires=vduse-blkd@disk0.service
After=vduse-blkd@disk0.service

[Service]
Type=oneshot
RemainAfterExit=yes
# The disk is there when this starts: read its first block.
ExecStart=/bin/sh -c 'd=$(ls /sys/bus/vdpa/devices/disk0/virtio*/block/); dd if=/dev/$d of=/dev/null bs=4k count=1 iflag=direct && echo "disk0-user: read /dev/$d at $(cut -d" " -f1 /proc/uptime)s" > /var/lib/vmtest/consumer'

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl stop $U
run_case consumer-starts-disk systemctl start disk0-user.service
run_case consumer-after-disk sh -c "[ \"\$(systemctl is-active $U)\" = active ] && grep -q 'disk0-user: read' $KEEP/consumer"
node=$(node_of disk0)
pid=$(mainpid $U)

# --- reload: a live upgrade under fio, onto a new binary ------------------
fio_verify reload "$node" 12
sleep 2
systemctl reload $U
run_case reload-exit-0 [ $? -eq 0 ]
sleep 2
# A new binary installed (a new inode at the same path), then reload again.
install -m 755 $SBIN/vduse-blkd $SBIN/vduse-blkd.new && mv $SBIN/vduse-blkd.new $SBIN/vduse-blkd
systemctl reload $U
run_case reload-new-binary-exit-0 [ $? -eq 0 ]
t=100
while [ $t -gt 0 ] && [ "$(journalctl -b -u $U --no-pager | grep -c 'live upgrade: serving')" -lt 2 ]; do
	sleep 0.1; t=$((t - 1))
done
journalctl -b -u $U --no-pager | grep 'live upgrade' | sed 's/^/    /'
run_case reload-served-again [ "$(journalctl -b -u $U --no-pager | grep -c 'live upgrade: serving')" -ge 2 ]
run_case reload-same-pid [ "$(mainpid $U)" = "$pid" ]
run_case reload-runs-new-binary [ "$(stat -L -c %i /proc/"$pid"/exe)" = "$(stat -c %i $SBIN/vduse-blkd)" ]
run_case reload-keeps-one-filter [ "$(filters "$pid")" = "$ours" ]
run_case reload-active [ "$(systemctl is-active $U)" = active ]
fio_done reload

# crash_under_fio NAME SIGNAL FIO-SECONDS WAIT-SECONDS LOG-REGEX: the daemon
# gets SIGNAL while fio verifies; systemd must start a new one (a new pid)
# within WAIT-SECONDS, its journal must match LOG-REGEX, fio must see no error.
crash_under_fio() {
	local t0 npid
	# No daemon (MainPID 0): "kill 0" would signal this script's own group.
	if [ "${pid:-0}" -le 1 ]; then
		fail "$1-restarted" "no daemon to signal (MainPID '$pid')"
		return
	fi
	fio_verify "$1" "$node" "$3"
	sleep 2
	kill -"$2" "$pid"
	t0=$(cut -d' ' -f1 /proc/uptime)
	if npid=$(wait_new_pid $U "$pid" "$4"); then
		pass "$1-restarted" "new pid $npid after $(since_ms "$t0") ms"
	else
		fail "$1-restarted" "no new daemon within $4 s"
	fi
	run_case "$1-logged" sh -c "journalctl -b -u $U --no-pager | grep -qiE '$5'"
	fio_done "$1"
	pid=$(mainpid $U)
}
# kill9: a crash; the new daemon takes the device over.
crash_under_fio kill9 KILL 12 20 'taking over device'
# watchdog: a stopped daemon sends no pings; systemd aborts it after
# WatchdogSec=10s, and the restart takes over.
crash_under_fio watchdog STOP 25 40 'watchdog timeout'

# --- two-disks: the second one's image outside /var/lib/vduse-blkd ------------
# Without a drop-in the unit's ProtectSystem=strict leaves it read-only, and
# the daemon serves it read-only; with the README's drop-in, read-write.
mkdir -p /srv/images
truncate -s 1G /srv/images/disk1.raw
printf 'IMAGE=/srv/images/disk1.raw\nOPTIONS="--queues 1 --serial disk1"\n' \
    > /etc/vduse-blkd/disk1.conf
if systemctl start vduse-blkd@disk1; then
	ro_node=$(node_of disk1)
	run_case outside-image-read-only [ "$(cat /sys/block/"${ro_node#/dev/}"/ro)" = 1 ]
	# The README's command: warnings only, with their priority.
	journalctl -u vduse-blkd@disk1 -p warning --no-pager > /tmp/warn 2>&1
	sed 's/^/    /' /tmp/warn
	run_case outside-image-warned grep -q 'serving it read-only' /tmp/warn
	run_case journal-warnings-only sh -c "! grep -q 'info: ' /tmp/warn"
	systemctl stop vduse-blkd@disk1
else
	fail outside-image-read-only "vduse-blkd@disk1 did not start"
fi
mkdir -p /etc/systemd/system/vduse-blkd@disk1.service.d
printf '[Service]\nReadWritePaths=/srv/images/disk1.raw\n' \
    > /etc/systemd/system/vduse-blkd@disk1.service.d/image.conf
# O_DIRECT: the bounce buffer is the daemon's own memory, within LimitMEMLOCK=.
printf 'IMAGE=/srv/images/disk1.raw\nOPTIONS="--queues 1 --serial disk1 --direct"\n' \
    > /etc/vduse-blkd/disk1.conf
systemctl daemon-reload
run_case disk1-enable-now systemctl enable --now vduse-blkd@disk1
node1=$(node_of disk1)
run_case disk1-read-write [ "$(cat /sys/block/"${node1#/dev/}"/ro)" = 0 ]
run_case two-disks-listed sh -c "[ \$($BLKCTL list | grep -Ec '^disk[01] .*serving') = 2 ]"
dd if=/dev/urandom of=/tmp/p1 bs=64k count=16 2>/dev/null
dd if=/tmp/p1 of="$node1" bs=64k oflag=direct 2>/dev/null
run_case disk1-data sh -c "dd if=$node1 bs=64k count=16 iflag=direct 2>/dev/null | cmp - /tmp/p1"
run_case disk1-own-filter [ "$(filters "$(mainpid vduse-blkd@disk1)")" = "$ours" ]
run_case disk1-direct-bounce-in-daemon-memory sh -c "journalctl -b -u vduse-blkd@disk1 --no-pager | grep -q \"bounce buffer .* is the daemon's own memory\""
run_case disk1-direct-nothing-refused sh -c "! journalctl -b -u vduse-blkd@disk1 --no-pager | grep -qE 'refuse'"

# --- stop: everything goes ----------------------------------------------------
run_case stop-exit-0 systemctl stop vduse-blkd@disk1
run_case stop-status-0 [ "$(prop vduse-blkd@disk1 ExecMainStatus)" = 0 ]
run_case stop-disk-gone [ ! -e /sys/bus/vdpa/devices/disk1 ] && [ ! -e /dev/vduse/disk1 ]
run_case stop-no-state-file [ ! -e $SD/disk1.state ]
run_case stop-no-socket [ ! -e $SD/disk1.sock ]
run_case stop-other-disk-serves [ "$(systemctl is-active $U)" = active ]

# --- security ---------------------------------------------------------------
exposure=$(systemd-analyze security $U --no-pager 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
info "systemd-analyze security $U: $exposure"
run_case security-at-most-2.5 awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }'

# --- journal -----------------------------------------------------------------
bad=$(journalctl -b --no-pager -u 'vduse-blkd@*' -u disk0-user.service |
	grep -E "Couldn't stat device|ermission denied|Operation not permitted|Dependency failed|Reload failed|status=1/FAILURE|cannot reach" || true)
run_case journal-clean [ -z "$bad" ]
[ -n "$bad" ] && printf '%s\n' "$bad" | sed 's/^/    /' | head -n 10

# --- for the second boot -------------------------------------------------------
systemctl enable vduse-blkd@disk1 disk0-user.service >/dev/null 2>&1
dd if=/dev/urandom of=/tmp/keep bs=1M count=8 2>/dev/null
dd if=/tmp/keep of="$node" bs=1M oflag=direct 2>/dev/null
sha256sum < /tmp/keep | cut -d' ' -f1 > $KEEP/disk0.sha
rm -f $KEEP/consumer
# The README's stop and reset-failed, on disk0 too (enabled: it starts at boot).
run_case stop-disk0 systemctl stop vduse-blkd@disk0
run_case stop-disk0-status-0 [ "$(prop $U ExecMainStatus)" = 0 ]
run_case stop-disk0-leaves-nothing sh -c "[ ! -e $SD/disk0.state ] && [ ! -e $SD/disk0.sock ] && [ ! -e /dev/vduse/disk0 ]"
run_case stop-disk0-stops-consumer [ "$(systemctl is-active disk0-user.service)" != active ]
run_case reset-failed-disk0 systemctl reset-failed vduse-blkd@disk0
run_case enabled-for-boot sh -c "systemctl is-enabled vduse-blkd@disk0 vduse-blkd@disk1 disk0-user.service | grep -vqx enabled && exit 1; exit 0"
summary
