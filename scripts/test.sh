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
# Test hooks (e.g. the sandbox suite's deliberate forbidden call) are compiled
# in; they act only when a test sets their environment variable.
if [[ -d $build/meson-private ]]; then
	meson setup --reconfigure -Dtest_hooks=true "$build" >/dev/null
else
	meson setup -Dtest_hooks=true "$build" >/dev/null
fi
ninja -C "$build"

set +e
meson test -C "$build" --print-errorlogs "$@"
rc=$?
set -e

# One closing line for people and CI: counted from meson's own log.  A
# real-kernel test (vm-KERNEL) boots once and runs several guest suites: each
# suite on each kernel counts as one test, named with its kernel.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, re, sys
result_re = re.compile(r"^vm-run: result: (\S+) (\S+) (\S+) (\S+) (\S+)s \((.*)\)$")
n_ok = n_fail = n_skip = 0
lines = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    output = (r.get("stdout") or "") + "\n" + (r.get("stderr") or "")
    suites = [m.groups() for m in map(result_re.match, output.splitlines()) if m]
    if not suites:
        res = r["result"]
        if res in ("OK", "EXPECTEDFAIL"):
            n_ok += 1
        elif res == "SKIP":
            n_skip += 1
        else:
            n_fail += 1
            lines.append("failed: %s (%s)" % (r["name"], res))
        continue
    for label, kver, suite, res, secs, summ in suites:
        name = "%s on %s (%s)" % (suite, label, kver) if kver != "-" else "%s on %s" % (suite, label)
        if res == "OK":
            n_ok += 1
            lines.append("vm: %s: OK in %ss, %s" % (name, secs, summ))
        elif res == "SKIP":
            n_skip += 1
            lines.append("vm: %s: skipped: %s" % (name, summ))
        else:
            n_fail += 1
            lines.append("failed: vm %s: %s after %ss, %s" % (name, res, secs, summ))
    if r["result"] not in ("OK", "SKIP") and not any(s[3] not in ("OK", "SKIP") for s in suites):
        n_fail += 1
        lines.append("failed: %s (%s), though every suite passed" % (r["name"], r["result"]))
print("\n".join(lines))
print("%d passed, %d failed, %d skipped" % (n_ok, n_fail, n_skip))
PY
exit $rc
