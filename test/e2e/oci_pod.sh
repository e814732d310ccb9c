# oci_pod.sh (sourced by oci.sh, whose helpers it uses): a Kubernetes pod
# as containerd and CRI-O run it. A sandbox container (busybox sleep, the
# pause process) and containers that name it in their annotations, each
# with a rootfs of its own, run in one sandbox process: each sees its own
# files, they share the network, exit statuses reach each container's own
# wait and state, killing one leaves the others, and deleting the sandbox
# container stops the rest; nothing is left once they are deleted. Each
# member has a host stand-in (runsc/cmd/pod.go), its state pid, which
# exits as its init does and forwards signals to it; the containers are
# created under oci_exec.sh's reaper, which adopts the stand-ins as
# containerd's shim does and sees how they end. ps --format json of a
# member gives the host processes that run its processes; pause and
# resume of a member freeze and thaw it alone; update of a member sets
# its own pids limit and refuses memory and CPU limits.

# pod_rootfs DIR WHO: a busybox rootfs whose /etc/who says WHO and which
# has /etc/only-WHO.
pod_rootfs() {
	mkdir -p "$1"/{bin,tmp,dev,proc,sys,etc}
	cp "$BUSYBOX" "$1/bin/busybox"
	for a in sh echo cat sleep nc true tty id pwd grep; do ln -sf busybox "$1/bin/$a"; done
	echo "$2" >"$1/etc/who"
	touch "$1/etc/only-$2"
}
pod_rootfs "$WORK/pod-rfs-a" A
pod_rootfs "$WORK/pod-rfs-b" B

# pod_bundle ID ROOTFS ARGS-JSON ANNOTATIONS-JSON
pod_bundle() {
	bundle "$1" "{\"root\":{\"path\":\"$2\",\"readonly\":true},\"process\":{\"args\":$3},\"annotations\":$4}"
}
ctrd() { printf '{"io.kubernetes.cri.container-type":"%s","io.kubernetes.cri.sandbox-id":"%s"}' "$1" "$2"; }
crio() { printf '{"io.kubernetes.cri-o.ContainerType":"%s","io.kubernetes.cri-o.SandboxID":"%s"}' "$1" "$2"; }
# pod_create ID BUNDLE: create, under the reaper, with the container's
# stdout and stderr in $WORK/ID.out and $WORK/ID.err (a container keeps
# the ones it was given).
pod_create() {
	reap_sh "create-$1" "exec $(printf '%q ' "$RUNSC_BIN" --root="$STATE" create --bundle "$2" --pid-file "$WORK/$1.pid" "$1") </dev/null >$(printf %q "$WORK/$1.out") 2>$(printf %q "$WORK/$1.err")"
	[ "$status" = "exited 0" ]
}
# standin_of ID: the pid in ID's pid file if it is a runsc stand-in.
standin_of() {
	local p
	p=$(cat "$WORK/$1.pid" 2>/dev/null)
	[ -n "$p" ] && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--stand-in -- $1 " && echo "$p"
}
# goferof ID: the gofer's pid and start time (PID:START) in ID's state file.
goferof() {
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["pod"]; print("%d:%d" % (p["goferPid"], p["goferStartTime"]))' "$STATE/$1/state.json" 2>/dev/null
}
# pidof_state ID: the pid `runsc state ID` reports.
pidof_state() {
	timeout 10 "$RUNSC_BIN" --root="$STATE" state "$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null
}
# member_output NAME BUNDLE WANT DESC creates, starts and waits for member
# NAME of bundle BUNDLE, passes DESC if its init exited 0 having printed
# WANT, and deletes it.
member_output() {
	pod_create "$1" "$2"
	rs start "$1"
	rs wait "$1"
	local w=$status
	if [ "$w" -eq 0 ] && [ "$(cat "$WORK/$1.out")" = "$3" ]; then
		pass "$4"
	else
		fail "$4" "wait $w" "stdout: $(cat "$WORK/$1.out")" "want:   $3" "$(cat "$WORK/$1.err")"
	fi
	rs delete "$1"
}

