#!/usr/bin/env bash
# busybox-bundle.sh makes an OCI bundle whose rootfs is busybox-static with a
# few applet links, plus extra files copied into its /bin:
#
#   test/images/busybox-bundle.sh DIR [FILE...]   # FILEs land in DIR/rootfs/bin
#
# config.json comes from `runc spec` (or runsc spec), then: no terminal, a
# read-only root, a tmpfs on /tmp, and process.args ["/bin/true"]. Change the
# args with set-args.sh. Needs busybox-static, python3 and runc or runsc.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 DIR [FILE...]" >&2; exit 2; }
dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/tmp" "$dir/rootfs/proc" "$dir/rootfs/dev" "$dir/rootfs/sys"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in sh true false echo cat ls env id uname sleep; do ln -s busybox "$dir/rootfs/bin/$a"; done
for f in "$@"; do cp "$f" "$dir/rootfs/bin/"; done
if command -v runc >/dev/null; then
	(cd "$dir" && runc spec)
else
	(cd "$dir" && runsc spec)
fi
"$here/set-args.sh" "$dir" /bin/true
