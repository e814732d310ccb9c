#!/usr/bin/env bash
# fs.sh: the file-system benchmarks of the gofer issue, natively, under
# runc, under Debian's gVisor and under Rampart in one run, with ratios to
# native: open+close and stat of a file, listing a 1,000-entry directory,
# 4 KiB random preads and sequential reads of a large file, all on a host
# directory served read-only (Rampart: the gofer-served root of
# `runsc do`; runc and gVisor: a read-only bind mount of it in their
# bundle), and `find /usr -type f | wc -l` (busybox in every runtime; /usr
# bind-mounted read-only into the bundle).
#
#   bench/fs.sh [-t SECONDS]
#
# Every benchmark checks what it got (bench/fs/fsbench.h: the big file's
# pages carry their index), and find's count must match native's, so that
# no runtime wins by skipping work; a failed check shows as n/a, or as
# "count!" after the find time.
#
# Environment: FSBENCH_DATA (default /var/tmp/rampart-fsbench2, made once
# and kept), FSBENCH_MB (size of the big file, default 1024), RAMPART,
# GVISOR, RUNC as for run.sh. Timings are for reading, not for pass/fail.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/fs
TARGET=0.5
if [ "${1:-}" = -t ]; then
	TARGET=$2
	shift 2
fi
read -r -a RAMPART <<<"${RAMPART:-bin/runsc do --}"
case "${RAMPART[0]}" in /*) ;; */*) RAMPART[0]="$ROOT/${RAMPART[0]}" ;; esac
GVISOR=${GVISOR:-/usr/bin/runsc}
RUNC=${RUNC:-runc}
LIMIT=${BENCH_TIMEOUT:-300}
CC=${CC:-gcc}
DATA=${FSBENCH_DATA:-/var/tmp/rampart-fsbench2}
MB=${FSBENCH_MB:-1024}
benches=(fs_open_close fs_stat fs_readdir_1000 fs_pread_rand_4k fs_read_seq)

mkdir -p "$OUT/bin" "$OUT/log"
for b in "${benches[@]}"; do
	src=bench/fs/$b.c
	if [ ! -x "$OUT/bin/$b" ] || [ "$src" -nt "$OUT/bin/$b" ] || [ bench/fs/fsbench.h -nt "$OUT/bin/$b" ]; then
		"$CC" -O2 -Wall -Werror -static -o "$OUT/bin/$b" "$src" || exit 1
	fi
done
"$CC" -O2 -Wall -Werror -Wno-unused-function -o "$OUT/mkbig" bench/fs/fs_mkbig.c || exit 1

# The data: kept between runs (the big file takes a while to write).
if [ ! -f "$DATA/ready-v2-$MB" ]; then
	echo "fs.sh: making $DATA (a ${MB} MiB file, 1,000 entries)" >&2
	rm -rf "$DATA"
	mkdir -p "$DATA/dir1000" || exit 1
	echo small >"$DATA/small"
	for i in $(seq 1000); do : >"$DATA/dir1000/entry-$i"; done
	"$OUT/mkbig" "$DATA/big" "$MB" || exit 1
	touch "$DATA/ready-v2-$MB"
fi

