#!/usr/bin/env bash
# oci.sh drives bin/runsc as an OCI runtime (runc's command syntax) on tiny
# busybox bundles: lifecycle in the orders clients use, exit codes and
# signals, config.json's process settings seen from inside, state/list/ps
# output, runc's error wording, and that nothing is left behind. The last
# line is "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNSC_BIN=${OCI_RUNSC:-$ROOT/bin/runsc}
BUSYBOX=${BUSYBOX:-/bin/busybox}
LIMIT=${OCI_TIMEOUT:-30}

# Bundles live under bin/ (never /tmp: the sandbox's /tmp is its own).
mkdir -p "$ROOT/bin"
WORK=$(mktemp -d "$ROOT/bin/oci.XXXXXX")
STATE=$WORK/state
cleanup() {
	# Whatever a failed test left: kill the sandboxes, then remove.
	for d in "$STATE"/*/; do
		[ -d "$d" ] && timeout 10 "$RUNSC_BIN" --root="$STATE" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	[ -n "${REAPER:-}" ] && kill "$REAPER" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
pass() { echo "PASS   $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL   $1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/    /'; done
	failed=$((failed + 1))
}

# The bundle has nothing but busybox, which must therefore be static.
if ! "$BUSYBOX" true 2>/dev/null || ldd "$BUSYBOX" >/dev/null 2>&1; then
	echo "oci.sh: no static busybox at $BUSYBOX (tools/install-deps.sh test installs busybox-static)"
	echo "0 passed, 1 failed"
	exit 1
fi

# The rootfs shared by every bundle: busybox and its applets.
RFS=$WORK/rootfs
mkdir -p "$RFS"/{bin,tmp,dev,proc,sys,etc,root,work}
cp "$BUSYBOX" "$RFS/bin/busybox"
for a in sh echo cat sleep id pwd env true false ls hostname touch grep kill umask head tr; do
	ln -s busybox "$RFS/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$RFS/etc/passwd"
echo 'root:x:0:' >"$RFS/etc/group"

# bundle NAME JSON: makes bundle NAME whose config.json is the base config
# with the fields of JSON (process fields under "process") merged in.
bundle() {
	local b=$WORK/$1
	mkdir -p "$b"
	python3 - "$b/config.json" "$RFS" "$2" <<'EOF'
import json, sys
path, rootfs, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
cfg = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", "true"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": rootfs, "readonly": True},
    "hostname": "ocibox",
}
for k, v in extra.items():
    if k == "process":
        cfg["process"].update(v)
    else:
        cfg[k] = v
json.dump(cfg, open(path, "w"))
EOF
	echo "$b"
}

# rs ARGS...: runs runsc with the test's --root; output in $out/$err, status $status.
rs() {
	# Fresh files: a created sandbox keeps writing to the ones it was given.
	rm -f "$WORK/out" "$WORK/err"
	timeout -k 5 "$LIMIT" "$RUNSC_BIN" --root="$STATE" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
	status=$?
	out=$(cat "$WORK/out")
	err=$(cat "$WORK/err")
}

# statusof ID: the status field of `runsc state ID`.
statusof() {
	timeout 10 "$RUNSC_BIN" --root="$STATE" state "$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null
}

# gone ID PID[:START]: no state directory and no process left. With START
# (the process' start time, field 22 of /proc/PID/stat) a process with
# that pid counts only if it started then: pids wrap within a minute on a
# busy host (pid_max 32768), so a pid recorded long ago may be another's.
# A process that was killed may still be finishing its exit (tearing down
# its mount namespace on a loaded host): it gets 3 s to become a zombie or
# vanish, and if it does not, its state, wait channel and command line are
# shown.
gone() {
	local why="" i pid=${2%%:*} start=""
	[[ "$2" == *:* ]] && start=${2#*:}
	[ -e "$STATE/$1" ] && why="state directory $STATE/$1 left"
	if [ -n "$pid" ]; then
		for i in $(seq 30); do
			alive "$pid" "$start" || break
			sleep 0.1
		done
		if alive "$pid" "$start"; then
			why="$why process $pid left ($(grep '^State:' "/proc/$pid/status" 2>/dev/null), wchan $(cat "/proc/$pid/wchan" 2>/dev/null), $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120))"
		fi
	fi
	echo "$why"
}

# alive PID [START]: PID is a process that is not a zombie (and started at
# START, if given).
alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 1
	[ -z "$2" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)" = "$2" ]
}

# expect_run NAME WANT_STATUS WANT_OUT JSON: runsc run of a bundle.
expect_run() {
	local name=$1 want=$2 wantout=$3
	local b
	b=$(bundle "$name" "$4")
	rs run --bundle "$b" "$name"
	if [ "$status" -ne "$want" ] || [ "$out" != "$wantout" ]; then
		fail "run $name" "status $status (want $want)" "stdout: $out" "want:   $wantout" "stderr: $err"
	elif [ -e "$STATE/$name" ]; then
		fail "run $name" "state directory left after run"
	else
		pass "run $name"
	fi
}

expect_run exit0 0 "hello" '{"process":{"args":["echo","hello"]}}'
expect_run exit3 3 "" '{"process":{"args":["sh","-c","exit 3"]}}'
expect_run selfkill 137 "" '{"process":{"args":["sh","-c","sh -c \"kill -9 \\$\\$\"; exit $?"]}}'
expect_run env-cwd 0 "bar
/etc" '{"process":{"args":["sh","-c","echo $FOO; pwd"],"env":["PATH=/bin","FOO=bar"],"cwd":"/etc"}}'
expect_run user 0 "1000
1000
1000 10 20" '{"process":{"args":["sh","-c","id -u; id -g; id -G"],"user":{"uid":1000,"gid":1000,"additionalGids":[10,20]}}}'
expect_run umask 0 "0027" '{"process":{"args":["sh","-c","umask"],"user":{"uid":0,"gid":0,"umask":23}}}'
expect_run rlimits 0 "100
200" '{"process":{"args":["sh","-c","ulimit -n; ulimit -H -n"],"rlimits":[{"type":"RLIMIT_NOFILE","soft":100,"hard":200}]}}'
expect_run hostname 0 "ocibox" '{"process":{"args":["hostname"]}}'
expect_run caps 0 "CapEff:	0000000000000020" '{"process":{"args":["grep","CapEff","/proc/self/status"],"capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}}}'
expect_run readonly-root 0 "ro
rw" '{"process":{"args":["sh","-c","touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/x && echo rw"]}}'

# The lifecycle of one container, step by step, as podman and containerd
# drive it.
B=$(bundle life '{"process":{"args":["sleep","1000"]}}')
rs create --bundle "$B" --pid-file "$WORK/life.pid" life
pid=$(cat "$WORK/life.pid" 2>/dev/null)
if [ "$status" -ne 0 ] || [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then
	fail "create" "status $status pid '$pid'" "$err"
else
	pass "create"
fi
rs state life
if python3 - "$out" "$pid" "$B" <<'EOF'; then pass "state after create"; else fail "state after create" "$out"; fi
import json, sys
s = json.loads(sys.argv[1])
ok = (s["ociVersion"].startswith("1.") and s["id"] == "life" and s["status"] == "created"
      and str(s["pid"]) == sys.argv[2] and s["bundle"] == sys.argv[3])
sys.exit(0 if ok else 1)
EOF
rs create --bundle "$B" life
if [ "$status" -ne 0 ] && grep -q "container with id exists" <<<"$err"; then pass "double create fails"; else fail "double create fails" "status $status" "$err"; fi
rs kill life TERM
if [ "$status" -eq 0 ] && [ "$(statusof life)" = created ]; then pass "kill TERM before start"; else fail "kill TERM before start" "status $status, now $(statusof life)" "$err"; fi
rs start life
if [ "$status" -eq 0 ] && [ "$(statusof life)" = running ]; then pass "start"; else fail "start" "status $status, now $(statusof life)" "$err"; fi
rs start life
if [ "$status" -ne 0 ]; then pass "second start fails"; else fail "second start fails"; fi
rs list --format json
if python3 -c 'import json,sys; l=json.loads(sys.argv[1]); sys.exit(0 if [c["status"] for c in l if c["id"]=="life"]==["running"] else 1)' "$out"; then pass "list json"; else fail "list json" "$out"; fi
rs list -q
if [ "$out" = life ]; then pass "list -q"; else fail "list -q" "$out"; fi
rs ps --format json life
if python3 -c 'import json,sys; l=json.loads(sys.argv[1]); sys.exit(0 if int(sys.argv[2]) in l else 1)' "$out" "$pid"; then pass "ps json"; else fail "ps json" "$out"; fi
rs delete life
if [ "$status" -ne 0 ] && grep -q "is not stopped: running" <<<"$err" && [ "$(statusof life)" = running ]; then
	pass "delete of a running container fails"
else
	fail "delete of a running container fails" "status $status" "$err"
fi
rs kill life 15
sleep 0.5
if [ "$status" -eq 0 ] && [ "$(statusof life)" = running ]; then pass "SIGTERM ignored by a handler-less init"; else fail "SIGTERM ignored by a handler-less init" "status $status, now $(statusof life)" "$err"; fi
rs kill life KILL
rs wait life
if [ "$status" -eq 137 ] && [ "$(statusof life)" = stopped ]; then pass "SIGKILL: status 137, stopped"; else fail "SIGKILL: status 137, stopped" "wait $status, now $(statusof life)" "$err"; fi
rs --log "$WORK/log.json" --log-format json kill life 9
if [ "$status" -ne 0 ] && tail -1 "$WORK/log.json" | python3 -c 'import json,sys; l=json.load(sys.stdin); sys.exit(0 if l["level"]=="error" and l["msg"]=="container not running" and l["time"] else 1)'; then
	pass "kill of a stopped container: runc's JSON log line"
else
	fail "kill of a stopped container: runc's JSON log line" "status $status" "$(cat "$WORK/log.json" 2>/dev/null)"
fi
rs start life
if [ "$status" -ne 0 ]; then pass "start of a stopped container fails"; else fail "start of a stopped container fails"; fi
rs delete life
left=$(gone life "$pid")
if [ "$status" -eq 0 ] && [ -z "$left" ]; then pass "delete leaves nothing"; else fail "delete leaves nothing" "status $status $left" "$err"; fi
rs state life
if [ "$status" -ne 0 ] && grep -q "does not exist" <<<"$err"; then pass "state of a deleted container"; else fail "state of a deleted container" "$err"; fi

# A handler for SIGTERM: the init chooses its exit status.
B=$(bundle trap '{"process":{"args":["sh","-c","trap \"echo got TERM; exit 7\" TERM; echo ready; while :; do sleep 0.1; done"]}}')
rs create --bundle "$B" trap
rs start trap
sleep 1
rs kill trap SIGTERM
rs wait trap
if [ "$status" -eq 7 ]; then pass "SIGTERM handler in the init: status 7"; else fail "SIGTERM handler in the init: status 7" "wait $status" "$err"; fi
rs delete trap

# Killed before it was started.
B=$(bundle early '{"process":{"args":["sleep","1000"]}}')
rs create --bundle "$B" --pid-file "$WORK/early.pid" early
pid=$(cat "$WORK/early.pid" 2>/dev/null)
rs kill early 9
rs wait early
w=$status
rs delete early
left=$(gone early "$pid")
if [ "$w" -eq 137 ] && [ -z "$left" ]; then pass "SIGKILL before start"; else fail "SIGKILL before start" "wait $w $left" "$err"; fi

# A created container is deleted without --force; a running one with it.
rs create --bundle "$B" --pid-file "$WORK/early.pid" early2
pid=$(cat "$WORK/early.pid" 2>/dev/null)
rs delete early2
left=$(gone early2 "$pid")
if [ "$status" -eq 0 ] && [ -z "$left" ]; then pass "delete of a created container"; else fail "delete of a created container" "status $status $left" "$err"; fi
rs create --bundle "$B" --pid-file "$WORK/early.pid" forced
pid=$(cat "$WORK/early.pid" 2>/dev/null)
rs start forced
rs delete --force forced
left=$(gone forced "$pid")
if [ "$status" -eq 0 ] && [ -z "$left" ]; then pass "delete --force of a running container"; else fail "delete --force of a running container" "status $status $left" "$err"; fi

# exec: a new process in the running container, with its own settings and
# the caller's stdio; its exit status; a process file; detached.
B=$(bundle ex '{"process":{"args":["sleep","1000"],"env":["PATH=/bin","A=1"],"cwd":"/"}}')
rs create --bundle "$B" ex
rs exec ex true
if [ "$status" -ne 0 ] && grep -q "cannot exec in a created container" <<<"$err"; then pass "exec before start fails"; else fail "exec before start fails" "status $status" "$err"; fi
rs start ex
rs exec --user 1000:1000 --env B=2 --cwd /etc ex sh -c 'echo $A$B; pwd; id -u; id -g; exit 5'
if [ "$status" -eq 5 ] && [ "$out" = "12
/etc
1000
1000" ]; then pass "exec with --user --env --cwd"; else fail "exec with --user --env --cwd" "status $status" "$out" "$err"; fi
echo '{"args":["sh","-c","echo from a process file"],"env":["PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}}' >"$WORK/proc.json"
rs exec --process "$WORK/proc.json" ex
if [ "$status" -eq 0 ] && [ "$out" = "from a process file" ]; then pass "exec --process"; else fail "exec --process" "status $status" "$out" "$err"; fi
rs exec ex /bin/nonexistent
if [ "$status" -ne 0 ] && grep -q "no such file" <<<"$err"; then pass "exec of a missing executable"; else fail "exec of a missing executable" "status $status" "$err"; fi
rs exec --detach --pid-file "$WORK/ex.pid" ex sleep 1000
if [ "$status" -eq 0 ] && [ -s "$WORK/ex.pid" ]; then pass "exec --detach"; else fail "exec --detach" "status $status" "$err"; fi
rs state ex
pid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$out" 2>/dev/null)
rs delete --force ex
left=$(gone ex "$pid")
if [ "$status" -eq 0 ] && [ -z "$left" ]; then pass "delete --force with exec'd processes"; else fail "delete --force with exec'd processes" "$left" "$err"; fi

# exec's host stand-in: oci_exec.sh (its reaper serves oci_pod.sh too).
. "$ROOT/test/e2e/oci_exec.sh"

# run --detach: created and started, the caller returns at once.
B=$(bundle det '{"process":{"args":["sleep","1000"]}}')
rs run --detach --bundle "$B" --pid-file "$WORK/det.pid" det
pid=$(cat "$WORK/det.pid" 2>/dev/null)
st=$(statusof det)
rs kill det 9
rs wait det
w=$status
rs delete det
left=$(gone det "$pid")
if [ "$st" = running ] && [ "$w" -eq 137 ] && [ -z "$left" ]; then pass "run --detach"; else fail "run --detach" "status $st wait $w $left" "$err"; fi

# Hooks: each kind in order, with the state on stdin; a failing or hanging
# createRuntime hook fails create and leaves nothing.
HL=$WORK/hooks.log
cat >"$WORK/hook.sh" <<EOF
#!/bin/sh
st=\$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
echo "\$1 \$st" >>"$HL"
EOF
chmod +x "$WORK/hook.sh"
hook() { printf '{"path":"%s","args":["hook.sh","%s"]}' "$WORK/hook.sh" "$1"; } # KIND
B=$(bundle hooks "{\"process\":{\"args\":[\"true\"]},\"hooks\":{\"prestart\":[$(hook prestart)],\"createRuntime\":[$(hook createRuntime)],\"createContainer\":[$(hook createContainer)],\"startContainer\":[$(hook startContainer)],\"poststart\":[$(hook poststart)],\"poststop\":[$(hook poststop)]}}")
rs run --bundle "$B" hooks
want="prestart created
createRuntime created
createContainer created
startContainer created
poststart running
poststop stopped"
got=$(cat "$HL" 2>/dev/null)
# poststart may see the init already exited.
got=${got/poststart stopped/poststart running}
if [ "$status" -eq 0 ] && [ "$got" = "$want" ]; then pass "hooks in order with the state"; else fail "hooks in order with the state" "status $status" "$got" "$err"; fi
B=$(bundle badhook '{"process":{"args":["true"]},"hooks":{"createRuntime":[{"path":"/bin/false"}]}}')
rs create --bundle "$B" badhook
if [ "$status" -ne 0 ] && grep -q "createRuntime hook" <<<"$err" && [ ! -e "$STATE/badhook" ]; then pass "failing hook"; else fail "failing hook" "status $status" "$err"; fi
B=$(bundle slowhook '{"process":{"args":["true"]},"hooks":{"createRuntime":[{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}}')
rs create --bundle "$B" slowhook
if [ "$status" -ne 0 ] && grep -q "timed out" <<<"$err" && [ ! -e "$STATE/slowhook" ]; then pass "hook timeout"; else fail "hook timeout" "status $status" "$err"; fi

# pause stops every process (its output stops growing), resume lets them
# go on; a paused container is not deleted without --force, and SIGKILL
# still ends it.
B=$(bundle pz '{"process":{"args":["sh","-c","while :; do echo x; sleep 0.05; done"]}}')
timeout 10 "$RUNSC_BIN" --root="$STATE" create --bundle "$B" pz </dev/null >"$WORK/pz.out" 2>&1
rs start pz
sleep 0.5
rs pause pz
p1=$status
st=$(statusof pz)
sleep 0.3
n1=$(wc -c <"$WORK/pz.out")
sleep 1
n2=$(wc -c <"$WORK/pz.out")
rs pause pz
p2=$status
rs delete pz
d=$status
rs resume pz
r1=$status
sleep 1
n3=$(wc -c <"$WORK/pz.out")
rs resume pz
r2=$status
if [ "$p1" -eq 0 ] && [ "$st" = paused ] && [ "$n1" -gt 0 ] && [ "$n1" -eq "$n2" ] && [ "$p2" -ne 0 ] && [ "$d" -ne 0 ] &&
	[ "$r1" -eq 0 ] && [ "$n3" -gt "$n2" ] && [ "$r2" -ne 0 ] && [ "$(statusof pz)" = running ]; then
	pass "pause and resume"
else
	fail "pause and resume" "pause $p1 ($st) output $n1 $n2 $n3, second pause $p2, delete $d, resume $r1, second resume $r2" "$err"
fi
rs pause pz
rs kill pz 9
rs wait pz
w=$status
rs delete pz
if [ "$w" -eq 137 ] && [ ! -e "$STATE/pz" ]; then pass "SIGKILL of a paused container"; else fail "SIGKILL of a paused container" "wait $w" "$err"; fi

# Cgroups and resource limits (test/e2e/cgroup.sh).
. "$ROOT/test/e2e/cgroup.sh"

# A containerd-style 64-character id: the control socket's path is longer
# than a unix socket address holds.
LONG=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
B=$(bundle long '{"process":{"args":["sleep","1000"]}}')
rs create --bundle "$B" "$LONG"
rs start "$LONG"
s1=$status
rs kill "$LONG" 9
rs wait "$LONG"
w=$status
rs delete "$LONG"
if [ "$s1" -eq 0 ] && [ "$w" -eq 137 ] && [ ! -e "$STATE/$LONG" ]; then pass "64-character id"; else fail "64-character id" "start $s1 wait $w" "$err"; fi

# events --stats: the sentry's figures in runc's stats event.
B=$(bundle ev '{"process":{"args":["sh","-c","sleep 1000 & sleep 1000 & wait"]}}')
rs create --bundle "$B" ev
rs start ev
sleep 0.5
rs events --stats ev
if [ "$status" -eq 0 ] && python3 -c '
import json, sys
e = json.loads(sys.argv[1])
d = e["data"]
ok = e["type"] == "stats" and e["id"] == "ev" and d["pids"]["current"] == 3 and d["memory"]["usage"]["usage"] > 0
sys.exit(0 if ok else 1)' "$out"; then pass "events --stats"; else fail "events --stats" "status $status" "$out" "$err"; fi
rs delete --force ev

# kill --all reaches every process; SIGKILL ends the container.
B=$(bundle all '{"process":{"args":["sh","-c","sleep 1000 & sleep 1000"]}}')
rs create --bundle "$B" --pid-file "$WORK/all.pid" all
pid=$(cat "$WORK/all.pid" 2>/dev/null)
rs start all
sleep 0.5
rs kill --all all 9
k=$status
rs wait all
w=$status
rs delete all
left=$(gone all "$pid")
if [ "$k" -eq 0 ] && [ "$w" -eq 137 ] && [ -z "$left" ]; then pass "kill --all"; else fail "kill --all" "kill $k wait $w $left" "$err"; fi

# Terminals and the error wording clients match: oci_console.sh.
. "$ROOT/test/e2e/oci_console.sh"
# config.json's linux.seccomp: oci_seccomp.sh.
. "$ROOT/test/e2e/oci_seccomp.sh"
# Pods: containers joining a sandbox container's sandbox: oci_pod.sh.
. "$ROOT/test/e2e/oci_pod.sh"

# spec writes a default config.json once; a terminal needs a console socket
# unless run in the foreground.
mkdir -p "$WORK/spec"
rs spec --bundle "$WORK/spec"
s1=$status
rs spec --bundle "$WORK/spec"
if [ "$s1" -eq 0 ] && [ "$status" -ne 0 ] &&
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if c["ociVersion"].startswith("1.") and c["process"]["args"]==["sh"] else 1)' "$WORK/spec/config.json"; then
	pass "spec"
else
	fail "spec" "first $s1 second $status" "$err"
fi
B=$(bundle tty '{"process":{"args":["true"],"terminal":true}}')
rs create --bundle "$B" tty
if [ "$status" -ne 0 ] && grep -q "console socket" <<<"$err" && [ ! -e "$STATE/tty" ]; then pass "terminal without console socket"; else fail "terminal without console socket" "status $status" "$err"; fi

# The sandbox process is fenced (DESIGN.md §1, runsc/fence): its seccomp
# filter is on, it has no capability in any set, no_new_privs, and an empty
# root that is not the host's, but for a read-only procfs on /proc (for
# podman top: runsc/fence's mountProc); so have the platform's stubs. exec
# still works in it, and /proc/self/fd names the stdio exec sent.
B=$(bundle fenced '{"process":{"args":["sleep","1000"]}}')
rs create --bundle "$B" --pid-file "$WORK/fenced.pid" fenced
rs start fenced
pid=$(cat "$WORK/fenced.pid" 2>/dev/null)
sleep 0.3
why=""
stubs=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
[ -n "$stubs" ] || why="no stubs"
for p in $pid $stubs; do
	s=/proc/$p/status
	grep -q '^Seccomp:[[:space:]]*2$' "$s" || why="$why $p:Seccomp"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -q "^$c:[[:space:]]*0000000000000000$" "$s" || why="$why $p:$c"
	done
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$s" || why="$why $p:NoNewPrivs"
	[ "$(ls -A "/proc/$p/root" 2>&1)" = proc ] || why="$why $p:root-not-empty"
	[ "$(stat -f -c %T "/proc/$p/root/proc" 2>&1)" = proc ] &&
		awk '$5 == "/proc" { print $6 }' "/proc/$p/mountinfo" | grep -q '^ro,' || why="$why $p:proc-not-read-only-procfs"
	[ "$(stat -L -c %d:%i "/proc/$p/root")" != "$(stat -c %d:%i /)" ] || why="$why $p:host-root"
done
if [ -n "$pid" ] && [ -z "$why" ]; then pass "fenced sandbox"; else fail "fenced sandbox" "pid $pid:$why"; fi
rs exec fenced sh -c 'echo in; ls -l /proc/self/fd/1'
if [ "$status" -eq 0 ] && [ "$(head -1 <<<"$out")" = in ] && grep -q -- "-> $WORK/out\$" <<<"$out"; then pass "exec in a fenced sandbox"; else fail "exec in a fenced sandbox" "status $status" "$out" "$err"; fi
rs kill fenced 9
rs wait fenced
w=$status
rs delete fenced
if [ "$w" -eq 137 ] && [ ! -e "$STATE/fenced" ]; then pass "fenced sandbox: exit status through its status record"; else fail "fenced sandbox: exit status through its status record" "wait $w" "$err"; fi

# Bad input: a clear error and nothing left behind.
mkdir -p "$WORK/noconfig"
rs create --bundle "$WORK/noconfig" bad1
if [ "$status" -ne 0 ] && [ ! -e "$STATE/bad1" ]; then pass "missing config.json"; else fail "missing config.json" "status $status" "$err"; fi
B=$(bundle noexec '{"process":{"args":["/bin/nonexistent"]}}')
rs create --bundle "$B" bad2
if [ "$status" -ne 0 ] && grep -q "no such file" <<<"$err" && [ ! -e "$STATE/bad2" ]; then pass "missing executable"; else fail "missing executable" "status $status" "$err"; fi
B=$(bundle noroot "{\"root\":{\"path\":\"$WORK/nonexistent\"}}")
rs create --bundle "$B" bad3
if [ "$status" -ne 0 ] && [ ! -e "$STATE/bad3" ]; then pass "missing rootfs"; else fail "missing rootfs" "status $status" "$err"; fi
rs create --bundle "$B" "bad/id"
if [ "$status" -ne 0 ]; then pass "invalid id"; else fail "invalid id"; fi

# The root overlay (--overlay=root): a container writes, appends, truncates,
# chmods, deletes, renames and hard-links files and makes directories in a
# writable root; the changes show inside, and the image on the host is
# byte-for-byte unchanged (names, types, modes, owners, sizes, mtimes,
# ctimes, link counts, inode numbers, contents).
ORFS=$WORK/ovl-rootfs
mkdir -p "$ORFS"/{bin,tmp,dev,proc,sys,etc,d/sub,d2}
cp "$BUSYBOX" "$ORFS/bin/busybox"
for a in sh echo cat chmod rm mv ln mkdir stat wc ls touch truncate cp; do
	ln "$ORFS/bin/busybox" "$ORFS/bin/$a"
done
printf 'data\n' >"$ORFS/etc/data"
printf 'long content\n' >"$ORFS/etc/trunc"
printf 'm\n' >"$ORFS/etc/mode"
printf 'g\n' >"$ORFS/etc/gone"
printf 'mv\n' >"$ORFS/etc/moveme"
printf 'hl\n' >"$ORFS/etc/hl1"
ln "$ORFS/etc/hl1" "$ORFS/etc/hl2"
printf 'x\n' >"$ORFS/d/x"
printf 'y\n' >"$ORFS/d/sub/y"
printf 'z\n' >"$ORFS/d2/z"
ln -s ../etc/data "$ORFS/d2/link"
chmod 640 "$ORFS/etc/mode"
find "$ORFS" -exec touch -h -d '2001-02-03 04:05:06' {} +
imagesum() {
	(cd "$ORFS" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %f %u %g %s %Y %Z %h %i' &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}
before=$(imagesum)
OVL_SCRIPT='set -e
echo appended >>/etc/data
echo new >/etc/new
truncate -s 4 /etc/trunc
chmod 600 /etc/mode
rm /etc/gone
mv /etc/moveme /etc/moved
ln /etc/data /etc/datalink
mkdir -p /newdir/sub
echo deep >/newdir/sub/f
echo more >>/etc/hl1
rm -r /d
mkdir /d
mv /d2 /d3
cat /etc/data /etc/new /etc/trunc; echo
stat -c "%a %h" /etc/mode /etc/data
[ -e /etc/gone ] || echo gone
cat /etc/moved /etc/datalink /etc/hl2 /newdir/sub/f
[ "$(stat -c %i /etc/hl1)" = "$(stat -c %i /etc/hl2)" ] && echo same-inode
ls -a /d; ls /d3; [ -e /d2 ] || echo d2-moved
cat /d3/link'
OVL_WANT='data
appended
new
long
600 1
644 2
gone
mv
data
appended
hl
more
deep
same-inode
.
..
link
z
d2-moved
data
appended'
B=$(bundle overlay "$(python3 -c 'import json,sys; print(json.dumps({"root":{"path":sys.argv[1],"readonly":False},"process":{"args":["sh","-c",sys.argv[2]]}}))' "$ORFS" "$OVL_SCRIPT")")
rs --overlay=root run --bundle "$B" overlay
after=$(imagesum)
if [ "$status" -ne 0 ] || [ "$out" != "$OVL_WANT" ]; then
	fail "overlay: changes take effect" "status $status" "stdout: $out" "want:   $OVL_WANT" "stderr: $err"
else
	pass "overlay: changes take effect"
fi
if [ "$before" = "$after" ]; then pass "overlay: the image is unchanged"; else fail "overlay: the image is unchanged" "checksum $before before, $after after"; fi
# root.readonly wins over the overlay, and without it (the default).
B=$(bundle overlay-ro "$(python3 -c 'import json,sys; print(json.dumps({"root":{"path":sys.argv[1],"readonly":True},"process":{"args":["sh","-c","echo x >/etc/data 2>/dev/null && echo rw || echo ro"]}}))' "$ORFS")")
rs --overlay=root run --bundle "$B" overlay-ro
if [ "$status" -eq 0 ] && [ "$out" = "ro" ] && [ "$(imagesum)" = "$before" ]; then pass "overlay: root.readonly"; else fail "overlay: root.readonly" "status $status" "$out" "$err"; fi
rs run --bundle "$B" default-ro
if [ "$status" -eq 0 ] && [ "$out" = "ro" ] && [ "$(imagesum)" = "$before" ]; then pass "default root: root.readonly"; else fail "default root: root.readonly" "status $status" "$out" "$err"; fi

# The default (--overlay=none): as under runc, the container writes
# through the gofer to the image, where docker cp, diff and commit look
# and where a restarted container finds them.
NRFS=$WORK/none-rootfs
mkdir -p "$NRFS"/{bin,tmp,dev,proc,sys,etc}
cp "$BUSYBOX" "$NRFS/bin/busybox"
for a in sh echo cat mv rm ln mkdir; do ln "$NRFS/bin/busybox" "$NRFS/bin/$a"; done
printf 'old\n' >"$NRFS/etc/f"
printf 'gone\n' >"$NRFS/etc/g"
B=$(bundle none-rw "$(python3 -c 'import json,sys; print(json.dumps({"root":{"path":sys.argv[1],"readonly":False},"process":{"args":["sh","-c","echo new >>/etc/f && mkdir /etc/d && echo x >/etc/d/x && mv /etc/d/x /etc/d/y && ln /etc/f /etc/f2 && rm /etc/g && cat /etc/f2"]}}))' "$NRFS")")
rs run --bundle "$B" none-rw
if [ "$status" -eq 0 ] && [ "$out" = "$(printf 'old\nnew')" ] && [ "$(cat "$NRFS/etc/d/y" 2>/dev/null)" = x ] &&
	[ ! -e "$NRFS/etc/g" ] && [ "$(stat -c %h "$NRFS/etc/f")" = 2 ]; then
	pass "default root: writes reach the image"
else
	fail "default root: writes reach the image" "status $status" "$out" "$err" "$(ls -lR "$NRFS/etc" 2>&1)"
fi

# config.json's mounts, masked and read-only paths, mountinfo.
. "$ROOT/test/e2e/oci_mounts.sh"
# Host unix sockets on a bind mount (--host-uds).
. "$ROOT/test/e2e/oci_hostuds.sh"

# config.json's sysctls, devices, oomScoreAdj and namespaces.
. "$ROOT/test/e2e/oci_config.sh"

# Nothing left: no state, no sandbox process of this test.
reaper_stop
left=$(ls "$STATE" 2>/dev/null)
procs=$(pgrep -f "root=$STATE" || true)
cgl=$(cgroup_leftovers)
if [ -z "$left" ] && [ -z "$procs" ] && [ -z "$cgl" ]; then pass "no leftovers"; else fail "no leftovers" "state: $left" "processes: $procs" "cgroups: $cgl"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
