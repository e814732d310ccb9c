# oci_console.sh is sourced by oci.sh (its helpers and bundles): terminals
# through console sockets and the caller's terminal, exec --tty, and the
# error wording the containerd shim matches.

# The shell applets the terminal tests use.
ln -sf busybox "$RFS/bin/tty"
ln -sf busybox "$RFS/bin/stty"

# Terminals. consoledrive plays the client: it receives the master from
# the console socket (one descriptor, the message "/dev/ptmx", as runc
# sends it) or runs runsc on a pty of its own (the caller's terminal), and
# types into an interactive shell.
CD=$ROOT/bin/consoledrive
# cdrive NAME ARGS...: consoledrive's output in $out, status $status.
cdrive() {
	local name=$1
	shift
	out=$(timeout -k 5 60 "$CD" "$@" 2>"$WORK/err")
	status=$?
	err=$(cat "$WORK/err")
	if [ "$status" -eq 0 ] && ! grep -q '^FAIL' <<<"$out"; then pass "$name"; else fail "$name" "$out" "$err"; fi
}
if [ -x "$CD" ]; then
	CS=$WORK/console.sock
	TB=$(bundle term '{"process":{"args":["sh"],"terminal":true,"env":["PATH=/bin","PS1=$ "]}}')
	WINCH='send:sh -c '"'"'trap "echo GOT""WINCH" WINCH; echo re""ady; sleep 2; stty size'"'"'\r'
	# run --console-socket: a real terminal inside, SIGWINCH on resize,
	# ^C, ^Z and fg, the shell's exit status is run's, and the master
	# reads EIO.
	cdrive "console socket: run" socket "$CS" 'expect:$ ' 'send:tty\r' 'expect:/dev/pts/0' \
		'send:test -t 0 && echo is""atty\r' 'expect:isatty' \
		"$WINCH" 'expect:ready' 'winsize:33,101' 'expect:GOTWINCH' 'expect:33 101' 'expect:$ ' \
		'send:sleep 30\r' 'sleep:500' 'send:\003' 'expect:$ ' 'send:echo st=$?\r' 'expect:st=130' \
		'send:sleep 30\r' 'sleep:500' 'send:\032' 'expect:Stopped' 'send:fg\r' 'expect:sleep 30' 'sleep:300' \
		'send:\003' 'expect:$ ' 'send:exit 3\r' eof exited:3 -- "$RUNSC_BIN" --root="$STATE" run --console-socket "$CS" --bundle "$TB" term1
	# create --console-socket, then start as conmon does.
	cdrive "console socket: create, start" socket "$CS" exited:0 "shell:$RUNSC_BIN --root=$STATE start term2" \
		'expect:$ ' 'send:tty\r' 'expect:/dev/pts/0' 'send:exit 4\r' eof \
		-- "$RUNSC_BIN" --root="$STATE" create --console-socket "$CS" --bundle "$TB" term2
	rs wait term2
	w=$status
	rs delete term2
	if [ "$w" -eq 4 ] && [ ! -e "$STATE/term2" ]; then pass "console socket: exit status"; else fail "console socket: exit status" "wait $w" "$err"; fi
	# run without a console socket: the caller's terminal, in raw mode
	# for the duration and restored after (a pty's modes are shared by
	# both ends, so consoledrive sees them on its master).
	cdrive "caller's terminal: run" pty 'expect:$ ' 'send:tty; stty size\r' 'expect:/dev/pts/0' 'expect:24 80' \
		'send:sleep 30\r' 'sleep:500' 'send:\003' 'expect:$ ' 'send:exit 7\r' eof exited:7 cooked \
		-- "$RUNSC_BIN" --root="$STATE" run --bundle "$TB" term3
	# exec --tty: a terminal per process, with a console socket (detached,
	# as conmon) or the caller's; --process with "terminal": true.
	B=$(bundle termhost '{"process":{"args":["sleep","1000"]}}')
	rs run --detach --bundle "$B" termhost
	# The exec'd process' host terminal is nobody's controlling terminal:
	# a resize reaches it through runsc's resize watcher.
	cdrive "exec --tty --console-socket" socket "$CS" exited:0 'expect:$ ' 'send:tty\r' 'expect:/dev/pts/0' \
		"$WINCH" 'expect:ready' 'winsize:40,120' 'expect:GOTWINCH' 'expect:40 120' 'send:exit 4\r' eof \
		-- "$RUNSC_BIN" --root="$STATE" exec --tty --detach --console-socket "$CS" --env 'PS1=$ ' termhost sh
	cdrive "exec --tty, caller's terminal" pty 'expect:$ ' 'send:tty\r' 'expect:/dev/pts/' 'send:sleep 30\r' 'sleep:500' \
		'send:\003' 'expect:$ ' "$WINCH" 'expect:ready' 'winsize:30,90' 'expect:GOTWINCH' 'expect:30 90' \
		'send:exit 6\r' eof exited:6 cooked \
		-- "$RUNSC_BIN" --root="$STATE" exec -t --env 'PS1=$ ' termhost sh
	echo '{"terminal":true,"args":["sh","-c","tty; exit 2"],"env":["PATH=/bin"],"cwd":"/"}' >"$WORK/ttyproc.json"
	cdrive "exec --process with terminal" socket "$CS" 'expect:/dev/pts/' eof exited:2 \
		-- "$RUNSC_BIN" --root="$STATE" exec --process "$WORK/ttyproc.json" --console-socket "$CS" termhost
	rs delete --force termhost
	# A console socket that does not exist: runc's error, nothing left.
	rs create --console-socket "$WORK/nonexistent.sock" --bundle "$TB" term4
	if [ "$status" -ne 0 ] && grep -q "connect: no such file or directory" <<<"$err" && [ ! -e "$STATE/term4" ]; then
		pass "missing console socket"
	else
		fail "missing console socket" "status $status" "$err"
	fi
