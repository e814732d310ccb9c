#!/usr/bin/env bash
# do-on-gofer-tmp.sh CMD [ARG...]: `runsc do -- CMD` with the sandbox's /tmp
# and /dev/shm on fresh host directories bound read-write through the gofer
# (runsc do --volume), each on the filesystem type the native run has there
# (/tmp's under /var/tmp, /dev/shm's under the host's /dev/shm). Each call
# gets its own directories, as each sandbox gets its own tmpfs otherwise,
# so that tests run in parallel do not see each other's files; they are
# removed afterwards. It is the RUNSC prefix of `make syscall-tests-gofer`.
# The exit status is CMD's.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNSC_BIN=${GOFER_E2E_RUNSC:-$ROOT/bin/runsc}
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }

TMP=$(mktemp -d /var/tmp/rampart-gofer-tmp.XXXXXX) || exit 1
SHM=$(mktemp -d /dev/shm/rampart-gofer-shm.XXXXXX) || { rm -rf "$TMP"; exit 1; }
trap 'rm -rf "$TMP" "$SHM"' EXIT
chmod 1777 "$TMP" "$SHM"
"$RUNSC_BIN" do --volume "$TMP:/tmp" --volume "$SHM:/dev/shm" -- "$@"
