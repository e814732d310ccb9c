# oci_mounts.sh is sourced by oci.sh (it uses its helpers: bundle, rs,
# pass, fail, gone, $RFS, $WORK, $STATE): config.json's mounts, masked and
# read-only paths, and how /proc/self/mountinfo lists them.
#
# The bundles' root is read-only (no root overlay yet), so every mount
# destination used here exists in the rootfs.

MNT=$WORK/mnthost
mkdir -p "$MNT"/{ro,rw,exec,real/sub} "$RFS"/mnt/{ro,rw,exec,noexec,small,sym,inside} "$RFS"/etc/masked-dir
touch "$RFS"/mnt/{file,null}
echo "ro content" >"$MNT/ro/f"
echo "rw content" >"$MNT/rw/f"
echo "file content" >"$MNT/file"
echo "via symlink" >"$MNT/real/f"
ln -s real "$MNT/link"
cp "$BUSYBOX" "$MNT/exec/busybox"
echo "secret" >"$RFS/etc/masked-file"
echo "secret" >"$RFS/etc/masked-dir/f"
# A destination symlink pointing out of the rootfs: on the host it would be
# $RFS/../../../../../mnt/inside; in the sandbox it resolves to /mnt/inside.
ln -sfn "/../../../../../mnt/inside" "$RFS/escape-dst"

# mrun NAME JSON: runsc run of a bundle; output in $out/$err, status $status.
mrun() {
	local b
	b=$(bundle "$1" "$2")
	rs run --bundle "$b" "$1"
}

bindm() { # DEST SOURCE OPTIONS...
	local d=$1 s=$2
	shift 2
	local o
	o=$(printf '"%s",' "$@")
	printf '{"destination":"%s","type":"bind","source":"%s","options":[%s]}' "$d" "$s" "${o%,}"
}

# Read-only and read-write bind mounts of host directories, and of a file.
mrun bind-ro "{\"process\":{\"args\":[\"sh\",\"-c\",\"cat /mnt/ro/f; echo x >/mnt/ro/new || echo refused; cat /mnt/file; echo x >/mnt/file || echo refused\"]},
	\"mounts\":[$(bindm /mnt/ro "$MNT/ro" rbind ro),$(bindm /mnt/file "$MNT/file" bind ro)]}"
want="ro content
refused
file content
refused"
if [ "$status" -eq 0 ] && [ "$out" = "$want" ] && grep -q "Read-only file system" <<<"$err" && [ ! -e "$MNT/ro/new" ] &&
	[ "$(cat "$MNT/file")" = "file content" ]; then
	pass "bind mounts: ro directory and file"
else
	fail "bind mounts: ro directory and file" "status $status" "stdout: $out" "stderr: $err"
fi

# A rw bind: reads work and the mount is rw. Writes reach the host once
# fs/gofer writes (a write the sandbox reports done must be on the host).
mrun bind-rw "{\"process\":{\"args\":[\"sh\",\"-c\",\"cat /mnt/rw/f; grep ' /mnt/rw ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1; if echo written >/mnt/rw/new; then echo wrote; fi\"]},
	\"mounts\":[$(bindm /mnt/rw "$MNT/rw" bind rw)]}"
case "$out" in
"rw content
rw
wrote")
	if [ "$(cat "$MNT/rw/new" 2>/dev/null)" = "written" ]; then pass "bind mount: rw, the host sees the write"; else fail "bind mount: rw" "the sandbox wrote, the host has: $(cat "$MNT/rw/new" 2>&1)"; fi
	;;
"rw content
rw")
	if [ ! -e "$MNT/rw/new" ]; then pass "bind mount: rw (reads; writes need fs/gofer's write path)"; else fail "bind mount: rw" "a failed write left $MNT/rw/new"; fi
	;;
*) fail "bind mount: rw" "status $status" "stdout: $out" "stderr: $err" ;;
esac

# A bind source that is a host symlink (followed, as runc does), and a
# destination that is a symlink pointing out of the rootfs (resolved in the
# sandbox: it lands on /mnt/inside).
mrun bind-symlinks "{\"process\":{\"args\":[\"sh\",\"-c\",\"cat /mnt/sym/f; cat /mnt/inside/f\"]},
	\"mounts\":[$(bindm /mnt/sym "$MNT/link" bind ro),$(bindm /escape-dst "$MNT/real" bind ro)]}"
