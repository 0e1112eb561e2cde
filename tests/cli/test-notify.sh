#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What a service manager and the journal see of vduse-blkd on a machine
# without VDUSE (the daemon fails at setup): notify-listen plays systemd's
# notify socket.  No READY=1 may arrive, the failure is clear on stderr and
# in STATUS=, every datagram comes from the daemon's own pid; stderr gets
# syslog priority prefixes exactly when $JOURNAL_STREAM names it; --verbose
# takes categories.  The same protocol on a real kernel: tests/vm notify.
# Prints "N passed, N failed, N skipped"; exit 77 when /dev/vduse/control
# exists (the daemon would create a device here).
set -u
bin=${1:?usage: test-notify.sh path/to/vduse-blkd path/to/notify-listen}
listen=${2:?usage: test-notify.sh path/to/vduse-blkd path/to/notify-listen}
tmp=$(mktemp -d)
lpid=
trap '[[ -n $lpid ]] && kill $lpid 2>/dev/null; rm -rf "$tmp"' EXIT
npass=0 nfail=0

check() {
	if "${@:2}"; then echo "PASS: $1"; npass=$((npass + 1)); else echo "FAIL: $1"; nfail=$((nfail + 1)); fi
}

if [[ -e /dev/vduse/control ]]; then
	echo "SKIP: this machine has /dev/vduse/control: the daemon would create a device (tests/vm notify covers it)"
	exit 77
fi
truncate -s 16M "$tmp/disk.img"

# start_listener SOCKET: notify-listen in the background, writing $tmp/notify.
start_listener() {
	rm -f "$tmp/notify"
	"$listen" -t 60 "$1" "$tmp/notify" &
	lpid=$!
	for _ in $(seq 50); do
		grep -q '@listening' "$tmp/notify" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_listener() {
	sleep 0.3   # a datagram sent just before the daemon exited is read
	kill $lpid
	wait $lpid
	lpid=
}

# run_daemon ENV...: the daemon without VDUSE, in the background so its pid is known.
run_daemon() {
	env "$@" "$bin" --image "$tmp/disk.img" --name nt0 >"$tmp/out" 2>"$tmp/err" &
	dpid=$!
	wait $dpid
	rc=$?
}

no_ready() { ! grep -q ' READY=1$' "$tmp/notify"; }
exit_1() { [[ $rc -eq 1 ]] || { echo "  exit $rc"; return 1; }; }
clear_error() { grep -q "/dev/vduse/control is missing: load the vduse module" "$tmp/err"; }
status_failed() { grep -q " STATUS=failed: device nt0 (see the log)$" "$tmp/notify"; }
status_setting_up() { grep -q " STATUS=setting up device nt0" "$tmp/notify"; }
# Every datagram from the daemon's pid (NotifyAccess=main accepts nothing else).
all_from_daemon() {
	local others
	others=$(awk -v p="$dpid" '$2 != 0 && $2 != p' "$tmp/notify")
	[[ -z $others ]] || { echo "  not from $dpid: $others"; return 1; }
	grep -q "^[0-9]* $dpid " "$tmp/notify"
}

for sock in "$tmp/notify.sock" "@vduse-blkd-test-$$"; do
	kind=path
	[[ $sock == @* ]] && kind=abstract
	if ! start_listener "$sock"; then
		check "notify-$kind-listener-starts" false
		continue
	fi
	run_daemon NOTIFY_SOCKET="$sock"
	stop_listener
	sed 's/^/  /' "$tmp/notify"
	check "notify-$kind-exit-1" exit_1
	check "notify-$kind-clear-error" clear_error
	check "notify-$kind-no-ready" no_ready
	check "notify-$kind-status-setting-up" status_setting_up
	check "notify-$kind-status-failed" status_failed
	check "notify-$kind-from-daemon-pid" all_from_daemon
done

# A socket of a kind the daemon does not speak: said once, then setup as usual.
run_daemon NOTIFY_SOCKET=vsock:2:1234
check notify-vsock-warns grep -q "NOTIFY_SOCKET 'vsock:2:1234': Address family not supported" "$tmp/err"
check notify-vsock-still-clear-error clear_error
run_daemon NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=30s
check watchdog-malformed-warns grep -q "WATCHDOG_USEC '30s' or WATCHDOG_PID '' is malformed" "$tmp/err"

# The journal: JOURNAL_STREAM names stderr (DEV:INODE) -> "<N>" prefixes, no program name.
journal_prefixes() {
	local stream
	: >"$tmp/jerr"
	stream=$(stat -c '%d:%i' "$tmp/jerr")
	JOURNAL_STREAM=$stream "$bin" --image "$tmp/disk.img" --name nt0 2>"$tmp/jerr" >/dev/null
	sed 's/^/  /' "$tmp/jerr"
	grep -q '^<6>info: kernel ' "$tmp/jerr" &&
		grep -q '^<3>error: creating VDUSE device .nt0.: /dev/vduse/control is missing' "$tmp/jerr" &&
		! grep -qv '^<[3467]>' "$tmp/jerr"
}
check journal-priority-prefixes journal_prefixes
# Inherited by something whose stderr is elsewhere: plain lines.
plain_elsewhere() {
	JOURNAL_STREAM=1:1 "$bin" --image "$tmp/disk.img" --name nt0 2>"$tmp/perr" >/dev/null
	grep -q '^vduse-blkd: error: creating VDUSE device' "$tmp/perr" && ! grep -q '^<' "$tmp/perr"
}
check journal-stream-of-another-file-is-plain plain_elsewhere
warn_prefix() {
	: >"$tmp/jerr"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/jerr") NOTIFY_SOCKET=vsock:1:1 \
		"$bin" --image "$tmp/disk.img" --name nt0 2>"$tmp/jerr" >/dev/null
	grep -q '^<4>warning: NOTIFY_SOCKET' "$tmp/jerr"
}
check journal-warning-prefix warn_prefix

# --verbose in a release build: categories at run time.
verbose_daemon() {
	"$bin" --image "$tmp/disk.img" --name nt0 --verbose=daemon 2>"$tmp/verr" >/dev/null
	grep -q '^vduse-blkd: debug: service manager: not notified' "$tmp/verr"
}
check verbose-daemon-category verbose_daemon
verbose_other() {
	"$bin" --image "$tmp/disk.img" --name nt0 --verbose=vdpa,ctl 2>"$tmp/verr" >/dev/null
	! grep -q 'debug: service manager' "$tmp/verr"
}
check verbose-other-categories-quiet verbose_other
verbose_all() {
	"$bin" --image "$tmp/disk.img" --name nt0 -v 2>"$tmp/verr" >/dev/null
	grep -q 'debug: service manager' "$tmp/verr"
}
check verbose-all verbose_all
verbose_bad() {
	"$bin" --image "$tmp/disk.img" --name nt0 --verbose=vduse,bogus 2>"$tmp/verr" >/dev/null
	local rc=$?
	[[ $rc -eq 2 ]] && grep -q "\-\-verbose: 'vduse,bogus' is not a list of daemon, vduse" "$tmp/verr"
}
check verbose-unknown-category-is-usage-error verbose_bad

echo "$npass passed, $nfail failed, 0 skipped"
[[ $nfail -eq 0 ]]
