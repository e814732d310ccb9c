#!/usr/bin/env bash
# debian.sh runs a Debian userland (debootstrap --variant=minbase bookworm)
# natively with chroot and in the sandbox as an OCI container (bin/runsc run),
# and requires the same stdout and exit status from both: bash, ls -R, dpkg,
# apt-get, python3 (when the image has it), sha256sum of the image's largest
# files and of a 64 MiB file the container writes into its root overlay, find,
# id, os-release and a sort|uniq pipeline.
#
# The rootfs is cached outside the tree ($DEBIAN_ROOTFS, default
# /var/cache/rampart/debian-minbase). It is built into a temporary directory
# next to it and renamed into place only when debootstrap succeeded, so an
# interrupted build is never used. If it is absent and the mirror cannot be
# reached, the test is skipped with a SKIP line. The last line is
# "N passed, M failed, K skipped".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNSC_BIN=${DEBIAN_RUNSC:-$ROOT/bin/runsc}
CACHE=${DEBIAN_ROOTFS:-/var/cache/rampart/debian-minbase}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
LIMIT=${DEBIAN_TIMEOUT:-90}

passed=0
failed=0
skipped=0
pass() { echo "PASS   $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL   $1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/    /'; done
	failed=$((failed + 1))
}
skip() { echo "SKIP   $1: $2"; skipped=$((skipped + 1)); }
summary() {
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

# build_rootfs: debootstrap into CACHE.tmp.XXXXXX, then rename atomically.
build_rootfs() {
	local parent tmp
	parent=$(dirname "$CACHE")
	mkdir -p "$parent" || return 1
	tmp=$(mktemp -d "$CACHE.tmp.XXXXXX") || return 1
	echo "debian.sh: building $CACHE with debootstrap (once; a few minutes)"
	# An interrupted build leaves nothing half-made behind: debootstrap runs
	# in its own session (so the trap can end all of it) and in the
	# background (so the trap runs at once).
	local dpid
	setsid debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1 </dev/null &
	dpid=$!
	trap 'kill -- -"$dpid" 2>/dev/null; wait "$dpid"; rm -rf "$tmp" "$tmp.log"; exit 130' INT TERM HUP
	if ! wait "$dpid"; then
		trap - INT TERM HUP
		tail -n 20 "$tmp.log" | sed 's/^/    /'
		rm -rf "$tmp" "$tmp.log"
		return 1
	fi
	trap - INT TERM HUP
	rm -f "$tmp.log"
	# Another run may have finished first: keep its tree.
	if ! mv -T "$tmp" "$CACHE" 2>/dev/null; then
		rm -rf "$tmp"
		[ -d "$CACHE" ] || return 1
	fi
}

if [ ! -x "$CACHE/bin/bash" ]; then
	if ! command -v debootstrap >/dev/null; then
		echo "debian.sh: debootstrap is not installed (tools/install-deps.sh test installs it)"
		fail "debian rootfs" "no debootstrap"
		summary
	fi
	if ! curl -fsS -m 15 -o /dev/null "$MIRROR/dists/$SUITE/Release" 2>/dev/null; then
		skip "Debian userland" "mirror $MIRROR unreachable and no cached rootfs at $CACHE"
		summary
	fi
	if ! build_rootfs; then
		fail "debian rootfs" "debootstrap --variant=minbase $SUITE $CACHE $MIRROR failed"
		summary
	fi
fi
RFS=$CACHE

# Bundles and state live under bin/ (never /tmp: the sandbox's /tmp is its own).
mkdir -p "$ROOT/bin"
WORK=$(mktemp -d "$ROOT/bin/debian.XXXXXX")
STATE=$WORK/state
cleanup() {
	for d in "$STATE"/*/; do
		[ -d "$d" ] && timeout 10 "$RUNSC_BIN" --root="$STATE" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

ENVV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C TERM=dumb)

# native CMD: bash -c CMD in a chroot of the rootfs; output in $nout, status $nst.
native() {
	nout=$(cd / && timeout -k 5 "$LIMIT" env -i "${ENVV[@]}" chroot "$RFS" /bin/bash -c "$1" </dev/null 2>"$WORK/nerr")
	nst=$?
}

# sandboxed NAME CMD [RUNSC FLAG...]: bash -c CMD as an OCI container whose
# root is the rootfs (writable: as under runc, its writes reach the image
# unless a flag says --overlay=root); output in $sout, status $sst.
n=0
sandboxed() {
	n=$((n + 1))
	local id="debian-$$-$n" b=$WORK/b$n
	mkdir -p "$b"
	python3 - "$b/config.json" "$RFS" "$2" "${ENVV[@]}" <<'EOF'
import json, sys
path, rootfs, cmd, env = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
json.dump({
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                "args": ["/bin/bash", "-c", cmd], "env": env, "cwd": "/"},
    "root": {"path": rootfs, "readonly": False},
    "hostname": "debian",
}, open(path, "w"))
EOF
	sout=$(timeout -k 5 "$LIMIT" "$RUNSC_BIN" --root="$STATE" "${@:3}" run --bundle "$b" "$id" </dev/null 2>"$WORK/serr")
	sst=$?
}

# same NAME CMD: CMD natively and sandboxed must print the same and exit alike.
same() {
	local name=$1 cmd=$2
	native "$cmd"
	sandboxed "$name" "$cmd"
	if [ "$nst" -ne 0 ]; then
		fail "$name" "natively: status $nst (the test is broken)" "$(head -c 2000 "$WORK/nerr")"
	elif [ "$sst" -ne "$nst" ] || [ "$sout" != "$nout" ]; then
		fail "$name" "status $sst sandboxed, $nst native" \
			"diff native sandboxed:" \
			"$(diff <(printf '%s\n' "$nout") <(printf '%s\n' "$sout") | head -n 40)" \
			"stderr: $(head -c 2000 "$WORK/serr")"
	elif [ -z "$nout" ]; then
		fail "$name" "no output at all (the test is broken)"
	else
		pass "$name"
	fi
}

same "bash -c loop" 'echo $BASH_VERSION; for i in 1 2 3; do echo $i; done'
same "ls -R /usr" 'ls -R /usr > /dev/null; echo $?'
same "dpkg -l" 'dpkg -l; dpkg -l | sha256sum'
same "apt-get --version" 'apt-get --version | head -1'
if [ -x "$RFS/usr/bin/python3" ]; then
	same "python3 -c" "python3 -c 'print(1+1)'"
else
	skip "python3 -c" "the minbase image has no python3"
fi

# The largest files of the image (libc.so.6 among them), read through the gofer.
big=$(cd "$RFS" && find usr -type f -size +1M -printf '%s /%p\n' | sort -rn | head -n 6 | cut -d' ' -f2 | sort)
libc=/usr/lib/x86_64-linux-gnu/libc.so.6
case "$big" in *"$libc"*) ;; *) [ -f "$RFS$libc" ] && big="$big"$'\n'"$libc" ;; esac
if [ "$(printf '%s\n' "$big" | grep -c .)" -lt 4 ]; then
	fail "sha256sum of large files" "fewer than 4 files over 1 MiB in the image: $big"
else
	same "sha256sum of large files" "sha256sum $(printf '%s ' $big); stat -c '%s %n' $(printf '%s ' $big)"
fi

# 64 MiB written into the root and removed again, natively and in the
# sandbox (whose writes reach the image).
BIGF=/root/rampart-64m
same "64 MiB written and read back" "seq 1 20000000 | head -c 67108864 > $BIGF; sync; stat -c %s $BIGF; sha256sum $BIGF; tail -c 100 $BIGF | od -c | tail -3; rm -f $BIGF"
if [ -e "$RFS$BIGF" ]; then fail "64 MiB removed again" "still in the image: $(ls -l "$RFS$BIGF" 2>&1)"; fi
rm -f "$RFS$BIGF"
# Under --overlay=root a sandbox-only run keeps the file: it must stay in
# the overlay's memory, out of the image.
sandboxed "overlay" "seq 1 20000000 | head -c 67108864 > $BIGF && sha256sum $BIGF" --overlay=root
want=$(printf '%s\n' "$nout" | grep " $BIGF\$")
if [ "$sst" -eq 0 ] && [ -n "$want" ] && [ "$sout" = "$want" ] && [ ! -e "$RFS$BIGF" ]; then
	pass "64 MiB stays in the overlay, the image is unchanged"
else
	fail "64 MiB stays in the overlay, the image is unchanged" "status $sst" "stdout: $sout" "want:   $want" \
		"in the image: $(ls -l "$RFS$BIGF" 2>&1)" "$(head -c 2000 "$WORK/serr")"
	rm -f "$RFS$BIGF"
fi

same "find /usr -type f | wc -l" 'find /usr -type f | wc -l'
same "id" 'id'
same "cat /etc/os-release" 'cat /etc/os-release'
same "sort | uniq -c | head" "find /usr/share /usr/lib -type f | sed -n 's/.*\\.\\([a-z0-9]*\\)\$/\\1/p' | sort | uniq -c | sort -rn | head"
same "bash builtins and subshells" 'x=$(printf "%s\n" c a b | sort | tr "\n" " "); echo "$x"; (cd /etc && echo $PWD); type -t ls; echo ${#PATH}'

# Nothing left: no state, no sandbox process of this test.
left=$(ls "$STATE" 2>/dev/null)
procs=$(pgrep -f "root=$STATE" || true)
if [ -z "$left" ] && [ -z "$procs" ]; then pass "no leftovers"; else fail "no leftovers" "state: $left" "processes: $procs"; fi

summary
