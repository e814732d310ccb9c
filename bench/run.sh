#!/usr/bin/env bash
# run.sh builds the microbenchmarks in bench/micro and runs each of them
# natively, under runc, under Debian's gVisor (runsc, ptrace platform) and
# under Rampart on its ptrace platform (bin/runsc --platform=ptrace do) and on
# its systrap platform, the default (bin/runsc --platform=systrap do; the
# nopatch column without syscall patching: --systrap-patch=false), in one run, and prints ns/op with the ratio to
# native. A runtime that is missing or fails shows "n/a"; that never fails the
# run. Timings are for reading, not for pass/fail: the machines are noisy.
#
# Two OCI rows follow, for runc, crun, Debian's gVisor and Rampart (bin/runsc
# on ptrace and on systrap), all on the same prepared busybox bundle:
#   oci_run   `RUNTIME run` of /bin/true, median and p90 of $OCI_RUNS (20) runs;
#   idle_mem  a detached container running `sleep 1000` (create + start), 2 s
#             later: the summed Pss (Rss when smaps_rollup is missing) of all
#             its host processes: the state's pid, every process whose command
#             line names the bundle or the runtime's --root (gofers), and all
#             their descendants (stubs).
#
#   bench/run.sh [-t SECONDS] [BENCHMARK|oci_run|idle_mem...]
#
# Naming only oci_run and/or idle_mem runs just those rows.
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
if [ $# -gt 0 ]; then
	benches=()
	for a in "$@"; do
		case "$a" in
		oci_run | idle_mem) oci_rows+=("$a") ;;
		*) benches+=("$a") ;;
		esac
	done
else
	benches=()
	for f in bench/micro/*.c; do benches+=("$(basename "$f" .c)"); done
	benches+=(tcp_pingpong@host tcp_throughput@host)
	oci_rows=(oci_run idle_mem)
fi

# Build the static benchmarks.
mkdir -p "$OUT/bin"
for b in "${benches[@]}"; do
	b=${b%@host}
	src=bench/micro/$b.c
	bin=$OUT/bin/$b
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
for b in "${rows[@]}"; do
	for rt in "${runtimes[@]}"; do
		if [ "$b" = startup_true ]; then
			res[$b,$rt]=$(startup "$rt")
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
	if [ "$b" = startup_true ]; then
		printf '%-20s' "startup (ms)"
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
fi

# The file-system benchmarks (bench/fs.sh) follow the full run.
if [ ${#@} -eq 0 ] && [ "${BENCH_FS:-1}" != 0 ]; then
	echo
	bench/fs.sh -t "$TARGET"
fi
