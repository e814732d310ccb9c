#!/usr/bin/env bash
# run.sh builds the microbenchmarks in bench/micro (C, and go_getpid and
# go_pread: Go's own syscall path, bench/micro/gosys) and runs each of them
# natively, under runc, under Debian's gVisor (runsc, ptrace platform) and
# under Rampart on its ptrace platform (bin/runsc --platform=ptrace do) and on
# its systrap platform, the default (bin/runsc --platform=systrap do; the
# nopatch column without syscall patching: --systrap-patch=false), in one run, and prints ns/op with the ratio to
# native. A runtime that is missing or fails shows "n/a"; that never fails the
# run. Timings are for reading, not for pass/fail: the machines are noisy.
# Below the table, each row's systrap ratio is set against the systrap
# platform's aim (a fifth of gVisor's ratio; getpid at most 5x native).
#
# Two OCI rows follow, for runc, crun, Debian's gVisor and Rampart (bin/runsc
# on ptrace and on systrap), all on the same prepared busybox bundle:
#   oci_run   `RUNTIME run` of /bin/true, median and p90 of $OCI_RUNS (20) runs;
#   podman_run the same through `podman --runtime RUNTIME run --rm` (podman
#             storage under bench/out/podman; n/a without podman);
#   idle_mem  a detached container running `sleep 1000` (create + start), 2 s
#             later: the summed Pss (Rss when smaps_rollup is missing) of all
#             its host processes: the state's pid, every process whose command
#             line names the bundle or the runtime's --root (gofers), and all
#             their descendants (stubs).
#
#   bench/run.sh [-t SECONDS] [BENCHMARK|python3_startup|gcc_c|oci_run|podman_run|idle_mem...]
#
# Naming only OCI rows (oci_run, podman_run, idle_mem) runs just those.
#
# A benchmark named NAME@host runs NAME with the host's network: Rampart and
# gVisor with --network=host (the TCP benchmarks then use the host's
# loopback instead of the sandbox's own).
#
# Environment: RAMPART (default "bin/runsc --platform=ptrace do --"), SYSTRAP
# (default "bin/runsc --platform=systrap do --"), NOPATCH (default "bin/runsc
# --platform=systrap --systrap-patch=false do --"), RAMPART_HOST (default
# "bin/runsc --platform=ptrace --network=host do --"), GVISOR (default /usr/bin/runsc), RUNC
# (default runc). Without BENCHMARK arguments the file-system benchmarks
# (bench/fs.sh) run after the table, unless BENCH_FS=0. CRUN (default
# crun), OCI_RUNS.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
TARGET=0.5
if [ "${1:-}" = -t ]; then
	TARGET=$2
	shift 2
fi
read -r -a RAMPART <<<"${RAMPART:-bin/runsc --platform=ptrace do --}"
case "${RAMPART[0]}" in /*) ;; */*) RAMPART[0]="$ROOT/${RAMPART[0]}" ;; esac
read -r -a SYSTRAP <<<"${SYSTRAP:-bin/runsc --platform=systrap do --}"
case "${SYSTRAP[0]}" in /*) ;; */*) SYSTRAP[0]="$ROOT/${SYSTRAP[0]}" ;; esac
read -r -a NOPATCH <<<"${NOPATCH:-bin/runsc --platform=systrap --systrap-patch=false do --}"
case "${NOPATCH[0]}" in /*) ;; */*) NOPATCH[0]="$ROOT/${NOPATCH[0]}" ;; esac
read -r -a RAMPART_HOST <<<"${RAMPART_HOST:-bin/runsc --platform=ptrace --network=host do --}"
case "${RAMPART_HOST[0]}" in /*) ;; */*) RAMPART_HOST[0]="$ROOT/${RAMPART_HOST[0]}" ;; esac
GVISOR=${GVISOR:-/usr/bin/runsc}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
OCI_RUNS=${OCI_RUNS:-20}
LIMIT=${BENCH_TIMEOUT:-120}
CC=${CC:-gcc}

