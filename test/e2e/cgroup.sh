# cgroup.sh is sourced by oci.sh (it uses its bundle, rs, pass and fail):
# the container's cgroup and linux.resources, read back from
# /sys/fs/cgroup on a v1 (or hybrid) host and on a v2 host; runsc update;
# the sentry's own limits (a fork bomb stopped at the pids limit with
# EAGAIN, a memory hog OOM-killed inside the sandbox); the freezer on
# pause; events --stats; the gofer, the sandbox and its stubs in the
# cgroup; one cgroup per --root for the same id; and no cgroup left
# behind.

# The host's layout: v1 controllers (pure v1 or hybrid) or v2 alone.
if grep -q ' - cgroup cgroup .*memory' /proc/self/mountinfo; then
	CGMODE=v1
else
	CGMODE=v2
fi

# CGPREFIX: the parent of the default cgroups (no linux.cgroupsPath) of
# this suite's --root (runsc/cgroup.DefaultPrefix): "rampart" for
# /var/run/runsc, else "rampart-" and 8 hex digits of the SHA-256 of the
# root's path, so that suites with different roots never share one.
# cgprefix ROOT computes it.
cgprefix() {
	if [ "$1" = /var/run/runsc ]; then
		echo rampart
	else
		echo "rampart-$(printf %s "$1" | sha256sum | cut -c1-8)"
	fi
}
CGPREFIX=$(cgprefix "$STATE")

