#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# fuzz.sh: build the libFuzzer targets of tests/fuzz with clang, ASan and
# UBSan in their own build directory, and run each for SECONDS (default 60),
# one after the other (one core each, the machine has few).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: fuzz_vq fuzz_ctrl fuzz_state)
#   FUZZ_BUILD_DIR   build directory (default build-fuzz)
#
# Each target starts from the checked-in corpus (tests/fuzz/corpus/TARGET),
# the seeds gen_seeds writes (the harness's malformed-chain catalogue,
# control-plane programs, state files of both versions) and what earlier
# runs found (BUILD/corpus/TARGET).
# A finding (crash, sanitizer report, leak, broken invariant, timeout) fails
# the run: the input is kept in BUILD/artifacts/TARGET/ and the command to
# reproduce it is printed.  Exit status: 0 all passed, 1 a finding or a
# build failure, 77 clang cannot build fuzzers here.
set -uo pipefail
cd "$(dirname "$0")/.."
src=$PWD

secs=${1:-60}
(($#)) && shift
targets=("$@")
((${#targets[@]})) || targets=(fuzz_vq fuzz_ctrl fuzz_state)
build=${FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
	echo "fuzz.sh: clang with libFuzzer is not installed (apt-get install clang)"
	echo "0 passed, 0 failed, ${#targets[@]} skipped"
	exit 77
fi

if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all \
		>/dev/null || { echo "fuzz.sh: meson setup failed"; echo "0 passed, ${#targets[@]} failed, 0 skipped"; exit 1; }
fi
if ! ninja -C "$build" >/dev/null; then
	ninja -C "$build"
	echo "fuzz.sh: build failed"
	echo "0 passed, ${#targets[@]} failed, 0 skipped"
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

passed=0 failed=0
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/$t
	case $t in
	fuzz_vq) kind=vq ;;
	fuzz_ctrl) kind=ctrl ;;
	fuzz_state) kind=state ;;
	*) echo "fuzz.sh: no target $t"; failed=$((failed + 1)); continue ;;
	esac
	seeds=$build/seeds/$t corpus=$build/corpus/$t art=$build/artifacts/$t
	rm -rf "$seeds"
	mkdir -p "$seeds" "$corpus" "$art"
	"$build/tests/fuzz/gen_seeds" "$kind" "$seeds" >/dev/null
	dirs=("$corpus")
	[[ -d tests/fuzz/corpus/$t ]] && dirs+=("tests/fuzz/corpus/$t")
	dirs+=("$seeds")
	log=$build/$t.log
	start=$SECONDS
	# What the targets found before must stay fixed: replay each reproducer first.
	repros=(tests/fuzz/crash-"$t"-*.bin)
	if [[ -e ${repros[0]} ]] && ! "$bin" "${repros[@]}" >"$build/$t.repro.log" 2>&1; then
		failed=$((failed + 1))
		echo "$t: a reproducer of an earlier finding fails again; log: $build/$t.repro.log"
		grep -E 'ERROR: |invariant broken|SUMMARY|Running: ' "$build/$t.repro.log" | tail -5 | sed 's/^/  /'
		continue
	fi
	# -timeout: one input may not take this long (a hang is a finding).
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p' <<<"$last")
	rate=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
	if ((rc == 0)); then
		passed=$((passed + 1))
		echo "$t: ok, $((SECONDS - start)) s, ${execs:-?} inputs (${rate:-?}/s), ${cov:-?}"
	else
		failed=$((failed + 1))
		echo "$t: FINDING (exit $rc) after $((SECONDS - start)) s; log: $log"
		grep -E 'ERROR: |invariant broken|SUMMARY' "$log" | head -5 | sed 's/^/  /'
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		[[ -n $crash ]] && echo "  input kept: $crash" &&
			echo "  reproduce: $bin $crash"
	fi
done
echo "$passed passed, $failed failed, 0 skipped"
((failed == 0))
