#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# sanitize.sh: build the unit and harness suites with sanitizers, each in its
# own build directory, and run them.
#
# Usage: scripts/sanitize.sh [asan] [tsan]       (default: both)
#   asan   AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer),
#          build-asan; any report fails the test that made it
#   tsan   ThreadSanitizer, build-tsan
#   SANITIZE_CC      compiler (default cc; gcc and clang both work)
#   SANITIZE_PREFIX  prefix of the build directories (default build-)
#
# Prints one closing line "N passed, N failed, N skipped" over all the runs
# and exits non-zero when a test failed or a build broke.
set -uo pipefail
cd "$(dirname "$0")/.."

kinds=("$@")
((${#kinds[@]})) || kinds=(asan tsan)
prefix=${SANITIZE_PREFIX:-build-}
export CC=${SANITIZE_CC:-${CC:-cc}}

# UBSan stops at the first report (the build also says -fno-sanitize-recover),
# ASan/LSan and TSan exit non-zero on a report: meson counts the test failed.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

total_ok=0 total_fail=0 total_skip=0 rc=0
for kind in "${kinds[@]}"; do
	build=$prefix$kind
	case $kind in
	asan) opts=(-Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all
		    -Dc_link_args=-fno-sanitize-recover=all) ;;
	tsan) opts=(-Db_sanitize=thread) ;;
	*) echo "sanitize.sh: unknown kind '$kind' (asan, tsan)"; exit 2 ;;
	esac
	start=$SECONDS
	if [[ ! -f $build/build.ninja ]] &&
	   ! meson setup "$build" -Db_lundef=false "${opts[@]}" >/dev/null; then
		echo "sanitize.sh: $kind: meson setup failed"
		total_fail=$((total_fail + 1)) rc=1
		continue
	fi
	if ! ninja -C "$build" >/dev/null; then
		ninja -C "$build" | tail -20
		echo "sanitize.sh: $kind: build failed"
		total_fail=$((total_fail + 1)) rc=1
		continue
	fi
	meson test -C "$build" --suite unit --suite harness --print-errorlogs \
		--num-processes "${SANITIZE_JOBS:-2}" >"$build/sanitize.log" 2>&1 || rc=1
	read -r ok fail skip < <(python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r["result"] == "SKIP":
        skip += 1
    else:
        fail += 1
        print("failed: %s (%s)" % (r["name"], r["result"]), file=sys.stderr)
print(ok, fail, skip)
PY
	)
	echo "$kind: $ok passed, $fail failed, $skip skipped in $((SECONDS - start)) s (log: $build/sanitize.log)"
	total_ok=$((total_ok + ok)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
done
echo "$total_ok passed, $total_fail failed, $total_skip skipped"
((rc == 0 && total_fail == 0))