# cgdir CONTROLLER PATH: where a relative cgroupsPath PATH lives, as the
# runtime resolves it (runc's rules): below this shell's own cgroup of the
# controller for v1, below the parent of its own cgroup for v2.
cgdir() {
	local own
	if [ "$CGMODE" = v1 ]; then
		own=$(awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
		echo "/sys/fs/cgroup/$1${own%/}/$2"
	else
		own=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
		own=$(dirname "$own")
		echo "/sys/fs/cgroup${own%/}/$2"
	fi
}

# cgfile CONTROLLER PATH FILE: the contents of a cgroup file.
cgfile() { cat "$(cgdir "$1" "$2")/$3" 2>/dev/null; }

# cggone PATH: no directory of PATH left in any hierarchy.
cggone() {
	local c left=""
	if [ "$CGMODE" = v1 ]; then
		for c in memory cpu cpuacct cpuset pids freezer devices blkio; do
			[ -d "$(cgdir $c "$1")" ] && left="$left $(cgdir $c "$1")"
		done
	else
		[ -d "$(cgdir "" "$1")" ] && left="$(cgdir "" "$1")"
	fi
	echo "$left"
}

# cgoutside PATH PID...: "PID:CONTROLLER" for each PID that is not in the
# cgroup PATH of each controller a container joins.
cgoutside() {
	local path=$1 c p out=""
	shift
	local ctls=(memory cpu cpuacct cpuset pids freezer devices blkio)
	[ "$CGMODE" = v2 ] && ctls=("")
	for c in "${ctls[@]}"; do
		for p in "$@"; do
			grep -qx "$p" <<<"$(cgfile "$c" "$path" cgroup.procs)" || out="$out $p:${c:-v2}"
		done
	done
	echo "$out"
}

# Limits from config.json, read back from the host's files. The bundle's
# root is reached through a link of its own, so that its gofer (whose
# command line names it) can be told from the others.
CGP=rampart-e2e-$$/lim
ln -s "$RFS" "$WORK/cglim-rfs"
B=$(bundle cglim "{\"root\":{\"path\":\"$WORK/cglim-rfs\",\"readonly\":true},\"process\":{\"args\":[\"sleep\",\"1000\"]},\"linux\":{\"cgroupsPath\":\"$CGP\",\"resources\":{
	\"memory\":{\"limit\":134217728,\"reservation\":67108864},
	\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"},
	\"pids\":{\"limit\":32}}}}")
rs create --bundle "$B" --pid-file "$WORK/cglim.pid" cglim
pid=$(cat "$WORK/cglim.pid" 2>/dev/null)
if [ "$CGMODE" = v1 ]; then
	procs=$(cgfile memory "$CGP" cgroup.procs)
	got="$(cgfile memory "$CGP" memory.limit_in_bytes) $(cgfile memory "$CGP" memory.soft_limit_in_bytes) $(cgfile cpu "$CGP" cpu.shares) $(cgfile cpu "$CGP" cpu.cfs_quota_us) $(cgfile cpu "$CGP" cpu.cfs_period_us) $(cgfile cpuset "$CGP" cpuset.cpus) $(cgfile cpuset "$CGP" cpuset.mems) $(cgfile pids "$CGP" pids.max)"
	want="134217728 67108864 512 50000 100000 0 0 256"
	inall=yes
	for c in cpu cpuacct cpuset pids freezer; do
		grep -qx "$pid" <<<"$(cgfile $c "$CGP" cgroup.procs)" || inall="no ($c)"
	done
else
	procs=$(cgfile "" "$CGP" cgroup.procs)
	got="$(cgfile "" "$CGP" memory.max) $(cgfile "" "$CGP" memory.low) $(cgfile "" "$CGP" cpu.weight) $(cgfile "" "$CGP" cpu.max) $(cgfile "" "$CGP" cpuset.cpus) $(cgfile "" "$CGP" cpuset.mems) $(cgfile "" "$CGP" pids.max)"
	want="134217728 67108864 20 50000 100000 0 0 256"
	inall=yes
fi
# The sandbox, its stubs and the gofer: at least the sandbox and the gofer.
if [ "$status" -eq 0 ] && [ "$got" = "$want" ] && grep -qx "$pid" <<<"$procs" && [ "$(wc -l <<<"$procs")" -ge 2 ] && [ "$inall" = yes ]; then
	pass "cgroup ($CGMODE) made with config.json's limits, sandbox and gofer in it"
else
	fail "cgroup ($CGMODE) made with config.json's limits, sandbox and gofer in it" "status $status, in every controller: $inall" "got:  $got" "want: $want" "procs: $(echo $procs)" "sandbox $pid" "$err"
fi
# create starts the gofer and the sandbox outside the cgroup and moves
# them in while they start (runsc/cmd: cgroupJoin): once create has
# returned, the sandbox, its stub processes (the platform's, forked after
# the move) and the gofer are in it, in every controller.
cglimgofer=$(pgrep -f -- "gofer --root=$WORK/cglim-rfs ")
stubs=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
outside=$(cgoutside "$CGP" $pid $stubs $cglimgofer)
if [ -n "$pid" ] && [ -n "$stubs" ] && [ "$(wc -w <<<"$cglimgofer")" -eq 1 ] && [ -z "$outside" ]; then
	pass "create: gofer, sandbox and stubs in the cgroup"
else
	fail "create: gofer, sandbox and stubs in the cgroup" "sandbox $pid, stubs $(echo $stubs), gofer $(echo $cglimgofer)" "outside:$outside"
fi

# runsc update: runc's flags, and linux.resources JSON on stdin.
rs update --memory 256m --memory-reservation 100m --cpu-quota 20000 --pids-limit 40 cglim
s1=$status
e1=$err
echo '{"cpu":{"shares":1024,"period":50000}}' >"$WORK/res.json"
timeout 10 "$RUNSC_BIN" --root="$STATE" update --resources - cglim <"$WORK/res.json" >/dev/null 2>"$WORK/err"
s2=$?
if [ "$CGMODE" = v1 ]; then
	got="$(cgfile memory "$CGP" memory.limit_in_bytes) $(cgfile memory "$CGP" memory.soft_limit_in_bytes) $(cgfile cpu "$CGP" cpu.shares) $(cgfile cpu "$CGP" cpu.cfs_quota_us) $(cgfile cpu "$CGP" cpu.cfs_period_us) $(cgfile pids "$CGP" pids.max)"
	want="268435456 104857600 1024 20000 50000 288"
else
	got="$(cgfile "" "$CGP" memory.max) $(cgfile "" "$CGP" memory.low) $(cgfile "" "$CGP" cpu.weight) $(cgfile "" "$CGP" cpu.max) $(cgfile "" "$CGP" pids.max)"
	want="268435456 104857600 39 20000 50000 288"
fi
if [ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] && [ "$got" = "$want" ]; then
	pass "update changes the cgroup"
else
	fail "update changes the cgroup" "status $s1 $s2" "got:  $got" "want: $want" "$e1" "$(cat "$WORK/err")"
fi
rs update --memory lots cglim
if [ "$status" -ne 0 ] && grep -q "invalid value for memory" <<<"$err"; then pass "update with a bad size fails"; else fail "update with a bad size fails" "status $status" "$err"; fi

# events --stats: the sentry's figures with its (updated) limits, and the
# cgroup's.
rs start cglim
sleep 0.5
# The application's stub is forked after start: born in the cgroup too.
stubs2=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
outside=$(cgoutside "$CGP" $stubs2)
if [ -n "$stubs2" ] && [ "$stubs2" != "$stubs" ] && [ -z "$outside" ]; then
	pass "start: the application's stub in the cgroup"
else
	fail "start: the application's stub in the cgroup" "stubs after create $(echo $stubs), after start $(echo $stubs2)" "outside:$outside"
fi
rs events --stats cglim
if [ "$status" -eq 0 ] && python3 -c '
import json, sys
d = json.loads(sys.argv[1])["data"]
m, c, p = d["memory"], d["cpu"], d["pids"]
ok = (p["current"] == 1 and p["limit"] == 40
      # 256 MiB less the sentry reserve (runsc/cgroup.SentryMemoryLimit).
      and m["usage"]["limit"] == (256 - 32 - 16) << 20
      and 0 < m["usage"]["usage"] < m["usage"]["limit"]
      and 0 < m["raw"]["sandbox_usage"] and m["raw"]["sandbox_limit"] == 256 << 20
      and c["usage"]["total"] > 0 and c["usage"]["total"] == c["usage"]["user"] + c["usage"]["kernel"])
if "'"$CGMODE"'" == "v1":
    ok = ok and len(c["usage"]["percpu"]) > 0 and sum(c["usage"]["percpu"]) > 0
sys.exit(0 if ok else 1)' "$out"; then
	pass "events --stats: sentry and cgroup figures with the limits"
else
	fail "events --stats: sentry and cgroup figures with the limits" "status $status" "$out" "$err"
fi

# pause freezes the cgroup; resume thaws it; events still answer.
freezer() {
	if [ "$CGMODE" = v1 ]; then
		cgfile freezer "$CGP" freezer.state
	else
		grep -q 'frozen 1' "$(cgdir "" "$CGP")/cgroup.events" && echo FROZEN || echo THAWED
	fi
}
rs pause cglim
p=$status
f1=$(freezer)
rs events --stats cglim
ev=$status
f2=$(freezer)
rs resume cglim
r=$status
f3=$(freezer)
if [ "$p" -eq 0 ] && [ "$f1" = FROZEN ] && [ "$ev" -eq 0 ] && [ "$f2" = FROZEN ] && [ "$r" -eq 0 ] && [ "$f3" = THAWED ]; then
	pass "pause freezes the cgroup, resume thaws it"
else
	fail "pause freezes the cgroup, resume thaws it" "pause $p: $f1, events $ev: $f2, resume $r: $f3" "$err"
fi

# delete removes the cgroup (and its parent this runtime made).
rs delete --force cglim
left=$(cggone "$CGP")
parent=$(cggone "rampart-e2e-$$")
gonep=$(gone cglim "$pid")
if [ "$status" -eq 0 ] && [ -z "$left" ] && [ -z "$parent" ] && [ -z "$gonep" ]; then
	pass "delete removes the cgroup"
else
	fail "delete removes the cgroup" "status $status" "left: $left $parent $gonep" "$err"
fi

# A default cgroup ($CGPREFIX/ID below the runtime's own) goes with
# delete of a paused container too.
B=$(bundle cgdef '{"process":{"args":["sleep","1000"]}}')
rs run --detach --bundle "$B" cgdef
rs pause cgdef
made=$(cggone "$CGPREFIX/cgdef")
rs delete --force cgdef
if [ "$status" -eq 0 ] && [ -n "$made" ] && [ -z "$(cggone "$CGPREFIX/cgdef")" ]; then
	pass "default cgroup, removed with a paused container"
else
	fail "default cgroup, removed with a paused container" "status $status, made: $made" "left: $(cggone "$CGPREFIX/cgdef")" "$err"
fi

# The same id under two roots (two suites on one host): two default
# cgroups, and delete under one root leaves the other's container
# running.
STATE2=$WORK/state2
B=$(bundle cgtwin '{"process":{"args":["sleep","1000"]}}')
rs run --detach --bundle "$B" cgtwin
s1=$status
timeout -k 5 "$LIMIT" "$RUNSC_BIN" --root="$STATE2" run --detach --bundle "$B" cgtwin </dev/null >/dev/null 2>"$WORK/err2"
s2=$?
pid1=$(timeout 10 "$RUNSC_BIN" --root="$STATE" state cgtwin 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
CGPREFIX2=$(cgprefix "$STATE2")
in1=$(cgoutside "$CGPREFIX/cgtwin" $pid1)
timeout -k 5 "$LIMIT" "$RUNSC_BIN" --root="$STATE2" delete --force cgtwin >/dev/null 2>>"$WORK/err2"
s3=$?
st1=$(statusof cgtwin)
alive1=$(cgoutside "$CGPREFIX/cgtwin" $pid1)
left2=$(cggone "$CGPREFIX2")
rs delete --force cgtwin
if [ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] && [ "$s3" -eq 0 ] && [ "$CGPREFIX" != "$CGPREFIX2" ] && [ -n "$pid1" ] && [ -z "$in1" ] &&
	[ "$st1" = running ] && [ -z "$alive1" ] && [ -z "$left2" ] && [ -z "$(cggone "$CGPREFIX/cgtwin")" ]; then
	pass "one default cgroup per --root: delete under one root spares the other's container"
else
	fail "one default cgroup per --root: delete under one root spares the other's container" "run $s1 $s2, delete $s3, prefixes $CGPREFIX $CGPREFIX2" \
		"first container: pid $pid1, status $st1, outside its cgroup before: $in1 after: $alive1" "left of the second root: $left2" "$(cat "$WORK/err2")"
fi

# jsonargs SCRIPT RESOURCES: a bundle's JSON running `sh -c SCRIPT` with
# linux.resources RESOURCES (JSON).
jsonargs() {
	python3 -c 'import json, sys; print(json.dumps({"process": {"args": ["sh", "-c", sys.argv[1]]}, "linux": {"resources": json.loads(sys.argv[2])}}))' "$1" "$2"
}

# The pids limit: a fork bomb stops with EAGAIN when the container has 16
# tasks (the init, the bomb's shell and 14 sleeps); once they are killed,
# fork works again.
bomb=$(cat <<'EOF'
sh -c 'n=0; while :; do sleep 100 & n=$((n+1)); echo $n >/tmp/n; done' 2>/tmp/err; echo bomb=$?; read e </tmp/err; echo "$e"; read n </tmp/n; echo started $n; kill -9 -1; sleep 0.2; sh -c "echo forked again"
EOF
)
expect_run pidslimit 0 "bomb=2
sh: can't fork: Resource temporarily unavailable
started 14
forked again" "$(jsonargs "$bomb" '{"pids":{"limit":16}}')"

# The memory limit: a process that outgrows it is OOM-killed inside the
# sandbox (status 137 to its parent) while the init goes on and the
# sandbox survives.
hog=$(cat <<'EOF'
sh -c "x=\$(head -c 60000000 /dev/zero | tr \"\\0\" a); echo survived" 2>/dev/null; echo hog=$?; echo alive
EOF
)
expect_run memhog 0 "hog=137
alive" "$(jsonargs "$hog" '{"memory":{"limit":67108864}}')"

# update reaches a running sentry: with a pids limit of 2, an exec'd shell
# (exec is not limited, as joining a cgroup is not) cannot fork; without
# one, it can.
B=$(bundle cgupd '{"process":{"args":["sleep","1000"]}}')
rs run --detach --bundle "$B" cgupd
rs update --pids-limit 2 cgupd
s1=$status
rs exec cgupd sh -c 'sh -c true; echo not reached'
s2=$status
e2=$err
o2=$out
rs update --pids-limit -1 cgupd
rs exec cgupd sh -c 'sh -c true && echo fork ok'
o3=$out
rs delete --force cgupd
if [ "$s1" -eq 0 ] && [ "$s2" -ne 0 ] && [ -z "$o2" ] && grep -q "can't fork: Resource temporarily unavailable" <<<"$e2" && [ "$o3" = "fork ok" ]; then
	pass "update changes the sentry's pids limit"
else
	fail "update changes the sentry's pids limit" "update $s1" "limited: status $s2, $o2 $e2" "unlimited: $o3" "$err"
fi

# Bad input: a cgroupsPath that leaves its hierarchy, resources the kernel
# would refuse: a clear error, no state, no cgroup.
B=$(bundle cgbad1 '{"linux":{"cgroupsPath":"../../escape"}}')
rs create --bundle "$B" cgbad1
if [ "$status" -ne 0 ] && grep -q "leaves its hierarchy" <<<"$err" && [ ! -e "$STATE/cgbad1" ]; then
	pass "cgroupsPath outside the hierarchy"
else
	fail "cgroupsPath outside the hierarchy" "status $status" "$err"
fi
B=$(bundle cgbad2 '{"linux":{"resources":{"cpu":{"shares":1}}}}')
rs create --bundle "$B" cgbad2
if [ "$status" -ne 0 ] && grep -q "invalid cpu shares" <<<"$err" && [ ! -e "$STATE/cgbad2" ] && [ -z "$(cggone "$CGPREFIX/cgbad2")" ]; then
	pass "invalid resources"
else
	fail "invalid resources" "status $status" "$err" "$(cggone "$CGPREFIX/cgbad2")"
fi

# cgroup_leftovers: the cgroups left by containers of this run (oci.sh's
# last check calls it too), and their parent once no container is left.
cgroup_leftovers() {
	local d l left=""
	for d in "$WORK"/*/; do
		l=$(cggone "$CGPREFIX/$(basename "$d")")
		[ -n "$l" ] && left="$left $l"
	done
	for d in "rampart-e2e-$$" "$(cgprefix "$WORK/state2")"; do
		l=$(cggone "$d")
		[ -n "$l" ] && left="$left $l"
	done
	if [ -z "$(ls -A "$STATE" 2>/dev/null)" ]; then
		l=$(cggone "$CGPREFIX")
		[ -n "$l" ] && left="$left $l"
	fi
	echo "$left"
}
cgleft=$(cgroup_leftovers)
if [ -z "$cgleft" ]; then pass "no cgroup left behind"; else fail "no cgroup left behind" "$cgleft"; fi
