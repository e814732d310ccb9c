# oci_exec.sh (sourced by oci.sh, whose helpers it uses): the host
# stand-in of an exec'd process (runsc/cmd/standin.go). The pid that
# `exec --detach --pid-file` writes is a runsc process that forwards the
# signals it gets to the process in the sandbox and ends as the process
# does: with its exit code, or killed by the same signal; killing it with
# SIGKILL ends the process in the sandbox too. conmon and containerd's
# shim adopt and reap that pid (they are child subreapers): the reaper
# below plays them, so that the tests see how the stand-ins end.

# The reaper: a child subreaper that runs the commands written to its
# FIFO ("TAG CMD" lines, one at a time, with sh -c) and logs "done TAG
# HOW" when one ends and "reaped PID HOW" for every other process it
# reaps (the stand-ins they leave behind), HOW being "exited N" or
# "signaled N".
cat >"$WORK/reaper.py" <<'PYEOF'
import ctypes, os, select, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("reaper: prctl: %d" % ctypes.get_errno())
fifo, logpath, outdir = sys.argv[1:4]
fd = os.open(fifo, os.O_RDWR)
def log(line):
    with open(logpath, "a") as f:
        f.write(line + "\n")
tags = {}
buf = b""
while True:
    r, _, _ = select.select([fd], [], [], 0.02)
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        how = "signaled %d" % os.WTERMSIG(st) if os.WIFSIGNALED(st) else "exited %d" % os.WEXITSTATUS(st)
        tag = tags.pop(pid, None)
        log("done %s %s" % (tag, how) if tag else "reaped %d %s" % (pid, how))
    if not r:
        continue
    buf += os.read(fd, 65536)
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        tag, _, cmd = line.decode().partition(" ")
        if tag == "quit":
            sys.exit(0)
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            i = os.open("/dev/null", os.O_RDONLY)
            o = os.open(os.path.join(outdir, tag + ".out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            e = os.open(os.path.join(outdir, tag + ".err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(i, 0); os.dup2(o, 1); os.dup2(e, 2)
            os.closerange(3, 1024)
            os.execvp("sh", ["sh", "-c", cmd])
        tags[pid] = tag
PYEOF
REAPER_LOG=$WORK/reaper.log
mkdir -p "$WORK/reaper"
mkfifo "$WORK/reaper.fifo"
: >"$REAPER_LOG"
python3 "$WORK/reaper.py" "$WORK/reaper.fifo" "$REAPER_LOG" "$WORK/reaper" &
REAPER=$!

# reaped TAG SECONDS: waits for reaper command TAG ("done TAG") or a pid
# ("reaped TAG") to end and prints how ("exited N", "signaled N"), or
# "running".
reaped() {
	local i how
	for ((i = 0; i < $2 * 20; i++)); do
		how=$(grep -E "^(done|reaped) $1 " "$REAPER_LOG" | head -1 | cut -d' ' -f3-)
		if [ -n "$how" ]; then
			echo "$how"
			return
		fi
		sleep 0.05
	done
	echo running
}
# reap_sh TAG CMD: runs shell command CMD under the reaper; $status is
# how it ended ("exited N", "signaled N"), $out and $err its output.
reap_sh() {
	echo "$1 $2" >"$WORK/reaper.fifo"
	status=$(reaped "$1" "$LIMIT")
	out=$(cat "$WORK/reaper/$1.out" 2>/dev/null)
	err=$(cat "$WORK/reaper/$1.err" 2>/dev/null)
}
# reap TAG ARGS...: reap_sh of runsc ARGS, with the test's --root.
reap() {
	local tag=$1
	shift
	reap_sh "$tag" "exec $(printf '%q ' "$RUNSC_BIN" --root="$STATE" "$@")"
}
reaper_stop() {
	if [ -n "${REAPER:-}" ]; then
		echo "quit" >"$WORK/reaper.fifo"
		wait "$REAPER" 2>/dev/null
		REAPER=
	fi
}

# cmdlines ID: the command lines of ID's processes, one a line.
cmdlines() {
	timeout 10 "$RUNSC_BIN" --root="$STATE" exec "$1" sh -c 'for f in /proc/[0-9]*/cmdline; do tr "\0" " " <"$f"; echo; done' 2>/dev/null
}
# until_gone ID PATTERN: waits up to 3 s for no process of ID to have a
# command line matching PATTERN; fails if one still does.
until_gone() {
	local i
	for i in 1 2 3 4 5 6; do
		cmdlines "$1" | grep -q "$2" || return 0
		sleep 0.5
	done
	return 1
}

B=$(bundle exs '{"process":{"args":["sleep","1000"]}}')
rs create --bundle "$B" exs
rs start exs

# standin_signal TAG SIG N HOW NAME: execs "sleep N" detached in exs
# (under the reaper, as TAG), sends SIG to its stand-in and checks that the
# exec succeeded, the process was running, the stand-in ended as HOW and
# the process is gone from the sandbox (test NAME).
standin_signal() {
	local tag=$1 sig=$2 n=$3 want=$4 name=$5 r p before how
	reap "$tag" exec --detach --pid-file "$WORK/$tag.pid" exs sleep "$n"
	r=$status
	p=$(cat "$WORK/$tag.pid" 2>/dev/null)
	before=$(cmdlines exs | grep -c "^sleep $n ")
	[ -n "$p" ] && kill -"$sig" "$p"
	how=$(reaped "$p" 5)
	if [ "$r" = "exited 0" ] && [ "$before" = 1 ] && [ "$how" = "$want" ] && until_gone exs "^sleep $n "; then
		pass "$name"
	else
		fail "$name" "exec $r, pid $p, running before $before, stand-in $how" "$(cmdlines exs)" "$err"
	fi
}

# SIGTERM to the stand-in reaches the process, which dies of it: so does
# the stand-in.
standin_signal ex1 TERM 4241 "signaled 15" "exec stand-in: SIGTERM ends the process in the sandbox; the stand-in dies of it"

# A signal the process handles: it chooses its exit status, which the
# stand-in exits with.
reap ex2 exec --detach --pid-file "$WORK/ex2.pid" exs sh -c 'trap "exit 3" USR1; echo ready >/tmp/ex2; while :; do sleep 0.1; done'
r=$status
p=$(cat "$WORK/ex2.pid" 2>/dev/null)
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(timeout 10 "$RUNSC_BIN" --root="$STATE" exec exs cat /tmp/ex2 2>/dev/null)" = ready ] && break
	sleep 0.2
done
[ -n "$p" ] && kill -USR1 "$p"
how=$(reaped "$p" 5)
if [ "$r" = "exited 0" ] && [ "$how" = "exited 3" ]; then
	pass "exec stand-in: a handled signal; the stand-in exits with the process' status"
else
	fail "exec stand-in: a handled signal; the stand-in exits with the process' status" "exec $r, stand-in $how" "$err"
fi

# SIGKILL cannot be forwarded: the sandbox sees the stand-in go and kills
# the process.
standin_signal ex3 KILL 4243 "signaled 9" "exec stand-in: SIGKILL of the stand-in ends the process in the sandbox"

# The process exits by itself, or is killed inside the sandbox.
reap ex4 exec --detach --pid-file "$WORK/ex4.pid" exs sh -c 'sleep 0.3; exit 7'
p4=$(cat "$WORK/ex4.pid" 2>/dev/null)
reap ex5 exec --detach --pid-file "$WORK/ex5.pid" exs sh -c 'sleep 0.3; kill -ABRT $$'
p5=$(cat "$WORK/ex5.pid" 2>/dev/null)
h4=$(reaped "$p4" 5)
h5=$(reaped "$p5" 5)
if [ "$h4" = "exited 7" ] && [ "$h5" = "signaled 6" ]; then
	pass "exec stand-in: exit status 7; death by SIGABRT"
else
	fail "exec stand-in: exit status 7; death by SIGABRT" "stand-ins: $h4, $h5" "$err"
fi

# The foreground exec is the stand-in too.
reap ex6 exec exs sh -c 'kill -USR2 $$'
if [ "$status" = "signaled 12" ]; then pass "exec in the foreground dies of its process' signal"; else fail "exec in the foreground dies of its process' signal" "$status" "$err"; fi

rs kill exs KILL
rs wait exs
rs delete exs