B=$(pod_bundle podsb "$RFS" '["sleep","1000"]' "$(ctrd sandbox podsb)")
pod_create podsb "$B"
c=$?
rs start podsb
sbpid=$(cat "$WORK/podsb.pid" 2>/dev/null)
if [ "$c" -eq 0 ] && [ "$status" -eq 0 ] && [ "$(statusof podsb)" = running ]; then pass "pod: sandbox container"; else fail "pod: sandbox container" "create $c start $status" "$(cat "$WORK/podsb.err")" "$err"; fi

# A: containerd's annotations; listens on the pod's loopback.
B=$(pod_bundle poda "$WORK/pod-rfs-a" '["sh","-c","cat /etc/who; [ -e /etc/only-B ] || echo no-B; sleep 1000 | nc -l -p 7777 >/tmp/got"]' "$(ctrd container podsb)")
pod_create poda "$B"
c=$?
apid=$(standin_of poda)
st=$(statusof poda)
if [ "$c" -eq 0 ] && [ "$st" = created ] && [ -n "$sbpid" ] && [ -n "$apid" ] && [ "$apid" != "$sbpid" ] && [ "$(pidof_state poda)" = "$apid" ] &&
	[ "$(pidof_state podsb)" = "$sbpid" ] &&
	[ -z "$(pgrep -f "root=$STATE .*boot .*--id=poda")" ] && [ -n "$(pgrep -f "root=$STATE .*boot .*--id=podsb")" ]; then
	pass "pod: create joins the sandbox (no new sandbox process; pid is the member's stand-in)"
else
	fail "pod: create joins the sandbox (no new sandbox process; pid is the member's stand-in)" "create $c status $st pid-file $(cat "$WORK/poda.pid") stand-in $apid sandbox $sbpid" "$(pgrep -af "root=$STATE .*boot")" "$(cat "$WORK/poda.err")"
fi
# The member's gofer is started outside the member's cgroup and moved
# into it before it serves (runsc/cmd: cgroupJoin).
ga=$(goferof poda)
outside=$(cgoutside "$CGPREFIX/poda" "${ga%%:*}")
if [ -n "$ga" ] && [ -z "$outside" ]; then pass "pod: the member's gofer in the member's cgroup"; else fail "pod: the member's gofer in the member's cgroup" "gofer $ga, outside:$outside"; fi
rs start poda
sleep 0.5
if [ "$status" -eq 0 ] && [ "$(statusof poda)" = running ] && [ "$(statusof podsb)" = running ] &&
	[ "$(cat "$WORK/poda.out")" = "$(printf 'A\nno-B')" ]; then
	pass "pod: start; the container sees its own root"
else
	fail "pod: start; the container sees its own root" "start $status, now $(statusof poda)" "stdout: $(cat "$WORK/poda.out")" "$err $(cat "$WORK/poda.err")"
fi

# B: CRI-O's annotations; reaches A's listener, then exits 3.
B=$(pod_bundle podb "$WORK/pod-rfs-b" '["sh","-c","cat /etc/who; [ -e /etc/only-A ] || echo no-A; for i in 1 2 3 4 5 6 7 8 9 10; do echo ping | nc 127.0.0.1 7777 >/dev/null && break; sleep 0.3; done; exit 3"]' "$(crio container podsb)")
pod_create podb "$B"
c=$?
bpid=$(standin_of podb)
rs start podb
s=$status
rs wait podb
w=$status
if [ "$c" -eq 0 ] && [ "$s" -eq 0 ] && [ "$w" -eq 3 ] && [ "$(statusof podb)" = stopped ] &&
	[ "$(cat "$WORK/podb.out")" = "$(printf 'B\nno-A')" ]; then
	pass "pod: CRI-O's annotations; own root; exit status 3 reaches wait and state"
else
	fail "pod: CRI-O's annotations; own root; exit status 3 reaches wait and state" "create $c start $s wait $w now $(statusof podb)" "stdout: $(cat "$WORK/podb.out")" "$(cat "$WORK/podb.err")"
