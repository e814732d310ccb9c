#!/usr/bin/env bash
# on-gofer-tmp.sh CMD [ARG...]: runs CMD in a Rampart sandbox, like
# `runsc do -- CMD`, except that the sandbox's /tmp and /dev/shm are fresh
# host directories bind-mounted read-write (config.json mounts, served by
# gofers), each on the filesystem type the native run has there (/tmp's
# under /var/tmp, /dev/shm's under the host's /dev/shm, a tmpfs):
# the test programs' files then live on the gofer's write path (fs/gofer)
# instead of the sandbox's tmpfs. It is a RUNSC prefix for the syscall test
# runner, so that Linux (the native run) is the oracle for the file tests
# on a writable gofer mount:
#
#	make syscall-tests RUNSC=$PWD/gofer/e2e/on-gofer-tmp.sh \
#		T=files,rename2_xattr,mmap,...
#
# The container's root is the host's / read-only; the process runs as root
# with every capability, in the caller's working directory and with the
# caller's environment, as the runner's native run does. The host
# directories are deleted afterwards. The exit status is CMD's.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNSC_BIN=${GOFER_E2E_RUNSC:-$ROOT/bin/runsc}
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }

WORK=$(mktemp -d /var/tmp/rampart-gofer-tmp.XXXXXX)
SHM=$(mktemp -d /dev/shm/rampart-gofer-shm.XXXXXX)
trap 'rm -rf "$WORK" "$SHM"' EXIT
mkdir -p "$WORK/tmp" "$WORK/bundle" "$WORK/state"
chmod 1777 "$WORK/tmp" "$SHM"

python3 - "$WORK/bundle/config.json" "$WORK/tmp" "$SHM" "$PWD" "$@" <<'EOF'
import json, os, sys
path, tmp, shm, cwd, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ"]
cfg = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                "env": [f"{k}={v}" for k, v in os.environ.items()], "cwd": cwd,
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")}},
    "root": {"path": "/", "readonly": True},
    "mounts": [{"destination": d, "type": "bind", "source": s, "options": ["rbind", "rw"]}
               for d, s in (("/tmp", tmp), ("/dev/shm", shm))],
}
json.dump(cfg, open(path, "w"))
EOF

"$RUNSC_BIN" --root="$WORK/state" run --bundle "$WORK/bundle" "gofer-tmp-$$"
