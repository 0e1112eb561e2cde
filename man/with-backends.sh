#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# with-backends.sh OUT PAGE SECTION...: the man page PAGE with its line
# '.\" @BACKENDS@' replaced by each backend's section (the NAME.8 in its
# folder, src/backends/NAME/), in the order given; written to OUT.
set -eu
out=$1 page=$2
shift 2
while IFS= read -r line; do
	if [ "$line" = '.\" @BACKENDS@' ]; then
		sed '/^\.\\" SPDX-License-Identifier/d' "$@"
	else
		printf '%s\n' "$line"
	fi
done <"$page" >"$out.tmp"
mv "$out.tmp" "$out"
