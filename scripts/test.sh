#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# test.sh: run every test of vduse-blkd: unit (cmocka), harness (in-process
# virtio driver against real files), cli, and the real-kernel suites of
# tests/vm in a QEMU guest.  Installs what is missing (as root, Debian 12).
#
# Usage: scripts/test.sh [BUILD_DIR] [-- MESON_TEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
if (($#)) && [[ $1 != -- ]]; then build=$1; shift; fi
[[ ${1:-} == -- ]] && shift

scripts/install-deps.sh
if [[ -d $build/meson-private ]]; then
	meson setup --reconfigure "$build" >/dev/null
else
	meson setup "$build" >/dev/null
fi
ninja -C "$build"

set +e
meson test -C "$build" --print-errorlogs "$@"
rc=$?
set -e

# One closing line for people and CI: counted from meson's own log.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)
    counts[r["result"]] = counts.get(r["result"], 0) + 1
    if r["result"] not in ("OK", "SKIP"):
        print("failed: %s (%s)" % (r["name"], r["result"]))
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print("%d passed, %d failed, %d skipped" % (counts["OK"] + counts["EXPECTEDFAIL"], failed, counts["SKIP"]))
PY
exit $rc