fi
how=$(reaped "$bpid" 5)
if [ -n "$bpid" ] && [ "$how" = "exited 3" ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: the member's stand-in exits with its init's status"
else
	fail "pod: the member's stand-in exits with its init's status" "stand-in $bpid: $how" "sandbox $(statusof podsb)"
fi
# D: its own process settings (user, cwd, env, rlimits, capabilities).
B=$(bundle podd "{\"root\":{\"path\":\"$WORK/pod-rfs-b\",\"readonly\":true},\"annotations\":$(crio container podsb),
	\"process\":{\"args\":[\"sh\",\"-c\",\"id -u; id -g; pwd; echo \$FOO; ulimit -n; grep CapEff /proc/self/status\"],
	\"user\":{\"uid\":1000,\"gid\":1001},\"cwd\":\"/etc\",\"env\":[\"PATH=/bin\",\"FOO=bar\"],
	\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200}],
	\"capabilities\":{\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"],\"inheritable\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}}}")
member_output podd "$B" "$(printf '1000\n1001\n/etc\nbar\n100\nCapEff:\t0000000000000020')" \
	"pod: a member's own user, cwd, env, rlimits and capabilities"

# PID namespaces: a member has its own, where its init is pid 1 and /proc
# shows only its processes; a member whose linux.namespaces names a pid
# namespace path (containerd: the sandbox's) shares the sandbox
# container's, whose init (sleep 1000) is pid 1 there.
B=$(pod_bundle podpn "$WORK/pod-rfs-b" '["sh","-c","echo $$; for d in /proc/[0-9]*; do echo ${d#/proc/}; done"]' "$(crio container podsb)")
member_output podpn "$B" "$(printf '1\n1')" \
	"pod: a member's own PID namespace (its init is pid 1; /proc shows only its processes)"
B=$(bundle podps "{\"root\":{\"path\":\"$WORK/pod-rfs-b\",\"readonly\":true},\"annotations\":$(ctrd container podsb),
	\"process\":{\"args\":[\"sh\",\"-c\",\"[ \$\$ != 1 ] && echo not-init; x=\$(cat /proc/1/cmdline); echo \$x\"]},
	\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"/proc/$sbpid/ns/pid\"},{\"type\":\"mount\"}]}}")
member_output podps "$B" "$(printf 'not-init\nsleep1000')" \
	"pod: a member with a pid namespace path shares the sandbox container's"

# Hooks of a member (oci.sh's hook.sh): the create-time kinds run at its
# create, in order, with its state; a failing createRuntime hook fails the
# create and destroys that member alone.
: >"$HL"
B=$(bundle podhk "{\"root\":{\"path\":\"$WORK/pod-rfs-b\",\"readonly\":true},\"annotations\":$(ctrd container podsb),
	\"process\":{\"args\":[\"true\"]},\"hooks\":{\"prestart\":[$(hook prestart)],\"createRuntime\":[$(hook createRuntime)],\"createContainer\":[$(hook createContainer)]}}")
pod_create podhk "$B"
c=$?
got=$(cat "$HL" 2>/dev/null)
if [ "$c" -eq 0 ] && [ "$got" = "$(printf 'prestart created\ncreateRuntime created\ncreateContainer created')" ]; then
	pass "pod: a member's create-time hooks, in order, with its state"
else
	fail "pod: a member's create-time hooks, in order, with its state" "create $c" "$got" "$(cat "$WORK/podhk.err")"
fi
rs delete --force podhk
B=$(bundle podhkbad "{\"root\":{\"path\":\"$WORK/pod-rfs-b\",\"readonly\":true},\"annotations\":$(ctrd container podsb),
	\"process\":{\"args\":[\"true\"]},\"hooks\":{\"createRuntime\":[{\"path\":\"/bin/false\"}]}}")
pod_create podhkbad "$B"
c=$?
hkpid=$(cat "$WORK/podhkbad.pid" 2>/dev/null)
if [ "$c" -ne 0 ] && grep -q "createRuntime hook" "$WORK/podhkbad.err" && [ ! -e "$STATE/podhkbad" ] &&
	{ [ -z "$hkpid" ] || [ "$(reaped "$hkpid" 5)" != running ]; } && [ "$(statusof podsb)" = running ]; then
	pass "pod: a failing hook fails the member's create and leaves the sandbox"
else
	fail "pod: a failing hook fails the member's create and leaves the sandbox" "create $c, stand-in ${hkpid:-none}: $(reaped "$hkpid" 1)" "state: $(ls "$STATE")" "sandbox $(statusof podsb)" "$(cat "$WORK/podhkbad.err")"
fi

