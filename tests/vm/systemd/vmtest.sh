#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vmtest.sh: run the suites named on the kernel command line
# (vmtest.suites=unit,...: /usr/lib/vmtest/NAME.sh) in this boot of the
# systemd guest, each in its own shell, between the markers run.sh reads
# (VM-SUITE-BEGIN NAME, VM-SUITE-END NAME STATUS SECONDS), then print
# VM-EXIT-CODE and power off.  Started by vmtest.service.
suites=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmtest.suites=*) suites=${arg#vmtest.suites=} ;;
	esac
done
now() { cut -d' ' -f1 /proc/uptime; }
echo "vm-systemd: multi-user.target reached at $(now)s; suites: $suites"
rc=0
for name in ${suites//,/ }; do
	echo "VM-SUITE-BEGIN $name"
	t0=$(now)
	(cd /usr/lib/vmtest && bash "/usr/lib/vmtest/$name.sh")
	src=$?
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	if [ $src != 0 ] && [ $src != 77 ]; then
		rc=1
		echo "----- $name: journal (last 60 lines) -----"
		journalctl -b --no-pager -n 60
		echo "----- end of journal -----"
	fi
	echo "VM-SUITE-END $name $src $secs"
done
sync
echo "VM-EXIT-CODE=$rc"
systemctl --no-block poweroff
