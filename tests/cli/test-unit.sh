#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The systemd unit as meson configured it: systemd-analyze verify finds nothing
# to say about it, and it keeps the promises vduse-blkd(8) makes about crashes,
# reloads and stops.  Exit 77 (skip) without systemd-analyze.
set -u
unit=${1:?usage: test-unit.sh BUILD/vduse-blkd@.service SBINDIR path/to/vduse-blkd}
sbindir=${2:?usage: test-unit.sh BUILD/vduse-blkd@.service SBINDIR path/to/vduse-blkd}
bin=${3:?usage: test-unit.sh BUILD/vduse-blkd@.service SBINDIR path/to/vduse-blkd}
npass=0 nfail=0

check() {
	if "${@:2}"; then echo "PASS: $1"; npass=$((npass + 1)); else echo "FAIL: $1"; nfail=$((nfail + 1)); fi
}

# value SECTION KEY: the value of KEY in [SECTION], empty if absent.
value() {
	awk -v sect="[$1]" -v key="$2" '
		/^\[/ { in_sect = ($0 == sect); next }
		in_sect && index($0, key "=") == 1 { print substr($0, length(key) + 2) }
	' "$unit"
}

# is SECTION KEY WANT: KEY in [SECTION] is exactly WANT.
is() {
	local got
	got=$(value "$1" "$2")
	[[ $got == "$3" ]] || { echo "  [$1] $2=$got, want $2=$3"; return 1; }
}

no_placeholder() { ! grep -n '@[a-z_]*@' "$unit"; }
exec_start_in_sbindir() { [[ $(value Service ExecStart) == "$sbindir/vduse-blkd "* ]]; }
has() { grep -qx "$1" "$unit" || { echo "  missing: $1"; return 1; }; }

check unit-configured no_placeholder
check exec-start-in-sbindir exec_start_in_sbindir
check type-notify is Service Type notify
check notify-access-main is Service NotifyAccess main
check watchdog is Service WatchdogSec 10s
check restart-on-failure is Service Restart on-failure
check restart-sec is Service RestartSec 1s
check usage-error-not-restarted is Service RestartPreventExitStatus 2
# "+": the daemon runs as another uid by then; the unit's sandbox has no CAP_KILL.
check reload-sends-sighup-privileged is Service ExecReload '+/bin/kill -HUP $MAINPID'
check memlock-fits-bounce-buffer is Service LimitMEMLOCK 128M
# The modules before the unit starts (its device allow-list is built then),
# not in ExecStartPre= (too late: "permission denied" on /dev/vduse/control).
for m in vduse virtio_vdpa virtio_blk; do
	check "module-$m-wanted" grep -Eq "^Wants=.*modprobe@$m\\.service" "$unit"
	check "module-$m-before" grep -Eq "^After=.*modprobe@$m\\.service" "$unit"
done
no_exec_start_pre_modprobe() { ! grep -n '^ExecStartPre=.*modprobe' "$unit"; }
check modules-not-loaded-by-unit no_exec_start_pre_modprobe
# The user removes its state file and socket at stop; setup binds the socket
# as the user (no CAP_CHOWN).
check state-dir-group is Service Group vduse-blkd
check state-dir-group-writable is Service RuntimeDirectoryMode 0770
check stop-sigterm-to-daemon is Service KillMode mixed
check start-limit-interval is Unit StartLimitIntervalSec 60s
check start-limit-burst is Unit StartLimitBurst 5
check state-dir-kept is Service RuntimeDirectoryPreserve yes
check state-dir-is-ours is Service RuntimeDirectory vduse-blkd
# Least privilege (vduse-blkd(8), SECURITY MODEL).
check runs-as-user has "ExecStart=$sbindir/vduse-blkd --name %i --image \${IMAGE} --attach --user vduse-blkd \$OPTIONS"
check capabilities is Service CapabilityBoundingSet 'CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SETPCAP'
check no-new-privileges is Service NoNewPrivileges yes
check protect-system is Service ProtectSystem strict
check device-policy is Service DevicePolicy closed
check address-families is Service RestrictAddressFamilies 'AF_NETLINK AF_UNIX'
# seccomp(2): the daemon stacks its own, narrower filter on the unit's.
check syscall-filter is Service SystemCallFilter '@system-service seccomp landlock_create_ruleset landlock_add_rule landlock_restrict_self'

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze-verify: systemd-analyze is not installed"
	echo "$npass passed, $nfail failed, 1 skipped"
	[[ $nfail -eq 0 ]] || exit 1
	exit 77
fi

# verify checks that ExecStart's program exists: point it at the one just built.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=$sbindir/vduse-blkd |ExecStart=$(realpath "$bin") |" "$unit" >"$tmp/vduse-blkd@.service"
verify() {
	# It exits 0 on unknown keys and unparsable values too: anything said is a failure.
	local out
	out=$(cd "$tmp" && systemd-analyze verify --man=no ./vduse-blkd@.service 2>&1)
	local rc=$?
	[[ $rc -eq 0 && -z $out ]] || { echo "  systemd-analyze verify: exit $rc"; sed 's/^/  /' <<<"$out"; return 1; }
}
check systemd-analyze-verify verify

echo "$npass passed, $nfail failed, 0 skipped"
[[ $nfail -eq 0 ]]