if [ "$status" -eq 0 ] && [ "$out" = "via symlink
via symlink" ] && [ ! -e /mnt/inside/f ]; then
	pass "bind mounts: symlinked source, destination symlink out of the rootfs lands inside"
else
	fail "bind mounts: symlinks" "status $status" "stdout: $out" "stderr: $err"
fi

# noexec forbids exec from the mount; nosuid and nodev are shown.
mrun bind-noexec "{\"process\":{\"args\":[\"sh\",\"-c\",\"/mnt/exec/busybox echo ran; /mnt/noexec/busybox echo ran || echo refused; grep ' /mnt/noexec ' /proc/self/mountinfo | cut -d' ' -f6\"]},
	\"mounts\":[$(bindm /mnt/exec "$MNT/exec" bind ro),$(bindm /mnt/noexec "$MNT/exec" bind ro nosuid nodev noexec)]}"
if [ "$status" -eq 0 ] && [ "$out" = "ran
refused
ro,nosuid,nodev,noexec,relatime" ] && grep -q "Permission denied" <<<"$err"; then
	pass "bind mount: noexec, nosuid, nodev"
else
	fail "bind mount: noexec, nosuid, nodev" "status $status" "stdout: $out" "stderr: $err"
fi

# A bind of the host's /dev/null is the sandbox's own null device.
mrun bind-devnull "{\"process\":{\"args\":[\"sh\",\"-c\",\"echo x >/mnt/null && cat /mnt/null && echo ok\"]},
	\"mounts\":[$(bindm /mnt/null /dev/null bind rw)]}"
if [ "$status" -eq 0 ] && [ "$out" = "ok" ]; then pass "bind mount of /dev/null"; else fail "bind mount of /dev/null" "status $status" "stdout: $out" "stderr: $err"; fi

# tmpfs size= is enforced (ENOSPC) and mode= applied.
mrun tmpfs-size '{"process":{"args":["sh","-c","stat -c %a /mnt/small; dd if=/dev/zero of=/mnt/small/f bs=1024 count=200 2>&1 | grep -o \"No space left on device\"; stat -c %s /mnt/small/f"]},
	"mounts":[{"destination":"/mnt/small","type":"tmpfs","source":"tmpfs","options":["size=64k","mode=700","nosuid"]}]}'
if [ "$status" -eq 0 ] && [ "$out" = "700
No space left on device
65536" ]; then pass "tmpfs size and mode"; else fail "tmpfs size and mode" "status $status" "stdout: $out" "stderr: $err"; fi

# Masked paths read as empty (a missing one is ignored; a masked file is
# the null device, which takes writes even on a read-only mount, as on
# Linux); read-only paths refuse writes while the rest of the mount does not.
mrun masked "{\"process\":{\"args\":[\"sh\",\"-c\",\"cat /etc/masked-file; ls /etc/masked-dir; touch /etc/masked-dir/x || echo refused; touch /dev/shm/x || echo refused; touch /dev/mqueue/x && echo wrote\"]},
	\"mounts\":[{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"mode=755\"]},
		{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"mode=1777\"]},
		{\"destination\":\"/dev/mqueue\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}],
	\"linux\":{\"maskedPaths\":[\"/etc/masked-file\",\"/etc/masked-dir\",\"/etc/nonexistent\"],\"readonlyPaths\":[\"/dev/shm\",\"/nonexistent\"]}}"
if [ "$status" -eq 0 ] && [ "$out" = "refused
refused
wrote" ]; then pass "masked and read-only paths"; else fail "masked and read-only paths" "status $status" "stdout: $out" "stderr: $err"; fi

# mountinfo lists every config mount in config order with its destination,
# type and source; runc's default mounts (runsc spec's plus mqueue and
# cgroup) all mount.
B=$WORK/specmounts
mkdir -p "$B"
(cd "$B" && "$RUNSC_BIN" spec)
python3 - "$B/config.json" "$RFS" "$MNT" <<'EOF'
import json, sys
path, rootfs, mnt = sys.argv[1:4]
c = json.load(open(path))
c["root"]["path"] = rootfs
c["process"]["args"] = ["cat", "/proc/self/mountinfo"]
c["process"]["env"] = ["PATH=/bin"]
c["mounts"] += [
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    {"destination": "/mnt/ro", "type": "bind", "source": mnt + "/ro", "options": ["rbind", "ro"]},
    {"destination": "/mnt/small", "type": "tmpfs", "source": "mytmp", "options": ["size=1m"]},
]
json.dump(c, open(path, "w"))
json.dump([[m["destination"], m["type"], m["source"]] for m in c["mounts"]], open(path + ".want", "w"))
EOF
rs run --bundle "$B" specmounts
order=$(python3 - "$B/config.json.want" "$WORK/out" <<'EOF'
import json, sys
want = json.load(open(sys.argv[1]))
got = []
for line in open(sys.argv[2]):
    f = line.split()
    sep = f.index("-")
    got.append([f[4], f[sep + 1], f[sep + 2]])
# Each config mount, in config order (binds by destination only: their type
# is the host filesystem's).
pos = -1
for d, t, s in want:
    idx = [i for i, g in enumerate(got) if g[0] == d and (t == "bind" or (g[1] == t and g[2] == s))]
    if not idx:
        print("missing", d, t, s); break
    if idx[-1] < pos:
        print("out of order", d); break
    pos = idx[-1]
else:
    print("ok")
EOF
)
if [ "$status" -eq 0 ] && [ "$order" = "ok" ]; then pass "mountinfo: config mounts in order, runc's defaults"; else fail "mountinfo: config mounts in order" "status $status" "$order" "$out" "stderr: $err"; fi

# Bad mounts: a clear error at create, and nothing left behind.
B=$(bundle nosrc "{\"mounts\":[$(bindm /mnt/ro "$WORK/nonexistent-src" bind ro)]}")
rs create --bundle "$B" nosrc
if [ "$status" -ne 0 ] && grep -q "nonexistent-src.*no such file" <<<"$err" && [ -z "$(gone nosrc '')" ] && [ ! -e "$STATE/nosrc" ] &&
	! pgrep -f "nonexistent-src" >/dev/null; then
	pass "missing bind source"
else
	fail "missing bind source" "status $status" "$err"
fi
B=$(bundle badtype '{"mounts":[{"destination":"/mnt/ro","type":"ext4","source":"/dev/sda1"}]}')
rs create --bundle "$B" badtype
if [ "$status" -ne 0 ] && grep -q 'unsupported filesystem type .*ext4' <<<"$err" && [ ! -e "$STATE/badtype" ]; then
	pass "unknown mount type"
else
	fail "unknown mount type" "status $status" "$err"
fi
B=$(bundle nodest '{"mounts":[{"destination":"/no/such/dir","type":"tmpfs","source":"tmpfs"}]}')
rs create --bundle "$B" nodest
if [ "$status" -ne 0 ] && grep -q "/no/such/dir" <<<"$err" && [ ! -e "$STATE/nodest" ]; then
	pass "missing destination on a read-only root"
else
	fail "missing destination on a read-only root" "status $status" "$err"
fi
