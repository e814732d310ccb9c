#!/usr/bin/env bash
# create_phases.sh: start-up of `runsc run` of /bin/true, binary against
# binary, from the --debug phase stamps (runsc/cmd/create.go debugPhase):
# N rounds, each running every binary once in turn (so that they share the
# host's load), then per binary the median and p90 of the wall time and of
# create's "ready" stamp (create's start to the sandbox waiting for start).
#
#   bench/create_phases.sh [-n N] NAME=RUNSC... (default N 40)
#   e.g. bench/create_phases.sh base=/tmp/runsc-main new=bin/runsc
#
# The bundle is bench/out/bundle (bench/run.sh makes it); each binary gets
# its own --root under bench/out/phases.
set -uo pipefail
cd "$(dirname "$0")/.."
N=40
if [ "${1:-}" = -n ]; then
	N=$2
	shift 2
fi
[ $# -gt 0 ] || { sed -n '2,12p' "$0"; exit 2; }
BUNDLE=$PWD/bench/out/bundle
OUT=$PWD/bench/out/phases
[ -f "$BUNDLE/config.json" ] || { echo "create_phases: no $BUNDLE (run bench/run.sh oci_run once)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT"
test/images/set-args.sh "$BUNDLE" /bin/true
# ms: a Go duration ("850µs", "12.3ms", "1.2s") in ms.
ms() { awk '{ v = $1; if (v ~ /µs$/) { sub(/µs/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms/, "", v); else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } print v }'; }
for ((i = 1; i <= N; i++)); do
	for nb in "$@"; do
		name=${nb%%=*} bin=${nb#*=}
		mkdir -p "$OUT/$name.root"
		t0=$(date +%s%N)
		out=$("$bin" --root="$OUT/$name.root" --debug run --bundle "$BUNDLE" "phase-$$-$i" 2>&1 </dev/null)
		t1=$(date +%s%N)
		echo "$(((t1 - t0) / 1000))" | awk '{ print $1 / 1000 }' >>"$OUT/$name.wall"
		sed -n 's/^runsc create: ready done at [^ ]* (+\(.*\))$/\1/p' <<<"$out" | ms >>"$OUT/$name.ready"
	done
done
stat() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	p = int(0.9 * NR); if (p < 0.9 * NR) p++; printf "median %6.1f ms  p90 %6.1f ms  (n=%d)\n", m, v[p], NR }'; }
for nb in "$@"; do
	name=${nb%%=*}
	printf '%-10s ready %s\n' "$name" "$(stat "$OUT/$name.ready")"
	printf '%-10s wall  %s\n' "" "$(stat "$OUT/$name.wall")"
done
