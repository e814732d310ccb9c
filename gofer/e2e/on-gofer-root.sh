#!/usr/bin/env bash
# on-gofer-root.sh CMD [ARG...]: runs CMD in a Rampart sandbox whose root
# is a fresh, empty host directory written through the gofer in exclusive
# file access (the OCI default: the sandbox is the tree's only writer, so
# fs/gofer caches names and attributes), with the host's top-level
# directories other than /tmp, /proc, /sys, /dev, /run and /var bound
# read-only over it. /tmp is thus a directory of the root: the test
# programs' files live on the cached write path. It is a RUNSC prefix for
# the syscall test runner, so that Linux (the native run) is the oracle:
#
#	make syscall-tests RUNSC=$PWD/gofer/e2e/on-gofer-root.sh T=files,...
#
# (`make syscall-tests-gofer-root` runs the file tests so.) The process
# runs as root with every capability, in the caller's working directory
# (bound too if it is under /var or /run) and with the caller's
# environment. The host directory is deleted afterwards. The exit status
# is CMD's.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNSC_BIN=${GOFER_E2E_RUNSC:-$ROOT/bin/runsc}
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }

WORK=$(mktemp -d /var/tmp/rampart-gofer-root.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# A rootfs where /tmp resolves to a directory gets a tmpfs there
# (fs/rootfs): /tmp is a symlink to a directory that the command, run
# through sh, makes first (sh then execs it: it stays the sandbox's init).
mkdir -p "$WORK/rootfs" "$WORK/bundle" "$WORK/state"
ln -s scratch/tmp "$WORK/rootfs/tmp"

python3 - "$WORK/bundle/config.json" "$WORK/rootfs" "$PWD" "$@" <<'PYEOF'
import json, os, sys
path, rootfs, cwd, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ"]
skip = {"tmp", "proc", "sys", "dev", "run", "var", "lost+found"}
binds = []
for e in sorted(os.listdir("/")):
    p = "/" + e
    if e in skip or os.path.islink(p) or not os.path.isdir(p):
        continue
    binds.append(p)
for top in ("/var", "/run"):
    if cwd == top or cwd.startswith(top + "/"):
        binds.append(cwd)
links = {}
for e in os.listdir("/"):
    p = "/" + e
    if os.path.islink(p):
        links[e] = os.readlink(p)
for name, target in links.items():
    os.symlink(target, os.path.join(rootfs, name))
for d in binds + ["/proc", "/dev", "/sys"]:
    os.makedirs(rootfs + d, exist_ok=True)
mounts = [{"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]} for d in binds]
mounts += [{"destination": "/proc", "type": "proc", "source": "proc"},
           {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
           {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "mode=1777"]}]
cfg = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/sh", "-c", 'mkdir -m 1777 /scratch /scratch/tmp && exec "$@"', "sh"] + args,
                "env": [f"{k}={v}" for k, v in os.environ.items()], "cwd": cwd,
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")}},
    "root": {"path": rootfs, "readonly": False},
    "mounts": mounts,
}
json.dump(cfg, open(path, "w"))
PYEOF

"$RUNSC_BIN" --root="$WORK/state" run --bundle "$WORK/bundle" "gofer-root-$$"
