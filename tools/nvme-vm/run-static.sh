#!/bin/sh
# SPDX-License-Identifier: MIT
# run-static.sh BINARY [ARGS...] - runs a statically linked BINARY in the
# NVMe VM from a copy under /var/tmp: the guest mounts its own tmpfs on
# /tmp, which would hide a binary built in a checkout under /tmp.  A skip
# policy in URIO_TEST_STRICT (a file of allowed skips, or 1) holds in the
# guest too.
set -u
d=$(mktemp -d /var/tmp/urio-vm.XXXXXX) || exit 125
trap 'rm -rf "$d"' EXIT INT TERM
cp "$1" "$d/" || exit 125
b="$d/$(basename "$1")"
shift
strict=${URIO_TEST_STRICT:-}
if [ -f "$strict" ]; then
	cp "$strict" "$d/allowed-skips" || exit 125
	URIO_TEST_STRICT=$d/allowed-skips
	NVME_VM_FILES="${NVME_VM_FILES:-} $URIO_TEST_STRICT"
fi
if [ -n "$strict" ]; then
	export URIO_TEST_STRICT NVME_VM_FILES
	NVME_VM_PASSENV="${NVME_VM_PASSENV:-} URIO_TEST_STRICT"
	export NVME_VM_PASSENV
fi
"$(dirname "$0")/run-in-nvme-vm.sh" "$b" "$@"
rc=$?
# 125: the guest ended without an exit status.  Under TCG the guest
# kernel now and then panics while it boots ("Fatal exception in
# interrupt": twice in some 30 boots here), before BINARY runs: once more.
if [ $rc -eq 125 ]; then
	echo "run-static: the guest died without an exit status; booting once more" >&2
	"$(dirname "$0")/run-in-nvme-vm.sh" "$b" "$@"
	rc=$?
fi
exit $rc
