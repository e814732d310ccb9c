# oci_config.sh is sourced by oci.sh (it uses its helpers: bundle, rs,
# pass, fail, gone, $RFS, $WORK, $STATE): the parts of config.json that are
# the sandbox's own view of the container: linux.sysctl, linux.devices,
# process.oomScoreAdj, and linux.namespaces (a network namespace path is
# joined; other paths are checked).

for a in ip nc stat ls; do ln -sf busybox "$RFS/bin/$a"; done

# cfgrun NAME JSON: runsc run of a bundle; output in $out/$err, status $status.
cfgrun() {
	local b
	b=$(bundle "$1" "$2")
	rs run --bundle "$b" "$1"
}

# cfgfails NAME JSON WORDS: create must fail, saying WORDS, leaving nothing.
cfgfails() {
	local b
	b=$(bundle "$1" "$2")
	rs create --bundle "$b" "$1"
	# (runc's log lines escape the message's quotes.)
	if [ "$status" -ne 0 ] && sed 's/\\"/"/g' <<<"$err" | grep -qF -- "$3" && [ -z "$(gone "$1" "")" ]; then
		pass "$1: create fails"
	else
		fail "$1: create fails" "status $status" "stderr: $err" "want: $3" "$(gone "$1" "")"
		rs delete --force "$1"
	fi
}

# linux.sysctl: the sandbox's /proc/sys shows the values (docker's two
# among them, as it passes them even with --network none), root may change
# them, and the host's are untouched.
host_ipf=$(cat /proc/sys/net/ipv4/ip_forward)
cfgrun sysctl '{"process":{"args":["sh","-c","cd /proc/sys; cat net/ipv4/ip_unprivileged_port_start net/ipv4/ping_group_range net/ipv4/ip_forward kernel/shmmni fs/mqueue/msg_max; echo 1025 >net/ipv4/ip_unprivileged_port_start && cat net/ipv4/ip_unprivileged_port_start; echo 70000 >net/ipv4/ip_unprivileged_port_start || echo refused; hostname"]},
	"linux":{"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0","net.ipv4.ping_group_range":"0 2147483647","net.ipv4.ip_forward":"1","kernel.shmmni":"1024","fs/mqueue/msg_max":"20","kernel.hostname":"fromsysctl"}}}'
want=$(printf '0\n0\t2147483647\n1\n1024\n20\n1025\nrefused\nfromsysctl')
if [ "$status" -eq 0 ] && [ "$out" = "$want" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_ipf" ]; then
	pass "linux.sysctl"
else
	fail "linux.sysctl" "status $status" "stdout: $out" "want:   $want" "stderr: $err"
fi
cfgfails sysctl-host '{"linux":{"sysctl":{"vm.swappiness":"10"}}}' 'sysctl "vm.swappiness" is not in a separate kernel namespace'
cfgfails sysctl-unknown '{"linux":{"sysctl":{"net.ipv4.no_such_thing":"1"}}}' 'sysctl "net.ipv4.no_such_thing" is not supported by the sandbox'
cfgfails sysctl-value '{"linux":{"sysctl":{"net.ipv4.ip_forward":"yes"}}}' 'net.ipv4.ip_forward: invalid value "yes"'

# linux.devices: nodes with the config's type, number, mode and owner, in
# the sandbox's own /dev and on a config's tmpfs /dev; a number the
# sentry has a driver for works (null, tty), another is ENXIO; the fifo
# is a working FIFO.
devs='"devices":[{"path":"/dev/test1","type":"c","major":10,"minor":666,"fileMode":432,"uid":5,"gid":6},{"path":"/dev/test2","type":"b","major":8,"minor":666,"fileMode":384},{"path":"/dev/fifo","type":"p","fileMode":420},{"path":"/dev/null2","type":"c","major":1,"minor":3}]'
devscript='stat -c "%n %F %t:%T %a %u:%g" /dev/test1 /dev/test2 /dev/fifo /dev/null2; head -c 1 /dev/test1 2>&1 | grep -o "No such device or address"; echo x >/dev/null2 && cat /dev/null2 && echo null2-ok; (echo through >/dev/fifo &); cat /dev/fifo'
want=$(printf '/dev/test1 character special file a:29a 660 5:6\n/dev/test2 block special file 8:29a 600 0:0\n/dev/fifo fifo 0:0 644 0:0\n/dev/null2 character special file 1:3 666 0:0\nNo such device or address\nnull2-ok\nthrough')
cfgrun devices "{\"process\":{\"args\":[\"sh\",\"-c\",$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$devscript")]},\"linux\":{$devs}}"
if [ "$status" -eq 0 ] && [ "$out" = "$want" ]; then pass "linux.devices in the sandbox's /dev"; else fail "linux.devices in the sandbox's /dev" "status $status" "stdout: $out" "want:   $want" "stderr: $err"; fi
cfgrun devices-tmpfs "{\"process\":{\"args\":[\"sh\",\"-c\",$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$devscript")]},\"mounts\":[{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"mode=755\"]}],\"linux\":{$devs}}"
if [ "$status" -eq 0 ] && [ "$out" = "$want" ]; then pass "linux.devices on a tmpfs /dev"; else fail "linux.devices on a tmpfs /dev" "status $status" "stdout: $out" "want:   $want" "stderr: $err"; fi
cfgfails devices-path '{"linux":{"devices":[{"path":"/etc/x","type":"c","major":1,"minor":3}]}}' '"/etc/x" is not a path below /dev'
cfgfails devices-type '{"linux":{"devices":[{"path":"/dev/x","type":"z","major":1,"minor":3}]}}' 'unknown type "z"'

