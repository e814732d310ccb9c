#!/usr/bin/env bash
# set-args.sh DIR ARG...: sets process.args of the bundle DIR's config.json,
# and makes sure of no terminal, a read-only root and a tmpfs on /tmp.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR ARG..." >&2; exit 2; }
python3 - "$1/config.json" "${@:2}" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
with open(path) as f:
    c = json.load(f)
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["readonly"] = True
mounts = [m for m in c.get("mounts", []) if m["destination"] != "/tmp"]
mounts.append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=1777"]})
c["mounts"] = mounts
with open(path, "w") as f:
    json.dump(c, f, indent=1)
PY