rs exec poda cat /tmp/got
if [ "$status" -eq 0 ] && [ "$out" = ping ]; then pass "pod: the containers share the network (loopback TCP)"; else fail "pod: the containers share the network (loopback TCP)" "status $status" "out: $out" "$err"; fi
rs exec poda sh -c 'cat /etc/who; exit 4'
if [ "$status" -eq 4 ] && [ "$out" = A ]; then pass "pod: exec runs in the container's own root"; else fail "pod: exec runs in the container's own root" "status $status" "$out" "$err"; fi
rs exec podsb sh -c '[ -e /etc/who ] || echo none'
if [ "$status" -eq 0 ] && [ "$out" = none ]; then pass "pod: the sandbox container keeps its own root"; else fail "pod: the sandbox container keeps its own root" "status $status" "$out" "$err"; fi

# C: a third container, which outlives A and is stopped with the sandbox.
B=$(pod_bundle podc "$WORK/pod-rfs-b" '["sleep","1000"]' "$(crio container podsb)")
pod_create podc "$B"
rs start podc
rs events --stats podc
if [ "$status" -eq 0 ] && python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(0 if e["id"]=="podc" and e["data"]["pids"]["current"]==1 else 1)' "$out"; then
	pass "pod: events --stats counts the container's own tasks"
else
	fail "pod: events --stats counts the container's own tasks" "status $status" "$out" "$err"
fi

rs ps podc
psc=$out
rs ps poda
if [ "$(sed 1d <<<"$psc" | awk '{print $4}')" = sleep ] && grep -qw sh <<<"$out" && ! grep -qw "$(sed 1d <<<"$psc" | awk '{print $2}')" <<<"$(sed 1d <<<"$out" | awk '{print $2}')"; then
	pass "pod: ps lists the container's own processes"
else
	fail "pod: ps lists the container's own processes" "podc: $psc" "poda: $out" "$err"
fi

# Killing A: a handler-less init ignores TERM from outside; KILL ends A
# alone.
rs kill poda TERM
sleep 0.3
ta=$(statusof poda)
rs kill poda KILL
rs wait poda
w=$status
how=$(reaped "$apid" 5)
if [ "$ta" = running ] && [ "$w" -eq 137 ] && [ "$(statusof poda)" = stopped ] && [ "$(statusof podc)" = running ] &&
	[ "$(statusof podsb)" = running ] && [ "$how" = "signaled 9" ]; then
	pass "pod: killing one container leaves the others; its stand-in dies of SIGKILL"
else
	fail "pod: killing one container leaves the others; its stand-in dies of SIGKILL" "after TERM $ta, wait $w, stand-in $how" "a $(statusof poda) c $(statusof podc) sandbox $(statusof podsb)" "$err"
fi
rs exec podc true
if [ "$status" -eq 0 ]; then pass "pod: the others still run"; else fail "pod: the others still run" "$err"; fi

# Signals to a member's stand-in reach its init, as `runsc kill` sends
# them (the init ignores those it does not handle).
B=$(pod_bundle podg "$WORK/pod-rfs-a" '["sh","-c","trap \"exit 5\" TERM; echo ready; while :; do sleep 0.1; done"]' "$(ctrd container podsb)")
pod_create podg "$B"
gpid=$(standin_of podg)
rs start podg
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(cat "$WORK/podg.out" 2>/dev/null)" = ready ] && break
	sleep 0.2
