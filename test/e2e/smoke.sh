#!/usr/bin/env bash
# smoke.sh runs real programs natively and under the sandbox ($RUNSC, default
# "bin/runsc do --") and compares their stdout and exit status; then feeds the
# sandbox bad executables, which must fail cleanly. RUNSC=env checks the
# script itself. The last line is "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
read -r -a SANDBOX <<<"${RUNSC:-bin/runsc do --}"
case "${SANDBOX[0]}" in
/*) ;;
*/*) SANDBOX[0]="$ROOT/${SANDBOX[0]}" ;;
esac
LIMIT=${SMOKE_TIMEOUT:-30}

# The sandbox's /tmp is an empty tmpfs, so files it must see live under bin/.
mkdir -p "$ROOT/bin"
WORK=$(mktemp -d "$ROOT/bin/smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
skipped=0
skip() { echo "SKIP   $1: $2"; skipped=$((skipped + 1)); }
pass() { echo "PASS   $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL   $1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/    /'; done
	failed=$((failed + 1))
}

# run OUT ERR CMD...: runs CMD with stdin from /dev/null under a time limit;
# sets $status.
run() {
	local out=$1 err=$2
	shift 2
	# The subshell keeps bash's "Terminated" job notices out of the log.
	(
		timeout -k 5 "$LIMIT" "$@" </dev/null >"$out" 2>"$err"
		s=$?
		exit $s
	) 2>/dev/null
	status=$?
}

# compare NAME MODE WANT CMD...: runs CMD natively, where it must exit with
# status WANT, and in the sandbox. MODE "all" compares all of stdout, "first"
# only the first line.
compare() {
	local name=$1 mode=$2 want=$3
	shift 3
	run "$WORK/n.out" "$WORK/n.err" env -i PATH=/usr/bin:/bin HOME=/root LC_ALL=C "$@"
	local nstatus=$status
	if [ "$nstatus" -ne "$want" ]; then
		fail "$name" "native run exited $nstatus, want $want (the test is broken):" "$(head -20 "$WORK/n.err")"
		return
	fi
	run "$WORK/s.out" "$WORK/s.err" env -i PATH=/usr/bin:/bin HOME=/root LC_ALL=C "${SANDBOX[@]}" "$@"
	local sstatus=$status
	local nout sout
	if [ "$mode" = first ]; then
		nout=$(head -n 1 "$WORK/n.out")
		sout=$(head -n 1 "$WORK/s.out")
	else
		nout=$(cat "$WORK/n.out")
		sout=$(cat "$WORK/s.out")
	fi
	if [ "$sstatus" -ne "$nstatus" ] || [ "$nout" != "$sout" ]; then
		fail "$name" "exit status: native $nstatus, sandbox $sstatus" \
			"stdout diff (-native +sandbox):" \
			"$(diff <(printf '%s\n' "$nout") <(printf '%s\n' "$sout") | head -40)" \
			"sandbox stderr:" "$(tail -20 "$WORK/s.err")"
		return
	fi
	pass "$name"
}

# bad NAME WANT_STATUS PATTERN PATH: runs PATH in the sandbox, which must exit
# with WANT_STATUS ("nonzero" for any failure) and a stderr matching PATTERN
# (case-insensitive), and must not panic.
bad() {
	local name=$1 want=$2 pattern=$3
	shift 3
	# Run from the scratch folder: should anything run the file as a shell
	# script, whatever it writes lands there.
	pushd "$WORK" >/dev/null || return
	run "$WORK/s.out" "$WORK/s.err" "${SANDBOX[@]}" "$@"
	popd >/dev/null || return
	local why=()
	if [ "$status" -eq 0 ]; then
		why+=("exit status 0, want a failure")
	elif [ "$want" != nonzero ] && [ "$status" -ne "$want" ]; then
		why+=("exit status $status, want $want")
	fi
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		why+=("timed out")
	fi
	if [ -n "$pattern" ] && ! grep -qiE "$pattern" "$WORK/s.err"; then
		why+=("stderr does not match /$pattern/")
	fi
	if grep -qE 'panic:|goroutine [0-9]+ \[' "$WORK/s.err"; then
		why+=("the sandbox panicked")
	fi
	if [ ${#why[@]} -gt 0 ]; then
		fail "$name" "${why[@]}" "sandbox stderr:" "$(tail -20 "$WORK/s.err")"
	else
		pass "$name"
	fi
}

echo "smoke tests under: ${SANDBOX[*]}"

compare "busybox (static) echo" all 0 /bin/busybox echo hi
compare "env -i (dynamic glibc)" all 0 /usr/bin/env -i A=1 B=2
compare "python3 json" all 0 /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.argv))' a b
compare "sh echo; uname -a; id" first 0 /bin/sh -c 'echo hello from the sandbox; uname -a; id'
compare "sh exit status 3" all 3 /bin/sh -c 'echo out; exit 3'
# The command is the sandbox's pid 1, which (like a container's init on
# Linux) ignores default-action signals from inside; the child shell does not.
compare "sh killed by SIGTERM" all 143 /bin/sh -c 'sh -c "echo before; kill -TERM \$\$; echo after"; exit $?'
# procfs: the shape of /proc/self, a process list, and status's first line.
compare "busybox ls /proc/self/ has stat, status, fd" all 0 /bin/sh -c 'busybox ls /proc/self/ | grep -xE "stat|status|fd|cmdline|maps|task"'
compare "busybox ps runs" first 0 /bin/busybox ps
compare "cat /proc/self/status | head -1" all 0 /bin/sh -c 'cat /proc/self/status | head -1'
compare "readlink /proc/self/exe" all 0 /bin/busybox readlink /proc/self/exe
# ptrace for applications: Debian's strace traces a process tree inside the
# sandbox (the sentry emulates ptrace; nothing reaches the host's).
if [ -x /usr/bin/strace ]; then
	compare "strace -f -o /dev/null /bin/true" all 0 /usr/bin/strace -f -o /dev/null /bin/true
	compare "strace -f sh -c 'echo hi'" all 0 /usr/bin/strace -f -o /dev/null /bin/sh -c 'echo hi'
	compare "strace -f sh with children" all 0 /usr/bin/strace -f -qq -e trace=none /bin/sh -c '/bin/true; (echo sub); echo done'
else
	skip "strace" "/usr/bin/strace is not installed (tools/install-deps.sh test)"
fi
# gdb: a breakpoint in a dynamic program, registers and memory read
# through ptrace and /proc/PID/mem (addresses and pids vary: dropped).
if [ -x /usr/bin/gdb ]; then
	compare "gdb breakpoint, registers and memory" all 0 /bin/sh -c '
		/usr/bin/gdb -batch -nx -ex "set breakpoint pending on" -ex "break write" -ex run \
			-ex "info registers rdi" -ex "x/s \$rsi" -ex continue --args /bin/echo hello 2>&1 |
			grep -E "^Breakpoint 1,|^rdi|hello|exited" | sed -e "s/0x[0-9a-f]*//g" -e "s/process [0-9]*/process N/"'
else
	skip "gdb" "/usr/bin/gdb is not installed (tools/install-deps.sh test)"
fi

# Shell process machinery: command substitution, subshells and their exit
# codes, pipelines, background jobs and wait, traps, nested shells.
compare "sh subshells, pipelines, jobs and wait" all 0 /bin/sh -c '
x=$(echo inner | tr a-z A-Z); echo "subst: $x"
(echo in a subshell; exit 3); echo "subshell status: $?"
echo one two three | wc -w | tr -d " "
seq 1 100 | sort -rn | head -3 | tr "\n" " "; echo
false | true; echo "pipeline status: $?"
sleep 0.1 & p1=$!; (exit 5) & p2=$!
wait $p1; echo "job 1: $?"; wait $p2; echo "job 2: $?"
for i in 1 2 3 4 5 6 7 8; do (exit $i) & done; wait; echo "all jobs waited"
sleep 10 & kill $!; wait $!; echo "killed job: $?"
f() { return 7; }; f; echo "function: $?"
echo "arith: $(( $(echo 6) * $(echo 7) ))"
sh -c "trap \"echo trapped USR1\" USR1; kill -USR1 \$\$; echo after trap"
sh -c "exit 9"; echo "nested sh: $?"
out=$(sh -c "echo a; echo b >&2; echo c" 2>/dev/null); echo "captured: $out" | tr "\n" " "; echo
exit 0
'
compare "sh exit status of a pipeline's last command" all 4 /bin/sh -c 'echo x | (read v; exit 4)'

# busybox over the VFS: a big pipeline, redirections, find, and the tools
# that read /proc and the mount table (status only where the sandbox's
# processes and mounts differ from the host's).
compare "seq 100000 | sort -n | uniq | wc -l" all 0 /bin/sh -c 'busybox seq 100000 | busybox sort -n | busybox uniq | busybox wc -l'
compare "sh redirections: > >> 2>&1 < here-doc" all 0 /bin/sh -c '
cd /tmp || exit 1
echo one >f; echo two >>f; cat f
ls /nonexistent >g 2>&1; echo "status $?"; wc -l <g | tr -d " "
(echo out; echo err >&2) 2>&1 >/dev/null | cat
while read l; do echo "read: $l"; done <f
cat <<EOF
here $(echo doc)
EOF
exec 3>h; echo fd3 >&3; exec 3>&-; cat h
rm f g h'
compare "find /usr/share/doc -maxdepth 2 -name copyright | sort | head" all 0 /bin/sh -c 'busybox find /usr/share/doc -maxdepth 2 -name copyright | sort | head'
compare "busybox ls -la /proc/self/ (status)" all 0 /bin/sh -c 'busybox ls -la /proc/self/ >/dev/null'
compare "busybox ps (status)" all 0 /bin/sh -c 'busybox ps >/dev/null'
compare "busybox top -bn1 (status)" all 0 /bin/sh -c 'busybox top -bn1 >/dev/null'
compare "busybox df (status)" all 0 /bin/sh -c 'busybox df >/dev/null'
compare "busybox mount (status)" all 0 /bin/sh -c 'busybox mount >/dev/null'

# A static Go program: goroutines on several threads, futexes, timers,
# channels, mutexes, asynchronous preemption (SIGURG) and the garbage
# collector (built by "make goprog").
if [ -x "$ROOT/bin/goprog" ]; then
	compare "Go program (threads, timers, preemption, GC)" all 0 "$ROOT/bin/goprog"
else
	skip "Go program (threads, timers, preemption, GC)" "bin/goprog is not built (make goprog)"
fi

# An interactive shell driven through a pseudo-terminal (in the sandbox, the
# sentry's devpts): prompt, echo, ^C interrupts the foreground job, exit.
if [ -x "$ROOT/bin/ptydrive" ]; then
	compare "interactive sh through a pty" all 0 "$ROOT/bin/ptydrive"
else
	skip "interactive sh through a pty" "bin/ptydrive is not built (make bin/ptydrive)"
fi

# Unix domain sockets: a socketpair echo between two processes (sentry/socket/unix).
compare "python3 socketpair echo" all 0 /usr/bin/python3 -c '
import os, socket
a, b = socket.socketpair()
if os.fork() == 0:
    a.close(); b.sendall(b"echo:" + b.recv(100)); os._exit(0)
b.close(); a.sendall(b"ping"); print(a.recv(100).decode()); os.wait()'

# The sentry's loopback network (sentry/socket/inet): python3 -m http.server
# on 127.0.0.1 at a free port, fetched with urllib in the same sandbox.
compare "python3 http.server on 127.0.0.1 fetched with urllib" all 0 /usr/bin/python3 -c '
import socket, subprocess, sys, time, urllib.request
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
p = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory", "/usr/share"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = None
for i in range(200):
    try:
        r = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10)
        break
    except OSError:
        time.sleep(0.1)