# The bundle for runc and gVisor: busybox, the benchmarks, $DATA and /usr
# bind-mounted read-only at their host paths.
BUNDLE=$OUT/bundle
have_bundle=0
if (command -v "$RUNC" >/dev/null || [ -x "$GVISOR" ]) && [ -x /bin/busybox ] &&
	test/images/busybox-bundle.sh "$BUNDLE" "$OUT"/bin/* >/dev/null 2>"$OUT/log/bundle.log"; then
	mkdir -p "$BUNDLE/rootfs$DATA" "$BUNDLE/rootfs/usr"
	python3 - "$BUNDLE/config.json" "$DATA" <<'PY' && have_bundle=1
import json, sys
path, data = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["mounts"] = [m for m in c.get("mounts", []) if m["destination"] not in (data, "/usr")]
for d in (data, "/usr"):
    c["mounts"].append({"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]})
json.dump(c, open(path, "w"), indent=1)
PY
fi

id=0
# cmd_for RUNTIME ARG...: the command running ARG... (a path valid in the
# bundle and on the host) in RUNTIME, in $cmd; false if unavailable.
cmd_for() {
	local rt=$1
	shift
	id=$((id + 1))
	local cid="rampart-fsbench-$$-$id-$RANDOM$RANDOM"
	case "$rt" in
	native) cmd=("$@") ;;
	runc)
		[ "$have_bundle" = 1 ] && command -v "$RUNC" >/dev/null || return 1
		test/images/set-args.sh "$BUNDLE" "$@"
		cmd=("$RUNC" run -b "$BUNDLE" "$cid")
		;;
	gvisor)
		[ "$have_bundle" = 1 ] && [ -x "$GVISOR" ] || return 1
		test/images/set-args.sh "$BUNDLE" "$@"
		cmd=("$GVISOR" --network=none --root="$OUT/gvisor-state" run --bundle "$BUNDLE" "$cid")
		;;
	rampart)
		[ -x "${RAMPART[0]}" ] || return 1
		cmd=("${RAMPART[@]}" "$@")
		;;
	esac
}

# run_one RUNTIME BENCH: ns/op or n/a.
run_one() {
	local rt=$1 b=$2 log=$OUT/log/$1-$2.log bin
	bin=$OUT/bin/$b
	[ "$rt" = native ] || [ "$rt" = rampart ] || bin=/bin/$b
	cmd_for "$rt" "$bin" "$TARGET" "$DATA" || { echo n/a; return; }
	# Every runtime reads the big file from a warm host page cache: the
	# first one to run would otherwise pay the disk alone.
	case "$b" in fs_pread_rand_4k | fs_read_seq) cat "$DATA/big" >/dev/null ;; esac
	echo "+ ${cmd[*]}" >"$log"
	local out rc ns
	out=$(timeout -k 5 "$LIMIT" "${cmd[@]}" </dev/null 2>>"$log")
	rc=$?
	printf '%s\nexit status %s\n' "$out" "$rc" >>"$log"
	ns=$(printf '%s\n' "$out" | awk -v b="$b" '$1 == b && $3 == "ns/op" { print $2; exit }')
	if [ "$rc" -ne 0 ] || [ -z "$ns" ]; then echo n/a; else echo "$ns"; fi
}

# find_usr RUNTIME: wall time in ns of `find /usr -type f | wc -l` (busybox),
# best of 2. The count of the last run goes to $OUT/log/RUNTIME-find_usr.count
# and is printed under the table (a container's root may lack
# CAP_DAC_READ_SEARCH for a few 0700 directories that native root reads, so
# a small difference is expected; a large one means a runtime skipped work).
find_usr() {
	local rt=$1 best="" log=$OUT/log/$1-find_usr.log
	: >"$log"
	rm -f "$OUT/log/$rt-find_usr.count"
	for i in 1 2; do
		cmd_for "$rt" /bin/busybox sh -c 'busybox find /usr -type f | busybox wc -l' || { echo n/a; return; }
		local t0 t1 out
		t0=$(date +%s%N)
		out=$(timeout -k 5 "$LIMIT" "${cmd[@]}" </dev/null 2>>"$log") || { echo n/a; return; }
		t1=$(date +%s%N)
		echo "count $out" >>"$log"
		echo "$out" >"$OUT/log/$rt-find_usr.count"
		local d=$((t1 - t0))
		if [ -z "$best" ] || [ "$d" -lt "$best" ]; then best=$d; fi
	done
	echo "$best"
}

runtimes=(native runc gvisor rampart)
# FSBENCH_ROWS and FSBENCH_RUNTIMES (space-separated) run a subset, e.g.
# FSBENCH_ROWS="fs_read_seq find_usr" FSBENCH_RUNTIMES="native rampart".
rows=("${benches[@]}" find_usr)
[ -n "${FSBENCH_ROWS:-}" ] && read -r -a rows <<<"$FSBENCH_ROWS"
[ -n "${FSBENCH_RUNTIMES:-}" ] && read -r -a runtimes <<<"$FSBENCH_RUNTIMES"
mkdir -p "$OUT/gvisor-state"
echo "file-system benchmarks on $DATA (big file ${MB} MiB) and /usr; logs in bench/out/fs/log"
declare -A res
for b in "${rows[@]}"; do
	for rt in "${runtimes[@]}"; do
		if [ "$b" = find_usr ]; then res[$b,$rt]=$(find_usr "$rt"); else res[$b,$rt]=$(run_one "$rt" "$b"); fi
	done
done
fmt() { # fmt VALUE NATIVE DIVISOR
	local v=$1 n=$2 div=$3
	if [ "$v" = n/a ]; then printf '%-22s' n/a; return; fi
	if [ "$n" = n/a ]; then printf '%-22s' "$(awk -v v="$v" -v d="$div" 'BEGIN { printf "%.1f", v / d }')"; return; fi
	printf '%-22s' "$(awk -v v="$v" -v n="$n" -v d="$div" 'BEGIN { printf "%.1f (%.2fx)", v / d, (n > 0 ? v / n : 0) }')"
}
printf '%-20s' ""
for rt in "${runtimes[@]}"; do printf '%-22s' "$rt"; done
echo
for b in "${rows[@]}"; do
	case "$b" in
	find_usr) printf '%-20s' "find /usr (ms)"; div=1000000 ;;
	fs_read_seq) printf '%-20s' "read_seq (us/MiB)"; div=1000 ;;
	*) printf '%-20s' "$b (ns)"; div=1 ;;
	esac
	for rt in "${runtimes[@]}"; do fmt "${res[$b,$rt]}" "${res[$b,native]:-n/a}" "$div"; done
	echo
done
if [ -n "${res[find_usr,${runtimes[0]}]:-}" ]; then
	printf '%-20s' "find /usr (files)"
	for rt in "${runtimes[@]}"; do printf '%-22s' "$(cat "$OUT/log/$rt-find_usr.count" 2>/dev/null || echo n/a)"; done
	echo
fi