done
[ -n "$gpid" ] && kill -USR1 "$gpid"
sleep 0.3
su=$(statusof podg)
[ -n "$gpid" ] && kill -TERM "$gpid"
how=$(reaped "$gpid" 5)
rs wait podg
if [ -n "$gpid" ] && [ "$su" = running ] && [ "$how" = "exited 5" ] && [ "$status" -eq 5 ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: kill -TERM of a member's stand-in reaches its init"
else
	fail "pod: kill -TERM of a member's stand-in reaches its init" "stand-in $gpid: after USR1 $su, after TERM $how; wait $status" "$err"
fi
rs delete podg

# A member's stand-in killed with SIGKILL: the sandbox kills the member.
B=$(pod_bundle podh "$WORK/pod-rfs-a" '["sleep","1000"]' "$(ctrd container podsb)")
pod_create podh "$B"
hpid=$(standin_of podh)
rs start podh
[ -n "$hpid" ] && kill -KILL "$hpid"
how=$(reaped "$hpid" 5)
rs wait podh
w=$status
rs ps podh
if [ -n "$hpid" ] && [ "$how" = "signaled 9" ] && [ "$w" -eq 137 ] && [ "$(sed 1d <<<"$out")" = "" ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: SIGKILL of a member's stand-in kills the member"
else
	fail "pod: SIGKILL of a member's stand-in kills the member" "stand-in $hpid: $how; wait $w" "ps: $out" "$err"
fi
rs delete podh

# exec in a member: the stand-in's SIGTERM ends the process (runsc ps).
reap podx exec --detach --pid-file "$WORK/podx.pid" podc sleep 4245
r=$status
xpid=$(cat "$WORK/podx.pid" 2>/dev/null)
rs ps podc
n1=$(grep -c ' sleep$' <<<"$out")
[ -n "$xpid" ] && kill -TERM "$xpid"
how=$(reaped "$xpid" 5)
sleep 0.2
rs ps podc
n2=$(grep -c ' sleep$' <<<"$out")
if [ "$r" = "exited 0" ] && [ "$n1" = 2 ] && [ "$how" = "signaled 15" ] && [ "$n2" = 1 ]; then
	pass "pod: exec stand-in in a member: SIGTERM ends the process"
else
	fail "pod: exec stand-in in a member: SIGTERM ends the process" "exec $r; sleeps $n1 then $n2; stand-in $how" "$out" "$err"
fi

# ps --format json of a member: the host pids of its own processes (the
# stubs in which their instructions run), which clients match against the
# host's ps: live descendants of the sandbox process, not the member's
# stand-in, none of another container's; a process exec'd into the member
# adds one, which leaves the member's list when that process ends (the
# host process may live on: systrap recycles a stub as a spare for the
# sandbox's next process, of any container).
# jpids JSON: the pids of a JSON list, sorted, one line.
jpids() { python3 -c 'import json,sys; print(" ".join(str(p) for p in sorted(json.loads(sys.argv[1]))))' "$1" 2>/dev/null; }
# descends PID ROOT: PID is ROOT or one of its descendants.
descends() {
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$2" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}
rs ps --format json podc
jc1=$(jpids "$out")
rs ps --format json podsb
jsb=$(jpids "$out")
cstand=$(standin_of podc)
bad=""
for p in $jc1; do
	[ -d "/proc/$p" ] || bad+="$p is no live host process; "
	[ "$p" = "$cstand" ] && bad+="$p is the stand-in; "
	descends "$p" "$sbpid" || bad+="$p is not the sandbox's ($sbpid); "
	[ "$p" = "$sbpid" ] && bad+="$p is the sandbox process; "
	case " $jsb " in *" $p "*) bad+="$p is in the sandbox container's list too; " ;; esac
done
reap podj exec --detach --pid-file "$WORK/podj.pid" podc sleep 4246
jpid=$(cat "$WORK/podj.pid" 2>/dev/null)
rs ps --format json podc
jc2=$(jpids "$out")
new=""
for p in $jc2; do case " $jc1 " in *" $p "*) ;; *) new+="$p " ;; esac; done
new=${new% }
[ -n "$jpid" ] && kill -TERM "$jpid"
how=$(reaped "$jpid" 5)
sleep 0.3
rs ps --format json podc
jc3=$(jpids "$out")
if [ -n "$jc1" ] && [ "$(wc -w <<<"$jc1")" -eq 1 ] && [ -z "$bad" ] && [ "$(wc -w <<<"$new")" -eq 1 ] &&
	[ "$(wc -w <<<"$jc2")" -eq 2 ] && [ "$how" = "signaled 15" ] && [ "$jc3" = "$jc1" ]; then
	pass "pod: ps --format json of a member lists the host processes that run its processes"
else
	fail "pod: ps --format json of a member lists the host processes that run its processes" \
		"member [$jc1], with an exec'd process [$jc2] (new: $new), after it ended [$jc3]; sandbox container [$jsb], sandbox $sbpid, stand-in $cstand, exec stand-in $how" "$bad" "$err"
fi