# process.oomScoreAdj: the init's, and its children's.
cfgrun oom '{"process":{"oomScoreAdj":500,"args":["sh","-c","cat /proc/self/oom_score_adj; sh -c \"cat /proc/self/oom_score_adj\""]}}'
if [ "$status" -eq 0 ] && [ "$out" = "$(printf '500\n500')" ]; then pass "process.oomScoreAdj"; else fail "process.oomScoreAdj" "status $status" "stdout: $out" "stderr: $err"; fi
cfgfails oom-range '{"process":{"oomScoreAdj":5000}}' 'process.oomScoreAdj: 5000 is not in'

# linux.namespaces: a network namespace path is joined: the sandbox's
# sockets are host sockets in it (its interfaces, its loopback), not the
# host's.
NETNS=rampart-oci-$$
if ip netns add "$NETNS" 2>/dev/null; then
	ip -n "$NETNS" link set lo up
	ip -n "$NETNS" link add rpt0 type veth peer name rpt1
	ip -n "$NETNS" addr add 10.199.77.1/24 dev rpt0
	ip -n "$NETNS" link set rpt0 up
	ip netns exec "$NETNS" python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(60)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
print(c.recv(100).decode().strip(), flush=True)
' >"$WORK/listener" 2>&1 &
	lpid=$!
	for _ in $(seq 50); do [ -s "$WORK/listener" ] && break; sleep 0.2; done
	port=$(head -n 1 "$WORK/listener")
	cfgrun netns "{\"process\":{\"args\":[\"sh\",\"-c\",\"ip addr | grep -o 'inet 10.199.77.1/24'; ip link | grep -c rpt; echo from-the-container | nc 127.0.0.1 $port && echo sent\"]},
		\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"network\",\"path\":\"/var/run/netns/$NETNS\"}]}}"
	wait "$lpid"
	got=$(sed -n 2p "$WORK/listener")
	if [ "$status" -eq 0 ] && [ "$out" = "$(printf 'inet 10.199.77.1/24\n2\nsent')" ] && [ "$got" = from-the-container ]; then
		pass "linux.namespaces: network namespace path joined"
	else
		fail "linux.namespaces: network namespace path joined" "status $status" "stdout: $out" "listener: $(cat "$WORK/listener")" "stderr: $err"
	fi
	ip netns del "$NETNS"
else
	fail "linux.namespaces: network namespace path joined" "ip netns add failed"
fi
cfgfails netns-missing '{"linux":{"namespaces":[{"type":"network","path":"/nonexistent/ns"}]}}' 'network namespace path: open /nonexistent/ns: no such file or directory'
cfgfails netns-type '{"linux":{"namespaces":[{"type":"network","path":"/proc/self/ns/ipc"}]}}' 'is a namespace of another type'
cfgfails ns-unknown '{"linux":{"namespaces":[{"type":"bogus"}]}}' 'unknown type "bogus"'

# linux.resources.devices: on a v1 host the rules reach the container's
# devices cgroup in config order (once the sandbox runs: starting it opens
# the host's /dev/null); the application's devices are the sentry's, so a
# deny-all list does not stop the container's own null and zero.
rules='"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"b","major":8,"minor":20,"access":"r"}]}'
B=$(bundle devrules "{\"process\":{\"args\":[\"sleep\",\"1000\"]},\"linux\":{$rules}}")
rs create --bundle "$B" devrules
c=$status
cerr=$err
if [ "$CGMODE" = v1 ]; then list=$(cgfile devices "$CGPREFIX/devrules" devices.list); else list="v2"; fi
rs delete --force devrules
if [ "$c" -eq 0 ] && { [ "$CGMODE" = v2 ] || [ "$list" = "$(printf 'c 1:3 rwm\nb 8:20 r')" ]; }; then
	pass "linux.resources.devices: the host cgroup's rules"
else
	fail "linux.resources.devices: the host cgroup's rules" "create $c" "devices.list: $list" "$cerr"
