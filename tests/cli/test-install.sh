#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `meson install` puts what an operator needs where systemd and man look:
# both binaries (runnable), both man pages (valid roff, the daemon's with its
# backends' sections), the templated unit
# (pointing at the installed daemon) and the sysusers entry for --user.
set -u
build=${1:?usage: test-install.sh BUILD_DIR PREFIX SBINDIR}
prefix=${2:?}
sbindir=${3:?}
[[ $sbindir == /* ]] || sbindir=$prefix/$sbindir
npass=0 nfail=0
check() {
	if "${@:2}"; then echo "PASS: $1"; npass=$((npass + 1)); else echo "FAIL: $1"; nfail=$((nfail + 1)); fi
}

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if ! out=$(meson install -C "$build" --no-rebuild --destdir "$dest" 2>&1); then
	echo "FAIL: meson install: $out"
	exit 1
fi
root=$dest
check daemon-installed test -x "$root$sbindir/vduse-blkd"
check blkctl-installed test -x "$root$sbindir/vduse-blkctl"
check daemon-runs bash -c "\"$root$sbindir/vduse-blkd\" --version >/dev/null"
check blkctl-runs bash -c "\"$root$sbindir/vduse-blkctl\" --help >/dev/null"
for page in vduse-blkd vduse-blkctl; do
	man=$root$prefix/share/man/man8/$page.8
	check "man-$page-installed" test -s "$man"
	# The daemon's page carries each backend's section (src/backends/NAME/NAME.8).
	[[ $page == vduse-blkd ]] && check "man-$page-has-backends" grep -qx '\.SS io_uring' "$man"
	if command -v groff >/dev/null; then
		check "man-$page-renders" bash -c "groff -man -Tutf8 -ww -z '$man' 2>&1 | { ! grep -q .; }"
	fi
done
unit=$root$prefix/lib/systemd/system/vduse-blkd@.service
check unit-installed test -s "$unit"
check unit-runs-installed-daemon grep -q "^ExecStart=$sbindir/vduse-blkd " "$unit"
check unit-is-notify grep -qx "Type=notify" "$unit"
check sysusers-installed grep -q "vduse-blkd" "$root$prefix/lib/sysusers.d/vduse-blkd.conf"
echo "$npass passed, $nfail failed, 0 skipped"
[[ $nfail -eq 0 ]]
