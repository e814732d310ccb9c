# oci_hostuds.sh is sourced by oci.sh (it uses its helpers: bundle, rs,
# pass, fail, $RFS, $WORK, $BUSYBOX): host unix sockets on a bind mount
# (--host-uds, gofer/server_socket.go). A host listener in a bound
# directory is reached from the sandbox, a socket the sandbox binds there
# is reached from the host, and with the default (--host-uds=none) both
# are refused. udsprobe (test/e2e/udsprobe.c) plays both ends.

UDS_PROBE=$WORK/udsprobe
if ! ${CC:-gcc} -O2 -static -o "$UDS_PROBE" "$ROOT/test/e2e/udsprobe.c" 2>"$WORK/udsprobe.err"; then
	fail "host unix sockets" "cannot build test/e2e/udsprobe.c: $(cat "$WORK/udsprobe.err")"
else
	UDS=$WORK/uds
	mkdir -p "$UDS" "$RFS/mnt/uds"
	touch "$RFS/mnt/uds.sock"
	cp "$UDS_PROBE" "$RFS/bin/udsprobe"

	# udsrun NAME FLAG ARGS...: runsc FLAG run of a bundle running
	# udsprobe ARGS with $UDS bound read-write on /mnt/uds.
	udsrun() {
		local name=$1 flag=$2 args b
		shift 2
		args=$(printf '"%s",' "udsprobe" "$@")
		b=$(bundle "$name" "{\"process\":{\"args\":[${args%,}]},
			\"mounts\":[{\"destination\":\"/mnt/uds\",\"type\":\"bind\",\"source\":\"$UDS\",\"options\":[\"rbind\",\"rw\"]}]}")
		rs "$flag" run --bundle "$b" "$name"
	}

	# The sandbox connects to a host listener (--host-uds=all).
	rm -f "$UDS"/*
	"$UDS_PROBE" listen "$UDS/h.sock" "host-reply" 20 >"$WORK/uds.host" 2>&1 &
	hpid=$!
	udsrun uds-connect --host-uds=all connect /mnt/uds/h.sock sandbox-hello 5
	wait "$hpid"
	hstatus=$?
	if [ "$status" -eq 0 ] && [ "$out" = "got: host-reply" ] && [ "$hstatus" -eq 0 ] && [ "$(cat "$WORK/uds.host")" = "got: sandbox-hello" ]; then
		pass "host-uds: a sandbox client talks to a host listener"
	else
		fail "host-uds: connect to a host listener" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")"
	fi

	# A bind mount of the socket file itself (as docker.sock is bound):
	# reached with --host-uds=open, refused with none.
	for mode in open none; do
		rm -f "$UDS"/*
		"$UDS_PROBE" listen "$UDS/h.sock" "host-reply" 5 >"$WORK/uds.host" 2>&1 &
		hpid=$!
		b=$(bundle "uds-file-$mode" "{\"process\":{\"args\":[\"udsprobe\",\"connect\",\"/mnt/uds.sock\",\"sandbox-hello\",\"5\"]},
			\"mounts\":[{\"destination\":\"/mnt/uds.sock\",\"type\":\"bind\",\"source\":\"$UDS/h.sock\",\"options\":[\"bind\",\"rw\"]}]}")
		for i in $(seq 50); do [ -S "$UDS/h.sock" ] && break; sleep 0.1; done
		rs --host-uds=$mode run --bundle "$b" "uds-file-$mode"
		wait "$hpid"
		hstatus=$?
		if [ $mode = open ]; then
			ok=$([ "$status" -eq 0 ] && [ "$out" = "got: host-reply" ] && [ "$hstatus" -eq 0 ] && [ "$(cat "$WORK/uds.host")" = "got: sandbox-hello" ] && echo y)
		else
			ok=$([ "$status" -eq 1 ] && [ "$out" = "connect: ECONNREFUSED" ] && [ "$hstatus" -eq 2 ] && echo y)
		fi
		if [ "$ok" = y ]; then
			pass "host-uds=$mode: a bind-mounted host socket file (docker.sock style)"
		else
			fail "host-uds=$mode: bind-mounted host socket file" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")"
		fi
	done

	# Sandbox files never reach the host: SCM_RIGHTS is EPERM and nothing
	# is sent; SO_PEERCRED is the host peer's uid, pid 0 (outside the
	# sandbox's pid namespace, as Linux reports it).
	rm -f "$UDS"/*
	"$UDS_PROBE" listen "$UDS/h.sock" "host-reply" 20 >"$WORK/uds.host" 2>&1 &
	hpid=$!
	udsrun uds-rights --host-uds=open connect-rights /mnt/uds/h.sock sandbox-hello 5
	wait "$hpid"
	hstatus=$?
	want="sendmsg SCM_RIGHTS: EPERM
peer pid 0 uid $(id -u)
got: host-reply"
	if [ "$status" -eq 0 ] && [ "$out" = "$want" ] && [ "$hstatus" -eq 0 ] && [ "$(cat "$WORK/uds.host")" = "got: sandbox-hello" ]; then
		pass "host-uds: SCM_RIGHTS to the host is refused, SO_PEERCRED is the host's"
	else
		fail "host-uds: SCM_RIGHTS and SO_PEERCRED" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")"
	fi

	# A host client connects to a socket the sandbox binds (--host-uds=all):
	# a socket file on the host, with the sandbox's umask applied.
	rm -f "$UDS"/*
	"$UDS_PROBE" connect "$UDS/s.sock" "host-hello" 20 >"$WORK/uds.host" 2>&1 &
	hpid=$!
	udsrun uds-bind --host-uds=all listen /mnt/uds/s.sock sandbox-reply 20
	wait "$hpid"
	hstatus=$?
	mode=$(stat -c %A "$UDS/s.sock" 2>&1)
	if [ "$status" -eq 0 ] && [ "$out" = "got: host-hello" ] && [ "$hstatus" -eq 0 ] && [ "$(cat "$WORK/uds.host")" = "got: sandbox-reply" ] && [ "$mode" = "srwxr-xr-x" ]; then
		pass "host-uds: a host client talks to a socket the sandbox bound"
	else
		fail "host-uds: host client to a sandbox listener" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")" "socket file: $mode"
	fi

	# The default: connect to the host listener is ECONNREFUSED, and it
	# never sees a connection.
	rm -f "$UDS"/*
	"$UDS_PROBE" listen "$UDS/h.sock" "host-reply" 3 >"$WORK/uds.host" 2>&1 &
	hpid=$!
	udsrun uds-connect-none --host-uds=none connect /mnt/uds/h.sock sandbox-hello 5
	wait "$hpid"
	hstatus=$?
	if [ "$status" -eq 1 ] && [ "$out" = "connect: ECONNREFUSED" ] && [ "$hstatus" -eq 2 ]; then
		pass "host-uds=none: connect to a host listener is refused"
	else
		fail "host-uds=none: connect to a host listener" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")"
	fi

	# The default: bind makes a socket file whose endpoint lives in the
	# sentry; a host client is refused, the sandbox sees no connection.
	rm -f "$UDS"/*
	"$UDS_PROBE" connect "$UDS/s.sock" "host-hello" 10 >"$WORK/uds.host" 2>&1 &
	hpid=$!
	udsrun uds-bind-none --host-uds=none listen /mnt/uds/s.sock sandbox-reply 3
	wait "$hpid"
	hstatus=$?
	if [ "$status" -eq 2 ] && [ "$out" = "no connection" ] && [ "$hstatus" -eq 1 ] && [ "$(cat "$WORK/uds.host")" = "connect: ECONNREFUSED" ]; then
		pass "host-uds=none: a sandbox listener is not reachable from the host"
	else
		fail "host-uds=none: host client to a sandbox listener" "status $status" "stdout: $out" "stderr: $err" "host ($hstatus): $(cat "$WORK/uds.host")"
	fi
	rm -f "$UDS"/*
fi