print(r.status, b"Directory listing" in r.read())
p.terminate(); p.wait()'

# A redirected stdout is the caller's open file: its offset is shared, so
# what the shell writes after the sandbox exits follows what the sandbox
# wrote instead of overwriting it.
shared_offset() {
	local f=$WORK/shared.out
	{
		"${SANDBOX[@]}" /bin/sh -c 'echo one; echo two'
		echo three
	} >"$f" 2>/dev/null </dev/null
	local got
	got=$(tr '\n' ' ' <"$f")
	if [ "$got" = "one two three " ]; then
		pass "stdout redirected to a file shares its offset"
	else
		fail "stdout redirected to a file shares its offset" "file holds: $got"
	fi
}
shared_offset

printf 'echo this is not an ELF file\n' >"$WORK/notelf"
head -c 100 /bin/true >"$WORK/truncated"
printf '\177ELF%s' "garbage garbage garbage" >"$WORK/badelf"
chmod +x "$WORK/notelf" "$WORK/truncated" "$WORK/badelf"
if [ "${SANDBOX[*]}" = env ]; then
	# env(1) uses execvp, which runs a file that fails with ENOEXEC with
	# /bin/sh: these cases say nothing about the stand-in.
	why="the env stand-in runs it with /bin/sh"
	skip "not ELF, no #!: exec format error" "$why"
	skip "truncated ELF: clean error" "$why"
	skip "garbage after ELF magic: clean error" "$why"
else
	bad "not ELF, no #!: exec format error" nonzero 'exec format error|ENOEXEC' "$WORK/notelf"
	bad "truncated ELF: clean error" nonzero '' "$WORK/truncated"
	bad "garbage after ELF magic: clean error" nonzero '' "$WORK/badelf"
fi
bad "missing file: 127, no such file" 127 'no such file' "$WORK/does-not-exist"
printf 'hello\n' >"$WORK/noexec"
chmod -x "$WORK/noexec"
bad "not executable: permission denied" nonzero 'permission denied|EACCES' "$WORK/noexec"

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
