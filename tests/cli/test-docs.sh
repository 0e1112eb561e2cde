#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The docs are in step with --help: README.md holds the exact options block of
# --help, and the man page documents every long option.
set -u
bin=${1:?usage: test-docs.sh path/to/vduse-blkd SOURCE_DIR}
src=${2:?usage: test-docs.sh path/to/vduse-blkd SOURCE_DIR}
npass=0 nfail=0

check() {
	if "${@:2}"; then echo "PASS: $1"; npass=$((npass + 1)); else echo "FAIL: $1"; nfail=$((nfail + 1)); fi
}

help=$("$bin" --help)
opts=$(sed -n '/^Options:$/,/^$/p' <<<"$help" | sed '1d;$d')
[[ -n $opts ]] || { echo "FAIL: no options block in --help"; exit 1; }

readme_has_block() {
	local block
	block=$(sed -n '/^Usage: vduse-blkd --image PATH --name NAME \[OPTIONS\]$/,/^```$/p' \
		"$src/README.md" | sed '1,2d;$d')
	[[ $block == "$opts" ]] || { diff <(echo "$block") <(echo "$opts"); return 1; }
}
check readme-options-block-matches-help readme_has_block

for opt in $(grep -oE -- '--[a-z][a-z-]+' <<<"$opts" | sort -u); do
	man_opt=$(sed 's/-/\\\\-/g' <<<"$opt")
	check "man-documents-$opt" grep -qE -- "$man_opt" "$src/man/vduse-blkd.8"
	check "readme-mentions-$opt" grep -qF -- "$opt" "$src/README.md"
done

echo "$npass passed, $nfail failed, 0 skipped"
[[ $nfail -eq 0 ]]
