#!/usr/bin/env bash
# network.sh checks the sandbox's network end to end:
#  - --network=none: ip addr/link/route and busybox ifconfig print what Linux
#    prints in a fresh network namespace with lo up (unshare -n), and a
#    python3 http.server in the sandbox serves a client in the same sandbox;
#  - --network=host: a client on the host fetches a page from a server in the
#    sandbox and a client in the sandbox from a server on the host (127.0.0.1
#    only); raw and packet sockets are refused; the socket syscall tests
#    pass with host sockets.
# The last line is "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNSC_BIN=${RUNSC_BIN:-$ROOT/bin/runsc}
LIMIT=${NET_TIMEOUT:-60}
mkdir -p "$ROOT/bin"
WORK=$(mktemp -d "$ROOT/bin/network.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
skipped=0
pass() { echo "PASS   $1"; passed=$((passed + 1)); }
skip() { echo "SKIP   $1: $2"; skipped=$((skipped + 1)); }
fail() {
	echo "FAIL   $1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/    /'; done
	failed=$((failed + 1))
}

none() { timeout -k 5 "$LIMIT" "$RUNSC_BIN" do -- "$@"; }
host() { timeout -k 5 "$LIMIT" "$RUNSC_BIN" --network=host do -- "$@"; }

# free_port prints a port nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (from the host).
wait_port() {
	for _ in $(seq 1 200); do
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The page every server serves.
mkdir -p "$WORK/www"
python3 -c 'import sys; sys.stdout.write("".join("line %d of the rampart page\n" % i for i in range(2000)))' >"$WORK/www/page.txt"
want=$(sha256sum <"$WORK/www/page.txt" | cut -d' ' -f1)

FETCH='import sys,urllib.request,hashlib; print(hashlib.sha256(urllib.request.urlopen(sys.argv[1], timeout=30).read()).hexdigest())'

# --- --network=none: interface discovery -------------------------------------
if unshare -n true 2>/dev/null; then
	for cmd in "ip addr" "ip link" "ip -s link" "ip -6 addr" "ip route" "ip -6 route" "ip rule" "ip -6 rule" "ip -br a" "ip route get 127.1.2.3" "ip route get 8.8.8.8" "ip -4 addr show dev lo" "busybox ifconfig" "busybox ifconfig lo"; do
		n=$(unshare -n sh -c "ip link set lo up && $cmd" 2>&1)
		s=$(none $cmd 2>&1)
		if [ "$n" = "$s" ]; then
			pass "none: $cmd"
		else
			fail "none: $cmd" "diff (-netns +sandbox):" "$(diff <(echo "$n") <(echo "$s"))"
		fi
	done
else
	skip "none: ip/ifconfig" "unshare -n is not permitted here"
fi

# --- --network=none: server and client in one sandbox ---------------------------
port=$(free_port)
got=$(none sh -c "cd '$WORK/www' && python3 -m http.server $port --bind 127.0.0.1 >/dev/null 2>&1 & srv=\$!; \
	for i in \$(seq 1 300); do python3 -c \"import socket; socket.create_connection(('127.0.0.1',$port),1)\" 2>/dev/null && break; sleep 0.1; done; \
	python3 -c '$FETCH' http://127.0.0.1:$port/page.txt; kill \$srv" 2>"$WORK/none.err")
if [ "$got" = "$want" ]; then
	pass "none: http.server and client in the sandbox"
else
	fail "none: http.server and client in the sandbox" "got: $got" "$(tail -5 "$WORK/none.err")"
fi
# The loopback of --network=none is not the host's.
port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
pids+=($!)
wait_port "$port"
got=$(none python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),5)" 2>&1)
if printf '%s' "$got" | grep -q ConnectionRefusedError; then
	pass "none: the host's loopback is unreachable"
else
	fail "none: the host's loopback is unreachable" "got: $got"
fi

# --- --network=host ---------------------------------------------------------------
# A client in the sandbox fetches from the host server started above.
got=$(host python3 -c "$FETCH" "http://127.0.0.1:$port/page.txt" 2>&1)
[ "$got" = "$want" ] && pass "host: sandbox client, host server" || fail "host: sandbox client, host server" "got: $got"
got=$(host curl -s -m 30 "http://127.0.0.1:$port/page.txt" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && pass "host: curl in the sandbox" || fail "host: curl in the sandbox" "got: $got"

# A server in the sandbox serves a client on the host.
port=$(free_port)
(cd "$WORK/www" && exec timeout -k 5 "$LIMIT" "$RUNSC_BIN" --network=host do -- python3 -m http.server "$port" --bind 127.0.0.1 >"$WORK/srv.log" 2>&1) &
pids+=($!)
if wait_port "$port"; then
	got=$(python3 -c "$FETCH" "http://127.0.0.1:$port/page.txt" 2>&1)
	[ "$got" = "$want" ] && pass "host: host client, sandbox server" || fail "host: host client, sandbox server" "got: $got"
	got=$(curl -s -m 30 "http://127.0.0.1:$port/page.txt" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "host: curl on the host" || fail "host: curl on the host" "got: $got"
else
	fail "host: host client, sandbox server" "the server did not listen:" "$(tail -5 "$WORK/srv.log")"
fi

# lo is among the host's interfaces, as the host shows it.
got=$(host ip -o link show lo 2>&1 | cut -d' ' -f2-3)
[ "$got" = "lo: <LOOPBACK,UP,LOWER_UP>" ] && pass "host: ip link show lo" || fail "host: ip link show lo" "got: $got"

# Raw and packet sockets are refused.
got=$(host python3 -c '
import socket
for args in [(socket.AF_INET, socket.SOCK_RAW, 1), (socket.AF_PACKET, socket.SOCK_RAW, 0), (socket.AF_INET6, socket.SOCK_RAW, 58)]:
    try:
        socket.socket(*args); print("opened")
    except PermissionError as e:
        print(e.errno)' 2>&1 | tr '\n' ' ')
[ "$got" = "1 1 1 " ] && pass "host: raw and packet sockets refused (EPERM)" || fail "host: raw and packet sockets refused" "got: $got"

# The socket syscall tests hold with host sockets too.
tests=tcp_loopback,tcp_backlog,udp_loopback,socket_errors,socket_badinput,netlink_route,proc_net
if RUNSC="$RUNSC_BIN --network=host do --" make --no-print-directory syscall-tests T=$tests >"$WORK/st.log" 2>&1; then
	pass "host: syscall tests $tests"
else
	fail "host: syscall tests $tests" "$(grep -E '^(FAIL|BROKEN)|FAIL ' "$WORK/st.log" | head -20)"
fi

echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" -eq 0 ]
