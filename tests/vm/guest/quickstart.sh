#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# quickstart.sh: the README's first command, inside the throwaway guest.
. /tests/lib.sh
info "inside a QEMU guest running Debian's $(uname -r) kernel, which has VDUSE"
run_case demo sh /tests/demo.sh "$VDUSE_BLKD" /tmp/demo
summary