oci_rows=()
proc_rows=()
if [ $# -gt 0 ]; then
	benches=()
	for a in "$@"; do
		case "$a" in
		oci_run | podman_run | idle_mem) oci_rows+=("$a") ;;
		python3_startup | gcc_c) proc_rows+=("$a") ;;
		*) benches+=("$a") ;;
		esac
	done
else
	benches=()
	for f in bench/micro/*.c; do benches+=("$(basename "$f" .c)"); done
	benches+=(go_getpid go_pread tcp_pingpong@host tcp_throughput@host)
	oci_rows=(oci_run podman_run idle_mem)
	proc_rows=(python3_startup gcc_c)
fi

# Build the static benchmarks.
mkdir -p "$OUT/bin"
for b in "${benches[@]}"; do
	b=${b%@host}
	src=bench/micro/$b.c
	bin=$OUT/bin/$b
	case "$b" in
	go_*)
		# Go's own syscall path (bench/micro/gosys), static.
		if [ ! -x "$bin" ] || [ bench/micro/gosys/main.go -nt "$bin" ]; then
			CGO_ENABLED=0 go build -o "$bin" ./bench/micro/gosys || exit 1
		fi
		continue
		;;
	esac
	if [ ! -f "$src" ]; then
		echo "bench: no benchmark $b" >&2
		exit 2
	fi
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ bench/micro/bench.h -nt "$bin" ] || [ bench/micro/tcp_conn.h -nt "$bin" ]; then
		"$CC" -O2 -Wall -Werror -static -o "$bin" "$src" || exit 1
	fi
done

# The OCI bundle shared by runc and gVisor: busybox-static plus the
# benchmarks in /bin, a tmpfs on /tmp, no terminal (see test/images).
BUNDLE=$OUT/bundle
make_bundle() {
	local files=()
	for f in "$OUT"/bin/*; do [ -e "$f" ] && files+=("$f"); done
	test/images/busybox-bundle.sh "$BUNDLE" "${files[@]+"${files[@]}"}" >/dev/null
}

set_args() {
	test/images/set-args.sh "$BUNDLE" "$@"
}

# set_netns none|host: gives the bundle's container its own network
# namespace, or leaves it in the host's (the @host benchmarks).
set_netns() {
	python3 - "$BUNDLE/config.json" "$1" <<'PY'
import json, sys
path, mode = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = json.load(f)
ns = [n for n in c["linux"].get("namespaces", []) if n["type"] != "network"]
if mode == "none":
    ns.append({"type": "network"})
c["linux"]["namespaces"] = ns
with open(path, "w") as f:
    json.dump(c, f, indent=1)
PY
}

have_bundle=0
if command -v "$RUNC" >/dev/null || [ -x "$GVISOR" ] || [ ${#oci_rows[@]} -gt 0 ]; then
	if [ -x /bin/busybox ] && command -v python3 >/dev/null && make_bundle; then
		have_bundle=1
	else
		echo "bench: cannot make the OCI bundle (needs busybox-static, python3, runc or runsc)" >&2
	fi
fi

# run_one RUNTIME BENCH: prints ns/op, or "n/a" (with the reason in $OUT/log).
id=0
run_one() {
	local rt=$1 b=${2%@host} log=$OUT/log/$1-$2.log
	local cmd=() net=none rampart=("${RAMPART[@]}")
	if [ "$2" != "$b" ]; then
		net=host
		rampart=("${RAMPART_HOST[@]}")
	fi
	id=$((id + 1))
	local cid="rampart-bench-$$-$id"
	case "$rt" in
	native) cmd=("$OUT/bin/$b" "$TARGET") ;;
	runc)
		[ "$have_bundle" = 1 ] || { echo n/a; return; }
		set_args "/bin/$b" "$TARGET"
		set_netns "$net"
		cmd=("$RUNC" run -b "$BUNDLE" "$cid")
		;;
	gvisor)
		[ "$have_bundle" = 1 ] && [ -x "$GVISOR" ] || { echo n/a; return; }
		set_args "/bin/$b" "$TARGET"
		set_netns "$net"
		cmd=("$GVISOR" --network="$net" --root="$OUT/gvisor-state" run --bundle "$BUNDLE" "$cid")
		;;
	rampart)
		[ -x "${rampart[0]}" ] || command -v "${rampart[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${rampart[@]}" "$OUT/bin/$b" "$TARGET")
		;;
	systrap)
		[ -x "${SYSTRAP[0]}" ] || command -v "${SYSTRAP[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${SYSTRAP[@]}" "$OUT/bin/$b" "$TARGET")
		;;
	nopatch)
		[ -x "${NOPATCH[0]}" ] || command -v "${NOPATCH[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${NOPATCH[@]}" "$OUT/bin/$b" "$TARGET")
		;;
	esac
	{ echo "+ ${cmd[*]}"; } >"$log"
	local out
	out=$(timeout -k 5 "$LIMIT" "${cmd[@]}" </dev/null 2>>"$log")
	local rc=$?
	printf '%s\n' "$out" >>"$log"
	echo "exit status $rc" >>"$log"
	local ns
	ns=$(printf '%s\n' "$out" | awk -v b="$b" '$3 == "ns/op" { print $2; exit }')
	if [ "$rc" -ne 0 ] || [ -z "$ns" ]; then
		echo n/a
	else
		echo "$ns"
	fi
}

# startup RUNTIME: the wall time of running /bin/true (busybox), best of 5.
startup() {
	local rt=$1 best="" cmd=()
	case "$rt" in
	native) cmd=(/bin/busybox true) ;;
	runc)
		[ "$have_bundle" = 1 ] || { echo n/a; return; }
		set_args /bin/true && set_netns none
		;;
	gvisor)
		[ "$have_bundle" = 1 ] && [ -x "$GVISOR" ] || { echo n/a; return; }
		set_args /bin/true && set_netns none
		;;
	rampart)
		[ -x "${RAMPART[0]}" ] || command -v "${RAMPART[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${RAMPART[@]}" /bin/busybox true)
		;;
	systrap)
		[ -x "${SYSTRAP[0]}" ] || command -v "${SYSTRAP[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${SYSTRAP[@]}" /bin/busybox true)
		;;
	nopatch)
		[ -x "${NOPATCH[0]}" ] || command -v "${NOPATCH[0]}" >/dev/null || { echo n/a; return; }
		cmd=("${NOPATCH[@]}" /bin/busybox true)
		;;
	esac
	for i in 1 2 3 4 5; do
		id=$((id + 1))
		local cid="rampart-bench-$$-$id"
		case "$rt" in
		runc) cmd=("$RUNC" run -b "$BUNDLE" "$cid") ;;
		gvisor) cmd=("$GVISOR" --network=none --root="$OUT/gvisor-state" run --bundle "$BUNDLE" "$cid") ;;
		esac
		local t0 t1
		t0=$(date +%s%N)
		timeout -k 5 "$LIMIT" "${cmd[@]}" </dev/null >/dev/null 2>>"$OUT/log/$rt-startup.log" || { echo n/a; return; }
		t1=$(date +%s%N)
		local d=$((t1 - t0))
		if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
	done
	echo "$best"
}

# proc_row RUNTIME ROW: the median wall time in ns of 5 runs (after one
# unmeasured run) of a whole program in RUNTIME: python3_startup is
# `python3 -c pass` (the interpreter python3 resolves to, not a wrapper
# on PATH), gcc_c is `gcc -c` of a benchmark's source. Both need
# the host's root, so they run natively, under Rampart's `runsc do` and
# under Debian gVisor's `runsc do`; runc has no `do` (n/a).
proc_row() {
	local rt=$1 row=$2 cmd=() pre=() times=() i log=$OUT/log/$1-$2.log
	case "$row" in
	python3_startup)
		# The interpreter itself: python3 on PATH may be a wrapper
		# (pyenv's shim is a bash script that forks some 40 processes
		# before it execs the interpreter), which would make this row
		# measure process creation, not an interpreter's start.
		local py
		py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -x "$py" ] || { echo n/a; return; }
		cmd=("$py" -c pass) ;;
	gcc_c) command -v "$CC" >/dev/null || { echo n/a; return; }; cmd=("$CC" -O2 -c -o /dev/null "$ROOT/bench/micro/getpid.c") ;;
	esac
	case "$rt" in
	native) ;;
	runc) echo n/a; return ;;
	gvisor) [ -x "$GVISOR" ] || { echo n/a; return; }; pre=("$GVISOR" --network=none --root="$OUT/gvisor-state" do) ;;
	rampart) pre=("${RAMPART[@]}") ;;
	systrap) pre=("${SYSTRAP[@]}") ;;
	nopatch) pre=("${NOPATCH[@]}") ;;
	esac
	echo "+ ${pre[*]} ${cmd[*]}" >"$log"
	for ((i = 0; i <= 5; i++)); do
		local t0 t1
		t0=$(date +%s%N)
		timeout -k 5 "$LIMIT" "${pre[@]}" "${cmd[@]}" </dev/null >>"$log" 2>&1 ||
			{ echo "exit status $? on run $i" >>"$log"; echo n/a; return; }
		t1=$(date +%s%N)
		[ "$i" -gt 0 ] && times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

runtimes=(native runc gvisor rampart systrap nopatch)
rm -rf "$OUT/log"
mkdir -p "$OUT/log" "$OUT/gvisor-state"
echo "runtimes: native; runc: $("$RUNC" --version 2>/dev/null | head -1 || echo missing);" \
	"gvisor: $("$GVISOR" --version 2>/dev/null | head -1 || echo missing); rampart: ${RAMPART[*]};" \
	"systrap: ${SYSTRAP[*]}; nopatch: ${NOPATCH[*]}"
echo "target time per measurement: ${TARGET}s; logs in bench/out/log"
echo

declare -A res
rows=()
# Only OCI rows named: skip the micro table (and its startup row).
if [ ${#benches[@]} -gt 0 ] || [ ${#oci_rows[@]} -eq 0 ]; then rows=("${benches[@]}" startup_true); fi
rows+=("${proc_rows[@]}")
for b in "${rows[@]}"; do
	for rt in "${runtimes[@]}"; do
		if [ "$b" = startup_true ]; then
			res[$b,$rt]=$(startup "$rt")
		elif [ "$b" = python3_startup ] || [ "$b" = gcc_c ]; then
			res[$b,$rt]=$(proc_row "$rt" "$b")
		else
			res[$b,$rt]=$(run_one "$rt" "$b")
		fi
	done
done

fmt() { # fmt VALUE NATIVE [DIVISOR]
	local v=$1 n=$2 div=${3:-1}
	if [ "$v" != n/a ]; then v=$(awk -v v="$v" -v d="$div" 'BEGIN { print v / d }'); fi
	if [ "$n" != n/a ]; then n=$(awk -v v="$n" -v d="$div" 'BEGIN { print v / d }'); fi
	if [ "$v" = n/a ]; then
		printf '%-22s' n/a
	elif [ "$n" = n/a ]; then
		printf '%-22s' "$(awk -v v="$v" 'BEGIN { printf "%.1f", v }')"
	else
		printf '%-22s' "$(awk -v v="$v" -v n="$n" 'BEGIN { printf "%.1f (%.2fx)", v, (n > 0 ? v / n : 0) }')"
	fi
}
if [ ${#rows[@]} -gt 0 ]; then
printf '%-20s' "ns/op"
for rt in "${runtimes[@]}"; do printf '%-22s' "$rt"; done
echo
fi
for b in "${rows[@]}"; do
	if [ "$b" = startup_true ] || [ "$b" = python3_startup ] || [ "$b" = gcc_c ]; then
		case "$b" in
		startup_true) printf '%-20s' "startup (ms)" ;;
		python3_startup) printf '%-20s' "python3 -c (ms)" ;;
		gcc_c) printf '%-20s' "gcc -c (ms)" ;;
		esac
		for rt in "${runtimes[@]}"; do fmt "${res[$b,$rt]}" "${res[$b,native]}" 1000000; done
	else
		printf '%-20s' "$b"
		for rt in "${runtimes[@]}"; do fmt "${res[$b,$rt]}" "${res[$b,native]}"; done
	fi
	echo
done
if [ ${#rows[@]} -gt 0 ]; then
echo
echo "startup: wall time of running busybox true, best of 5 (native: exec only)."
case " ${rows[*]} " in *" gcc_c "*)
	echo "python3 -c, gcc -c: median wall time of 5 runs of \`python3 -c pass\` and \`gcc -O2 -c\` of bench/micro/getpid.c,"
	echo "  sandbox start included; gVisor through its own \`runsc do\`, runc has no \`do\` (n/a)." ;;
esac
fi

# The systrap platform's aims (the systrap issue), from this run's ratios:
# each row's systrap ratio at most a fifth of gVisor's, and getpid at most
# 5x native. A row whose gVisor ratio is under 5x has an aim faster than
# Linux itself ("below native"): gVisor is about as fast as native there.
if [ ${#rows[@]} -gt 0 ]; then
echo
echo "aims (systrap ratio <= 1/5 of gVisor's; getpid <= 5x):"
met=0
judged=0
for b in "${rows[@]}"; do
	s=${res[$b,systrap]} g=${res[$b,gvisor]} n=${res[$b,native]}
	if [ "$s" = n/a ] || [ "$g" = n/a ] || [ "$n" = n/a ]; then continue; fi
	line=$(awk -v b="$b" -v s="$s" -v g="$g" -v n="$n" 'BEGIN {
		if (n <= 0) exit
		rs = s / n; aim = g / n / 5
		if (b == "getpid" && aim > 5) aim = 5
		v = rs <= aim ? "met" : "not met"
		if (aim < 1) v = v " (below native)"
		printf "  %-20s %7.2fx  aim %6.2fx  %s\n", b, rs, aim, v
	}')
	[ -n "$line" ] || continue
	echo "$line"
	judged=$((judged + 1))
	case "$line" in *"not met"*) ;; *) met=$((met + 1)) ;; esac
done
echo "  $met of $judged rows met"
fi

if [ ${#oci_rows[@]} -gt 0 ]; then
# The OCI rows (see the header): runc, crun, gVisor, Rampart on one bundle.
oci_runtimes=(runc crun gvisor rampart systrap)
RBIN=${RAMPART[0]}

# oci_pre RUNTIME: sets $pre to the runtime's command before its subcommand
# (with its own --root), or returns 1 when it is missing.
oci_pre() {
	local st=$OUT/oci-state/$1
	mkdir -p "$st"
	case "$1" in
	runc) command -v "$RUNC" >/dev/null || return 1; pre=("$RUNC" --root="$st") ;;
	crun) command -v "$CRUN" >/dev/null || return 1; pre=("$CRUN" --root="$st") ;;
	gvisor) [ -x "$GVISOR" ] || return 1; pre=("$GVISOR" --network=none --root="$st") ;;
	rampart) [ -x "$RBIN" ] || return 1; pre=("$RBIN" --root="$st") ;;
	systrap) [ -x "$RBIN" ] || return 1; pre=("$RBIN" --platform=systrap --root="$st") ;;
	esac
}

# podman_run RUNTIME: "MEDIAN P90" in ns of `podman run --rm` of /bin/true
# with RUNTIME as podman's OCI runtime, or n/a. podman keeps its storage
# under $OUT/podman; the image is the bundle's rootfs, imported once.
# The rlimits are set alike for every runtime: podman's defaults
# (NOFILE 1048576, NPROC 4194304) are above this host's hard limits, which runc refuses to raise.
podman_run() {
	local rt=$1 log=$OUT/log/$1-podman_run.log bin="" flags=() times=() i
	[ "$have_bundle" = 1 ] && command -v podman >/dev/null || { echo n/a; return; }
	case "$rt" in
	runc) bin=$(command -v "$RUNC") ;;
	crun) bin=$(command -v "$CRUN") ;;
	gvisor) bin=$GVISOR flags=(--runtime-flag network=none) ;;
	rampart) bin=$RBIN ;;
	systrap) bin=$RBIN flags=(--runtime-flag platform=systrap) ;;
	esac
	[ -n "$bin" ] && [ -x "$bin" ] || { echo n/a; return; }
	local pm=(podman --root "$OUT/podman/root" --runroot "$OUT/podman/run" --tmpdir "$OUT/podman/tmp"
		--cgroup-manager cgroupfs --events-backend file)
	if ! "${pm[@]}" image exists localhost/rampart/bench:latest 2>/dev/null; then
		tar -C "$BUNDLE/rootfs" -c . | "${pm[@]}" import - localhost/rampart/bench:latest >>"$log" 2>&1 ||
			{ echo "podman import failed" >>"$log"; echo n/a; return; }
	fi
	echo "+ ${pm[*]} --runtime $bin run --rm ${flags[*]} --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 IMAGE /bin/true" >>"$log"
	for ((i = 0; i <= OCI_RUNS; i++)); do
		local t0 t1
		t0=$(date +%s%N)
		timeout -k 5 "$LIMIT" "${pm[@]}" --runtime "$bin" run --rm "${flags[@]}" --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
			localhost/rampart/bench:latest /bin/true </dev/null >/dev/null 2>>"$log" ||
			{ echo "exit status $? on run $i" >>"$log"; echo n/a; return; }
		t1=$(date +%s%N)
		[ "$i" -gt 0 ] && times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		p = int(0.9 * NR); if (p < 0.9 * NR) p++
		print m, v[p] }'
}

# oci_run RUNTIME: "MEDIAN P90" in ns of `run` of /bin/true, or n/a.
oci_run() {
	local rt=$1 log=$OUT/log/$1-oci_run.log pre=() times=() i
	[ "$have_bundle" = 1 ] && oci_pre "$rt" || { echo n/a; return; }
	set_args /bin/true
	echo "+ ${pre[*]} run --bundle $BUNDLE ID" >"$log"
	# One unmeasured run warms the page cache.
	for ((i = 0; i <= OCI_RUNS; i++)); do
		id=$((id + 1))
		local t0 t1
		t0=$(date +%s%N)
		timeout -k 5 "$LIMIT" "${pre[@]}" run --bundle "$BUNDLE" "rampart-bench-$$-$id" </dev/null >/dev/null 2>>"$log" ||
			{ echo "exit status $? on run $i" >>"$log"; echo n/a; return; }
		t1=$(date +%s%N)
		[ "$i" -gt 0 ] && times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		p = int(0.9 * NR); if (p < 0.9 * NR) p++
		print m, v[p] }'
}

# container_kib STATE_PID NAME...: "KIB NPROCS", the Pss (else Rss) sum of
# STATE_PID, the processes whose command line contains one of NAMEs, and all
# their descendants.
container_kib() {
	python3 - "$@" <<'PY'
import os, sys
root_pid, names = int(sys.argv[1]), [n.encode() for n in sys.argv[2:]]
me, parent, cmd = os.getpid(), {}, {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open(f"/proc/{d}/stat") as f:
            st = f.read()
        parent[int(d)] = int(st[st.rindex(")") + 2:].split()[1])
        with open(f"/proc/{d}/cmdline", "rb") as f:
            cmd[int(d)] = f.read()
    except OSError:
        pass
# Never count this script or its callers (their argv names the bundle).
mine, p = set(), me
while p > 1:
    mine.add(p)
    p = parent.get(p, 0)
sel = {root_pid} | {p for p, c in cmd.items() if any(n in c for n in names)}
sel -= mine
grew = True
while grew:
    kids = {p for p, pp in parent.items() if pp in sel and p not in mine} - sel
    sel |= kids
    grew = bool(kids)
total = n = 0
for p in sel:
    val = None
    for path, key in ((f"/proc/{p}/smaps_rollup", "Pss:"), (f"/proc/{p}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        val = int(line.split()[1])
                        break
        except OSError:
            pass
        if val is not None:
            break
    if val is not None:
        total += val
        n += 1
        print(p, val, "kB", cmd.get(p, b"").replace(b"\0", b" ")[:100].decode(errors="replace"), file=sys.stderr)
print(total, n)
PY
}

# idle_mem RUNTIME: "KIB NPROCS" of an idle `sleep 1000` container, or n/a.
idle_mem() {
	local rt=$1 log=$OUT/log/$1-idle_mem.log pre=() pid r
	[ "$have_bundle" = 1 ] && oci_pre "$rt" || { echo n/a; return; }
	set_args /bin/sleep 1000
	id=$((id + 1))
	local cid="rampart-bench-$$-$id"
	echo "+ ${pre[*]} create/start --bundle $BUNDLE $cid" >"$log"
	local t0=$SECONDS
	if timeout -k 5 "$LIMIT" "${pre[@]}" create --bundle "$BUNDLE" "$cid" </dev/null >/dev/null 2>>"$log" &&
		timeout -k 5 "$LIMIT" "${pre[@]}" start "$cid" </dev/null >/dev/null 2>>"$log"; then
		sleep 2
		pid=$(timeout 10 "${pre[@]}" state "$cid" 2>>"$log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>>"$log")
		if [ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null; then
			r=$(container_kib "$pid" "$BUNDLE" "$OUT/oci-state/$rt" 2>>"$log")
			ps -o pid,ppid,rss,args -p "$pid" >>"$log" 2>&1
		fi
	fi
	timeout -k 5 "$LIMIT" "${pre[@]}" delete --force "$cid" </dev/null >/dev/null 2>>"$log"
	echo "measured: ${r:-n/a} (kB procs); $((SECONDS - t0)) s" >>"$log"
	echo "${r:-n/a}"
}

rm -rf "$OUT/oci-state"
declare -A ores
for b in "${oci_rows[@]}"; do
	for rt in "${oci_runtimes[@]}"; do ores[$b,$rt]=$("$b" "$rt"); done
done

echo
printf '%-20s' "OCI"
for rt in "${oci_runtimes[@]}"; do printf '%-22s' "$rt"; done
echo
for b in "${oci_rows[@]}"; do
	case "$b" in
	oci_run) printf '%-20s' "run true (ms)" ;;
	podman_run) printf '%-20s' "podman true (ms)" ;;
	idle_mem) printf '%-20s' "idle (MiB)" ;;
	esac
	base=${ores[$b,runc]}
	for rt in "${oci_runtimes[@]}"; do
		v=${ores[$b,$rt]}
		if [ "$v" = n/a ]; then
			printf '%-22s' n/a
		elif [ "$b" = oci_run ] || [ "$b" = podman_run ]; then
			printf '%-22s' "$(awk -v v="$v" -v b="$base" 'BEGIN { split(v, a, " "); split(b, c, " ")
				s = sprintf("%.1f/%.1f", a[1] / 1e6, a[2] / 1e6)
				if (b != "n/a" && c[1] > 0) s = s sprintf(" (%.2fx)", a[1] / c[1])
				print s }')"
		else
			printf '%-22s' "$(awk -v v="$v" -v b="$base" 'BEGIN { split(v, a, " "); split(b, c, " ")
				s = sprintf("%.1f (%d procs)", a[1] / 1024, a[2])
				print s }')"
		fi
	done
	echo
done
echo
echo "run true: median/p90 wall time of \`RUNTIME run\` of /bin/true from a prepared bundle, $OCI_RUNS runs (ratio: median to runc's)."
echo "podman true: the same through \`podman run --rm --network none\` with RUNTIME as podman's runtime."
echo "idle: summed Pss of every host process of a detached \`sleep 1000\` container, 2 s after start (sandbox, gofer, stubs)."
fi

# The file-system benchmarks (bench/fs.sh) follow the full run.
if [ ${#@} -eq 0 ] && [ "${BENCH_FS:-1}" != 0 ]; then
	echo
	bench/fs.sh -t "$TARGET"
fi
