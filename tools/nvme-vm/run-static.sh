#!/bin/sh
# SPDX-License-Identifier: MIT
# run-static.sh BINARY [ARGS...] - runs a statically linked BINARY in the
# NVMe VM from a copy under /var/tmp: the guest mounts its own tmpfs on
# /tmp, which would hide a binary built in a checkout under /tmp.
set -u
d=$(mktemp -d /var/tmp/urio-vm.XXXXXX) || exit 125
trap 'rm -rf "$d"' EXIT INT TERM
cp "$1" "$d/" || exit 125
b="$d/$(basename "$1")"
shift
"$(dirname "$0")/run-in-nvme-vm.sh" "$b" "$@"
rc=$?
exit $rc