else
	fail "terminals" "bin/consoledrive is not built (make bin/consoledrive)"
fi

# The wording the containerd shim relies on (it ignores a failed kill only
# when the message says "container not running", "no such process",
# "process already finished" or "does not exist").
rs kill nosuchid 9
if [ "$status" -ne 0 ] && grep -q "does not exist" <<<"$err"; then pass "kill of an unknown id: does not exist"; else fail "kill of an unknown id: does not exist" "status $status" "$err"; fi
rs delete nosuchid
if [ "$status" -ne 0 ] && grep -q "does not exist" <<<"$err"; then pass "delete of an unknown id: does not exist"; else fail "delete of an unknown id: does not exist" "status $status" "$err"; fi
rs delete --force nosuchid
if [ "$status" -eq 0 ]; then pass "delete --force of an unknown id"; else fail "delete --force of an unknown id" "status $status" "$err"; fi
B=$(bundle exited '{"process":{"args":["true"]}}')
rs create --bundle "$B" exited
rs start exited
rs wait exited
rs kill --all exited 9
k1=$status e1=$err
rs kill exited 15
k2=$status e2=$err
rs pause exited
k3=$status e3=$err
rs exec exited true
k4=$status e4=$err
rs delete exited
if [ "$k1" -ne 0 ] && [ "$k2" -ne 0 ] && grep -q "container not running" <<<"$e1" && grep -q "container not running" <<<"$e2"; then
	pass "kill of an exited init: container not running"
else
	fail "kill of an exited init: container not running" "kill --all $k1: $e1" "kill $k2: $e2"
fi
if [ "$k3" -ne 0 ] && grep -q "container not running" <<<"$e3" && [ "$k4" -ne 0 ] && grep -q "stopped container" <<<"$e4"; then
	pass "pause and exec of a stopped container"
else
	fail "pause and exec of a stopped container" "pause $k3: $e3" "exec $k4: $e4"
fi
