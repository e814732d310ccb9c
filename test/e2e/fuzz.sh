#!/usr/bin/env bash
# fuzz.sh runs the two fuzzers of test/e2e/fuzz in the sandbox, on each
# platform configuration (systrap, ptrace, systrap without syscall
# patching): sysfuzz (random syscalls with hostile arguments, one thread and
# four per worker, and unprivileged workers that make processes) and
# codefuzz (random code with random registers, jumps into the systrap
# stub; alone, and with a second thread calling patched sites in the page
# it rewrites). Each run must end with status 0 and its "ok" line,
# and the sandbox must not report a panic; the single-threaded sysfuzz runs
# of the three platforms must agree on how each worker ended. The seeds are
# fixed so that a failure can be replayed; FUZZ_SEED picks others and
# FUZZ_SCALE multiplies the work (a longer campaign: FUZZ_SCALE=20
# FUZZ_SEED=$RANDOM). The last line is "N passed, M failed".
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNSC=$ROOT/bin/runsc
SEED=${FUZZ_SEED:-1}
SCALE=${FUZZ_SCALE:-1}
LIMIT=$((300 * SCALE))

passed=0
failed=0

# run NAME CMD...: runs CMD (a fuzzer in the sandbox) under the time limit
# and checks its status, its "ok" line and its stderr.
run() {
	local name=$1 out err
	shift
	out=$(mktemp) err=$(mktemp)
	local t0=$SECONDS
	RAMPART_FUZZ_SANDBOXED=1 timeout -k 5 "$LIMIT" "$@" </dev/null >"$out" 2>"$err"
	local status=$?
	last_ok=
	if [ $status -eq 0 ] && grep -q ": ok:" "$out" && ! grep -qE "^(panic|fatal error)" "$err"; then
		last_ok=$(grep ": ok:" "$out")
		echo "PASS   $name ($((SECONDS - t0)) s): $last_ok"
		passed=$((passed + 1))
	else
		echo "FAIL   $name: status $status (replay: RAMPART_FUZZ_SANDBOXED=1 $*)"
		tail -n 20 "$out" "$err" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	rm -f "$out" "$err"
}

# outcomes holds each platform's digest of its single-threaded sysfuzz
# workers' ends, which must agree (a worker's calls depend on its seed only).
declare -A outcomes
for conf in "systrap:--platform=systrap" "ptrace:--platform=ptrace" "nopatch:--systrap-patch=false"; do
	name=${conf%%:*} flag=${conf#*:}
	run "sysfuzz $name" "$RUNSC" "$flag" do -- "$ROOT/bin/sysfuzz" "$SEED" $((150 * SCALE)) 2000 1
	[ -n "$last_ok" ] && outcomes[$name]=${last_ok##*outcomes }
	run "sysfuzz $name threads" "$RUNSC" "$flag" do -- "$ROOT/bin/sysfuzz" $((SEED + 7919)) $((40 * SCALE)) 2000 4
	run "codefuzz $name" "$RUNSC" "$flag" do -- "$ROOT/bin/codefuzz" "$SEED" $((20000 * SCALE))
	# A second thread calls a patched site in the page the random code
	# runs in (and may rewrite).
	run "codefuzz $name threads" "$RUNSC" "$flag" do -- "$ROOT/bin/codefuzz" $((SEED + 15485863)) $((3000 * SCALE)) 2
	# Unprivileged workers that may fork, clone, signal and trace, up to
	# 16 processes (the sandbox's init kills the rest after each).
	[ "$name" = nopatch ] || run "sysfuzz $name family" "$RUNSC" "$flag" do -- "$ROOT/bin/sysfuzz" $((SEED + 104729)) $((40 * SCALE)) 2000 1 16
done

# A difference is a platform that changes what a program sees. Not every
# difference is one: a few calls write what differs from run to run (the
# time, random bytes, /proc/self/status's counts) into the scratch area or a
# file a later call reads, so a worker's end can change with timing, about
# one run in ten of 200 workers of 3000 calls. A platform's difference comes
# back in a second run of all three, a timing one seldom does: only a
# difference both runs show fails, with the workers whose ends differ
# (replay one with SYSFUZZ_VERBOSE=1 to list its calls).
agree() { [ "$1" = "$2" ] && [ "$1" = "$3" ]; }
if [ ${#outcomes[@]} -eq 3 ]; then
	first="systrap ${outcomes[systrap]}, ptrace ${outcomes[ptrace]}, nopatch ${outcomes[nopatch]}"
	if agree "${outcomes[systrap]}" "${outcomes[ptrace]}" "${outcomes[nopatch]}"; then
		echo "PASS   sysfuzz outcomes agree on all platforms (${outcomes[systrap]})"
		passed=$((passed + 1))
	else
		again=()
		for conf in "systrap:--platform=systrap" "ptrace:--platform=ptrace" "nopatch:--systrap-patch=false"; do
			RAMPART_FUZZ_SANDBOXED=1 SYSFUZZ_OUTCOMES=1 timeout -k 5 "$LIMIT" "$RUNSC" "${conf#*:}" do -- \
				"$ROOT/bin/sysfuzz" "$SEED" $((150 * SCALE)) 2000 1 </dev/null >"$ROOT/bin/fuzz-${conf%%:*}.out" 2>"$ROOT/bin/fuzz-${conf%%:*}.ends"
			again+=("$(grep -o 'outcomes [0-9a-f]*' "$ROOT/bin/fuzz-${conf%%:*}.out")")
		done
		if agree "${again[@]}"; then
			echo "PASS   sysfuzz outcomes agree on all platforms on a second run (${again[0]}; the first run differed: $first)"
			passed=$((passed + 1))
		else
			echo "FAIL   sysfuzz outcomes differ in two runs: $first; then ${again[*]}"
			diff "$ROOT/bin/fuzz-systrap.ends" "$ROOT/bin/fuzz-ptrace.ends" | grep '^[<>]' | head -n 10 | sed 's/^/    systrap|ptrace /'
			diff "$ROOT/bin/fuzz-systrap.ends" "$ROOT/bin/fuzz-nopatch.ends" | grep '^[<>]' | head -n 10 | sed 's/^/    systrap|nopatch /'
			echo "    replay a worker: RAMPART_FUZZ_SANDBOXED=1 SYSFUZZ_VERBOSE=1 bin/runsc --platform=P do -- bin/sysfuzz $SEED+N 1 2000 1"
			failed=$((failed + 1))
		fi
		rm -f "$ROOT"/bin/fuzz-*.out "$ROOT"/bin/fuzz-*.ends
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