fi
cfgrun devrules-run "{\"process\":{\"args\":[\"sh\",\"-c\",\"head -c 5 /dev/zero | wc -c; echo x >/dev/null && echo null-ok\"]},\"linux\":{$rules}}"
if [ "$status" -eq 0 ] && [ "$out" = "$(printf '5\nnull-ok')" ]; then
	pass "linux.resources.devices: the sentry's devices still work"
else
	fail "linux.resources.devices: the sentry's devices still work" "status $status" "stdout: $out" "stderr: $err"
fi
# The allow-list is also the sentry's: the application may open or make
# only the device nodes it allows (EPERM otherwise, as the devices cgroup
# answers), runc's default devices always included. (Reads take one byte:
# a device allowed by mistake must not be read forever.)
script='head -c 1 /dev/denied 2>&1 | grep -o "Operation not permitted"; head -c 1 /dev/nodriver 2>&1 | grep -o "No such device or address"; head -c 1 /dev/wonly 2>&1 | grep -o "Operation not permitted"; (echo x >/dev/wonly) 2>&1 | grep -o "No such device or address"; echo x >/dev/null && echo null-ok; mknod /tmp/z c 1 5 && head -c 2 /tmp/z | wc -c; mknod /tmp/t c 5 0 && echo tty-node-ok'
cfgrun devrules-sentry "{\"process\":{\"args\":[\"sh\",\"-c\",$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$script")]},
	\"linux\":{\"devices\":[{\"path\":\"/dev/denied\",\"type\":\"c\",\"major\":10,\"minor\":201},{\"path\":\"/dev/nodriver\",\"type\":\"c\",\"major\":10,\"minor\":200},{\"path\":\"/dev/wonly\",\"type\":\"c\",\"major\":10,\"minor\":202}],
	\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rw\"},{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":202,\"access\":\"w\"}]}}}"
want=$(printf 'Operation not permitted\nNo such device or address\nOperation not permitted\nNo such device or address\nnull-ok\n2\ntty-node-ok')
if [ "$status" -eq 0 ] && [ "$out" = "$want" ]; then
	pass "linux.resources.devices: the sentry's allow-list"
else
	fail "linux.resources.devices: the sentry's allow-list" "status $status" "stdout: $out" "want:   $want" "stderr: $err"
fi
cfgfails devrules-bad '{"linux":{"resources":{"devices":[{"allow":true,"type":"x","access":"rwm"}]}}}' 'unknown device type "x"'

# A user namespace: the sandbox process runs in a new one with the
# config's maps (host uid 1000 for container root, no capability on the
# host), the application sees the container's ids and the maps; a cgroup
# namespace asked for is the sandbox's own.
B=$(bundle userns '{"process":{"args":["sh","-c","cat /proc/self/uid_map /proc/self/gid_map; id -u; echo ok >/tmp/f && cat /tmp/f; sleep 1000"]},
	"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"user"},{"type":"cgroup"}],
	"uidMappings":[{"containerID":0,"hostID":1000,"size":2000}],"gidMappings":[{"containerID":0,"hostID":1000,"size":3000}]}}')
rm -f "$WORK/userns.out"
timeout 30 "$RUNSC_BIN" --root="$STATE" create --bundle "$B" userns </dev/null >"$WORK/userns.out" 2>"$WORK/userns.err"
c=$?
timeout 10 "$RUNSC_BIN" --root="$STATE" start userns >/dev/null 2>&1
upid=$(timeout 10 "$RUNSC_BIN" --root="$STATE" state userns 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
for _ in $(seq 50); do grep -q '^ok$' "$WORK/userns.out" && break; sleep 0.2; done
hostids=$(awk '/^(Uid|Gid):/ { printf "%s %s ", $1, $3 } /^CapEff:/ { printf "%s", $2 }' "/proc/$upid/status" 2>/dev/null)
samens=no
[ "$(readlink "/proc/$upid/ns/user")" = "$(readlink /proc/self/ns/user)" ] && samens=yes
[ "$(readlink "/proc/$upid/ns/cgroup")" = "$(readlink /proc/self/ns/cgroup)" ] && samens="$samens cgroup"
rs delete --force userns
uout=$(cat "$WORK/userns.out")
want=$(printf '         0       1000       2000\n         0       1000       3000\n0\nok')
if [ "$c" -eq 0 ] && [ "$uout" = "$want" ] && [ "$hostids" = "Uid: 1000 Gid: 1000 0000000000000000" ] && [ "$samens" = no ]; then
	pass "user namespace: the sandbox's host ids and the container's view"
else
	fail "user namespace: the sandbox's host ids and the container's view" "create $c" "stdout: $uout" "want:   $want" "host: $hostids, same namespace: $samens" "$(cat "$WORK/userns.err")"
fi
cfgfails userns-nomap '{"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":1,"hostID":1000,"size":10}]}}' 'linux.uidMappings: container id 0 is not mapped'
cfgfails userns-none '{"linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":10}]}}' 'no user namespace is asked for'
