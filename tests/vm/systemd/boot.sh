#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# boot.sh (second boot of the systemd guest): what unit.sh enabled starts at
# boot, with the modules not loaded before: both disks serve on their first
# start, the consumer unit ordered after disk0 ran once it was there, and
# what the first boot wrote through the disk is on it.
. /usr/lib/vmtest/lib.sh

BLKCTL=/usr/local/sbin/vduse-blkctl
KEEP=/var/lib/vmtest
prop() { systemctl show -p "$2" --value "$1"; }

for u in vduse-blkd@disk0 vduse-blkd@disk1; do
	run_case "$u-active-at-boot" [ "$(systemctl is-active $u)" = active ]
	run_case "$u-first-start" [ "$(prop $u NRestarts)" = 0 ]
	info "$u: $(prop $u StatusText)"
done
systemd-analyze critical-chain vduse-blkd@disk0.service --no-pager 2>/dev/null | sed 's/^/    /' | tail -n 6
run_case consumer-ran [ "$(systemctl is-active disk0-user.service)" = active ]
run_case consumer-saw-disk grep -q 'disk0-user: read /dev/vd' $KEEP/consumer
node=$(vdisk_of disk0)
run_case data-of-first-boot sh -c "[ \"\$(dd if=$node bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)\" = \"\$(cat $KEEP/disk0.sha)\" ]"
run_case blkctl-list-both sh -c "[ \$($BLKCTL list | grep -Ec '^disk[01] .*serving') = 2 ]"
bad=$(journalctl -b --no-pager -u 'vduse-blkd@*' -u disk0-user.service -u 'modprobe@*' |
	grep -E "Couldn't stat device|ermission denied|Operation not permitted|Dependency failed|status=1/FAILURE|Failed with result" || true)
run_case journal-clean [ -z "$bad" ]
[ -n "$bad" ] && printf '%s\n' "$bad" | sed 's/^/    /' | head -n 10
summary
