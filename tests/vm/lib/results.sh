# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# results.sh: sourced by run.sh and systemd.sh.  suite_result reads one
# suite's result from the markers the guest printed (VM-SUITE-BEGIN NAME,
# VM-SUITE-END NAME STATUS SECONDS, the "N passed, N failed, N skipped"
# line), appends "LABEL KVER REPORTED RESULT SECONDS SUMMARY" to $results
# and prints "vm-run: result: ..." (what scripts/test.sh counts), then
# which checks failed, and why, among the last lines a CI log keeps.
#
# suite_result CONSOLE-TEXT NAME REPORTED-NAME BOOT-RC: returns 1 when the
# suite did not pass (FAIL, TIMEOUT, DIED, NOTRUN).  Needs $label, $kver,
# $results and log().
suite_result() {
	local clean=$1 n=$2 as=$3 rc=$4 body end summ secs=0 src res l
	body=$(printf '%s\n' "$clean" | sed -n "/^VM-SUITE-BEGIN $n\$/,/^VM-SUITE-END $n /p")
	end=$(printf '%s\n' "$body" | sed -n "s/^VM-SUITE-END $n //p" | tail -n1)
	summ=$(printf '%s\n' "$body" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n1 || true)
	if [[ -n $end ]]; then
		read -r src secs <<< "$end"
		case $src in
		0) res=OK ;;
		77) res=SKIP ;;
		*) res=FAIL ;;
		esac
	elif [[ -n $body ]]; then
		case $rc in
		124) res=TIMEOUT ;;
		*) res=DIED ;;
		esac
	else
		res=NOTRUN
	fi
	echo "$label $kver $as $res $secs ${summ:-no summary line}" >> "$results"
	log "result: $label $kver $as $res ${secs}s (${summ:-no summary line})"
	case $res in
	FAIL)
		while IFS= read -r l; do
			if [[ -n $l ]]; then log "  $as: $l"; fi
		done <<< "$(printf '%s\n' "$body" | sed -n '/^FAIL: /p' | sed -n '1,5p')"
		;;
	TIMEOUT|DIED)
		l=$(printf '%s\n' "$body" | sed -n '/^\(PASS\|FAIL\|SKIP\): /p' | sed -n '$p')
		log "  $as: last check reported: ${l:-none}"
		;;
	esac
	[[ $res == OK || $res == SKIP ]]
}
