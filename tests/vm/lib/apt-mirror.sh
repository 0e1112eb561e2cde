#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# apt-mirror.sh: print the Debian mirror the machine's apt configuration
# uses (its first source that is not security, updates or backports), for
# the private apt and mmdebstrap runs of tests/vm, which must fetch from the
# same place.  Exit status 1, printing nothing, when apt names none.
set -euo pipefail
# shellcheck disable=SC2016  # apt's own $(FIELD) syntax
uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
	awk '$2 !~ /-(security|updates|backports)$/ && $1 !~ /security/ { print $1; exit }')
[[ -n $uri ]] || exit 1
echo "$uri"