# Pause of a member freezes its processes alone: its output stops while
# another member's goes on and the sandbox container still serves exec;
# its state says paused; exec into it is refused; the sandbox container's
# own pause and resume leave it paused; resume lets it go on; a paused
# member still has its host pids; SIGKILL ends it.
loop='["sh","-c","while :; do echo x; sleep 0.05; done"]'
B=$(pod_bundle podp "$WORK/pod-rfs-a" "$loop" "$(ctrd container podsb)")
pod_create podp "$B"
rs start podp
B=$(pod_bundle podq "$WORK/pod-rfs-b" "$loop" "$(crio container podsb)")
pod_create podq "$B"
rs start podq
sleep 0.5
rs pause podp
p1=$status
sp=$(statusof podp)
ssb=$(statusof podsb)
sleep 0.3
n1=$(wc -c <"$WORK/podp.out")
q1=$(wc -c <"$WORK/podq.out")
rs exec podsb true
x1=$status
rs exec podp true
x2=$status
rs ps --format json podp
jp=$(jpids "$out")
live=0
for p in $jp; do [ -d "/proc/$p" ] && live=$((live + 1)); done
rs pause podp
p2=$status
sleep 1
n2=$(wc -c <"$WORK/podp.out")
q2=$(wc -c <"$WORK/podq.out")
rs pause podsb
ps1=$status
rs resume podsb
ps2=$status
sleep 0.5
n3=$(wc -c <"$WORK/podp.out")
sp2=$(statusof podp)
rs resume podp
r1=$status
sleep 1
n4=$(wc -c <"$WORK/podp.out")
sp3=$(statusof podp)
rs resume podp
r2=$status
if [ "$p1" -eq 0 ] && [ "$sp" = paused ] && [ "$ssb" = running ] && [ "$n1" -gt 0 ] && [ "$n1" -eq "$n2" ] && [ "$q2" -gt "$q1" ] &&
	[ "$x1" -eq 0 ] && [ "$x2" -ne 0 ] && [ "$live" -ge 1 ] && [ "$p2" -ne 0 ] && [ "$ps1" -eq 0 ] && [ "$ps2" -eq 0 ] &&
	[ "$n3" -eq "$n2" ] && [ "$sp2" = paused ] && [ "$r1" -eq 0 ] && [ "$n4" -gt "$n3" ] && [ "$sp3" = running ] && [ "$r2" -ne 0 ] &&
	[ "$(statusof podq)" = running ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: pause and resume of a member freeze and thaw its processes alone"
else
	fail "pod: pause and resume of a member freeze and thaw its processes alone" \
		"pause $p1 ($sp, sandbox $ssb), output $n1 $n2 $n3 $n4, other member $q1 $q2, exec in sandbox $x1 in member $x2" \
		"host pids [$jp] ($live live), second pause $p2, sandbox pause $ps1 resume $ps2 (member then $sp2), resume $r1 ($sp3), second resume $r2" "$err"
fi
rs pause podp
rs kill podp KILL
rs wait podp
w=$status
rs delete podp
d=$status
if [ "$w" -eq 137 ] && [ "$d" -eq 0 ] && [ ! -e "$STATE/podp" ] && [ "$(statusof podq)" = running ]; then
	pass "pod: SIGKILL of a paused member"
else
	fail "pod: SIGKILL of a paused member" "wait $w delete $d" "$err"
fi
rs delete --force podq

# Update of a member: its pids limit is the sentry's count of its own
# tasks (fork fails past it; -1 lifts it) and shows in its stats; memory
# and CPU limits, which are the sandbox container's, are refused and
# change nothing.
B=$(pod_bundle podu "$WORK/pod-rfs-a" '["sleep","1000"]' "$(ctrd container podsb)")
pod_create podu "$B"
rs start podu
forks='sleep 0.1 & sleep 0.1 & wait && echo forked'
rs exec podu sh -c "$forks"
f0="$status:$out"
rs update --pids-limit 2 podu
u1=$status
rs events --stats podu
lim=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"]["pids"].get("limit"))' "$out" 2>/dev/null)
rs exec podu sh -c "$forks"
f1="$status:$out"
rs exec podsb sh -c "$forks"
fsb="$status:$out"
rs update --memory 64m podu
u2=$status
e2=$err
rs update --cpu-shares 512 podu
u3=$status
e3=$err
rs update --pids-limit -1 podu
u4=$status
rs exec podu sh -c "$forks"
f2="$status:$out"
if [ "$f0" = "0:forked" ] && [ "$u1" -eq 0 ] && [ "$lim" = 2 ] && [ "${f1%%:*}" -ne 0 ] && [ "$fsb" = "0:forked" ] &&
	[ "$u2" -ne 0 ] && grep -q "part of a pod" <<<"$e2" && grep -q memory <<<"$e2" && [ "$u3" -ne 0 ] && grep -q "cpu shares" <<<"$e3" &&
	[ "$u4" -eq 0 ] && [ "$f2" = "0:forked" ] && [ "$(statusof podu)" = running ]; then
	pass "pod: update of a member: its own pids limit; memory and CPU refused"
else
	fail "pod: update of a member: its own pids limit; memory and CPU refused" \
		"forks before $f0, limit 2: update $u1 stats limit $lim, member $f1, sandbox container $fsb; after -1: update $u4, $f2" \
		"memory: $u2 $e2" "cpu: $u3 $e3"
fi
rs delete --force podu

# A member with a terminal: the master goes to the console socket as for
# any container (consoledrive, from oci_console.sh, plays the client).
if [ -x "${CD:-}" ] && declare -F cdrive >/dev/null; then
	B=$(bundle podt "{\"root\":{\"path\":\"$WORK/pod-rfs-a\",\"readonly\":true},\"process\":{\"args\":[\"sh\"],\"terminal\":true,\"env\":[\"PATH=/bin\",\"PS1=$ \"]},\"annotations\":$(ctrd container podsb)}")
	cdrive "pod: a member with a terminal (console socket)" socket "$WORK/pod-console.sock" exited:0 \
		"shell:$RUNSC_BIN --root=$STATE start podt" 'expect:$ ' 'send:tty\r' 'expect:/dev/pts/' \
		'send:cat /etc/who\r' 'expect:A' 'send:exit 4\r' eof \
		-- "$RUNSC_BIN" --root="$STATE" create --console-socket "$WORK/pod-console.sock" --bundle "$B" podt
	rs wait podt
	w=$status
	rs delete podt
	if [ "$w" -eq 4 ] && [ ! -e "$STATE/podt" ] && [ "$(statusof podsb)" = running ]; then
		pass "pod: the terminal member's exit status"
	else
		fail "pod: the terminal member's exit status" "wait $w" "$err"
	fi
fi

# Deleting a stopped member: its state, gofer and cgroup go; the sandbox
# stays.
ga=$(goferof poda)
gb=$(goferof podb)
rs delete poda
d1=$status
rs delete podb
d2=$status
left="$(gone poda "$ga")$(gone podb "$gb")$(cggone "$CGPREFIX/poda")$(cggone "$CGPREFIX/podb")"
if [ "$d1" -eq 0 ] && [ "$d2" -eq 0 ] && [ -n "$ga" ] && [ -z "$left" ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: delete of a member leaves nothing of it and the sandbox running"
else
	fail "pod: delete of a member leaves nothing of it and the sandbox running" "delete $d1 $d2 gofer $ga" "$left" "$err"
fi

# A member whose executable does not exist: create fails with the
# shell's message, and neither its state nor its gofer is left.
pod_rootfs "$WORK/pod-rfs-c" C
B=$(pod_bundle podbad0 "$WORK/pod-rfs-c" '["/bin/nonexistent"]' "$(ctrd container podsb)")
rs create --bundle "$B" podbad0
sleep 0.2
if [ "$status" -ne 0 ] && grep -q "no such file" <<<"$err" && [ ! -e "$STATE/podbad0" ] &&
	[ -z "$(pgrep -f "gofer --root=$WORK/pod-rfs-c")" ] && [ -z "$(cggone "$CGPREFIX/podbad0")" ] && [ "$(statusof podsb)" = running ]; then
	pass "pod: a member with a missing executable leaves nothing"
else
	fail "pod: a member with a missing executable leaves nothing" "status $status" "$err" "$(pgrep -af "gofer --root=$WORK/pod-rfs-c")"
fi

# Deleting the sandbox container stops the rest; their stand-ins die.
gc=$(goferof podc)
cpid=$(standin_of podc)
rs delete --force podsb
d=$status
sleep 0.3
sc=$(statusof podc)
how=$(reaped "$cpid" 5)
rs wait podc
w=$status
rs delete podc
left="$(gone podsb "$sbpid")$(gone podc "$gc")$(gone podc "$cpid")$(cggone "$CGPREFIX/podsb")$(cggone "$CGPREFIX/podc")"
if [ "$d" -eq 0 ] && [ "$sc" = stopped ] && [ "$w" -eq 137 ] && [ "$status" -eq 0 ] && [ -n "$cpid" ] && [ "$how" = "signaled 9" ] && [ -z "$left" ] &&
	[ -z "$(pgrep -f "root=$STATE .*boot .*--id=pod")" ] && [ -z "$(pgrep -f "root=$STATE .*--stand-in")" ]; then
	pass "pod: deleting the sandbox container stops the others; nothing left"
else
	fail "pod: deleting the sandbox container stops the others; nothing left" "delete $d, c $sc, wait $w, stand-in $cpid $how" "$left" "$err"
fi

# The sandbox container's init dying stops the pod too; the members
# report their status to wait and state.
B=$(pod_bundle podsb2 "$RFS" '["sleep","1000"]' "$(crio sandbox podsb2)")
pod_create podsb2 "$B"
rs start podsb2
sb2=$(cat "$WORK/podsb2.pid" 2>/dev/null)
B=$(pod_bundle pode "$WORK/pod-rfs-a" '["sleep","1000"]' "$(crio container podsb2)")
pod_create pode "$B"
rs start pode
se=$(statusof pode)
ge=$(goferof pode)
# Deleting a member of a paused pod: the sandbox is thawed for it and
# frozen again; the member's processes are gone once it resumes.
B=$(pod_bundle podf "$WORK/pod-rfs-a" '["sleep","1000"]' "$(crio container podsb2)")
pod_create podf "$B"
rs start podf
rs ps podf
fpid=$(sed 1d <<<"$out" | awk '{print $2}')
rs pause podsb2
rs delete --force podf
d=$status
sp=$(statusof podsb2)
rs resume podsb2
rs exec podsb2 ls /proc
if [ "$d" -eq 0 ] && [ "$sp" = paused ] && [ ! -e "$STATE/podf" ] && [ -n "$fpid" ] && grep -qx 1 <<<"$out" && ! grep -qx "$fpid" <<<"$out"; then
	pass "pod: delete of a member of a paused pod"
else
	fail "pod: delete of a member of a paused pod" "delete $d, sandbox $sp, member's pid $fpid" "$out" "$err"
fi

rs kill podsb2 KILL
rs wait podsb2
w1=$status
rs wait pode
w2=$status
s2=$(statusof pode)
rs delete pode
d1=$status
rs delete podsb2
d2=$status
left="$(gone podsb2 "$sb2")$(gone pode "$ge")$(cggone "$CGPREFIX/podsb2")$(cggone "$CGPREFIX/pode")"
if [ "$se" = running ] && [ "$w1" -eq 137 ] && [ "$w2" -eq 137 ] && [ "$s2" = stopped ] && [ "$d1" -eq 0 ] && [ "$d2" -eq 0 ] && [ -z "$left" ]; then
	pass "pod: the sandbox container's init dying stops its members"
else
	fail "pod: the sandbox container's init dying stops its members" "member was $se; wait sandbox $w1 member $w2; member now $s2; delete $d1 $d2" "$left" "$err"
fi

# Bad input: no such sandbox; a member without a sandbox id; a member of
# a member; nothing is left behind.
B=$(pod_bundle podbad1 "$RFS" '["true"]' "$(ctrd container nosuchsandbox)")
rs create --bundle "$B" podbad1
if [ "$status" -ne 0 ] && grep -q "does not exist" <<<"$err" && [ ! -e "$STATE/podbad1" ]; then pass "pod: unknown sandbox id"; else fail "pod: unknown sandbox id" "status $status" "$err"; fi
B=$(pod_bundle podbad2 "$RFS" '["true"]' '{"io.kubernetes.cri.container-type":"container"}')
rs create --bundle "$B" podbad2
if [ "$status" -ne 0 ] && grep -q "sandbox id" <<<"$err" && [ ! -e "$STATE/podbad2" ]; then pass "pod: a member without a sandbox id"; else fail "pod: a member without a sandbox id" "status $status" "$err"; fi
