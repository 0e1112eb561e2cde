#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The docs are in step with --help: docs/operations.md holds the exact options
# block of --help, and the man page documents every long option; the same for
# vduse-blkctl (third argument) and its man page and commands.  The man page
# is the one built (fourth argument: man/vduse-blkd.8 with each backend's
# section, src/backends/NAME/NAME.8, put in): every backend has its section,
# which documents the options --help lists for it.  The README, the front
# page, links every page of docs/, and every link it has to a file of the
# tree leads somewhere.
set -u
bin=${1:?usage: test-docs.sh path/to/vduse-blkd SOURCE_DIR [path/to/vduse-blkctl [BUILT_MAN_PAGE]]}
src=${2:?usage: test-docs.sh path/to/vduse-blkd SOURCE_DIR}
man=${4:-$src/man/vduse-blkd.8}
npass=0 nfail=0

check() {
	if "${@:2}"; then echo "PASS: $1"; npass=$((npass + 1)); else echo "FAIL: $1"; nfail=$((nfail + 1)); fi
}

help=$("$bin" --help)
opts=$(sed -n '/^Options:$/,/^$/p' <<<"$help" | sed '1d;$d')
[[ -n $opts ]] || { echo "FAIL: no options block in --help"; exit 1; }

ops_doc=$src/docs/operations.md
doc_has_block() {
	local block
	block=$(sed -n '/^Usage: vduse-blkd --image PATH --name NAME \[OPTIONS\]$/,/^```$/p' \
		"$ops_doc" | sed '1,2d;$d')
	[[ $block == "$opts" ]] || { diff <(echo "$block") <(echo "$opts"); return 1; }
}
check docs-options-block-matches-help doc_has_block

for opt in $(grep -oE -- '--[a-z][a-z-]+' <<<"$opts" | sort -u); do
	man_opt=$(sed 's/-/\\\\-/g' <<<"$opt")
	check "man-documents-$opt" grep -qE -- "$man_opt" "$man"
	check "docs-mention-$opt" grep -qF -- "$opt" "$ops_doc"
done

# The backends --help lists, each with its options: every folder of
# src/backends/ whose code defines a struct backend_ops is one; each has its
# man-page section (src/backends/NAME/NAME.8), the built page includes it, and
# it documents each option --help lists under that backend.
backends_block=$(sed -n '/^Backends/,/^$/p' <<<"$help" | sed '1d;$d')
listed=$(awk '/^  [a-z_]+ / { print $1 }' <<<"$backends_block")
folders=$(grep -l '^const struct backend_ops backend_' "$src"/src/backends/*/*.c |
	sed 's|.*/src/backends/\([^/]*\)/.*|\1|' | sort -u)
[[ -n $folders ]] || { echo "FAIL: no backend found under $src/src/backends"; exit 1; }
for be in $folders; do
	check "help-lists-backend-$be" grep -qx "$be" <<<"$listed"
done
for be in $listed; do
	check "backend-$be-has-man-section" grep -qx "\.SS $be" "$src/src/backends/$be/$be.8"
	check "man-includes-backend-$be" grep -qx "\.SS $be" "$man"
done
while read -r key be; do
	check "backend-$be-documents-$key" grep -qF -- "${key//-/\\-}" "$src/src/backends/$be/$be.8"
done < <(awk '/^  [a-z_]+ / { be = $1 }
	/^      --backend-opt [a-z][a-z-]*=/ { sub(/^ *--backend-opt /, ""); sub(/=.*/, ""); print $0, be; next }
	/^      --[a-z][a-z-]* / { print substr($1, 3), be }' <<<"$backends_block")

# vduse-blkctl: its man page documents every long option and command of its --help.
ctl=${3:-}
if [[ -n $ctl ]]; then
	ctl_help=$("$ctl" --help)
	for opt in $(sed -n '/^Options:$/,/^$/p' <<<"$ctl_help" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		man_opt=$(sed 's/-/\\\\-/g' <<<"$opt")
		check "blkctl-man-documents-$opt" grep -qE -- "$man_opt" "$src/man/vduse-blkctl.8"
	done
	for cmd in $(sed -n '/^Commands:$/,/^$/p' <<<"$ctl_help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p'); do
		man_cmd=$(sed 's/-/\\\\-/g' <<<"$cmd")
		check "blkctl-man-documents-$cmd" grep -qE -- "^\.BI? $man_cmd" "$src/man/vduse-blkctl.8"
		check "docs-mention-blkctl-$cmd" grep -qE -- "vduse-blkctl .*$cmd" "$ops_doc"
	done
fi

# The front page links every page of the manual, and its links lead somewhere.
for page in "$src"/docs/*.md; do
	check "readme-links-docs/${page##*/}" grep -qF -- "(docs/${page##*/}" "$src/README.md"
done
for link in $(grep -oE '\]\([^)#:]+' "$src/README.md" | sed 's/^](//' | sort -u); do
	check "readme-link-$link-exists" test -e "$src/$link"
done
for page in "$src"/docs/*.md; do
	for link in $(grep -oE '\]\([^)#:]+' "$page" | sed 's/^](//' | sort -u); do
		check "docs/${page##*/}-link-$link-exists" test -e "$src/docs/$link"
	done
done
readme_is_front_page() { [[ $(wc -l < "$src/README.md") -le 250 ]]; }
check readme-at-most-250-lines readme_is_front_page

echo "$npass passed, $nfail failed, 0 skipped"
[[ $nfail -eq 0 ]]
