#!/usr/bin/env bash
# run.sh runs the OCI runtime conformance programs of
# opencontainers/runtime-tools v0.9.0 (validation/*, each driving the
# runtime through $RUNTIME and running runtimetest inside the container)
# against a runtime, bin/runsc by default, and prints PASS/FAIL per program
# and "N passed, M failed". It is an acceptance measurement, not part of
# `make test`: `make conformance` (RUNTIME=runc for a comparison).
#
# runtime-tools v0.9.0 predates Go modules: its source comes from the Go
# module proxy (go mod download) and builds with the dependency versions
# pinned below, the ones of its Godeps.json where the proxy serves them and
# the nearest that builds where it does not. A program passes when it exits
# 0 and reports no "not ok" TAP line; each one's output is kept in
# $CONFORMANCE_DIR/logs.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUNTIME=${RUNTIME:-$ROOT/bin/runsc}
case "$RUNTIME" in /*) ;; *) RUNTIME=$(command -v "$RUNTIME") || { echo "run.sh: no runtime $RUNTIME"; exit 1; } ;; esac
# Outside the tree: runtime-tools' sources would otherwise be seen by gofmt.
DIR=${CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rampart-conformance}
LIMIT=${CONFORMANCE_TIMEOUT:-120}
ONLY=${T:-}
VERSION=v0.9.0

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (the runtimes make namespaces and cgroups)"
	exit 1
fi

SRC=$DIR/runtime-tools-$VERSION
if [ ! -x "$SRC/out/runtimetest" ]; then
	echo "building runtime-tools $VERSION in $SRC"
	moddir=$(go mod download -json "github.com/opencontainers/runtime-tools@$VERSION" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || {
		echo "run.sh: cannot download runtime-tools $VERSION from the Go module proxy"
		exit 1
	}
	rm -rf "$SRC"
	mkdir -p "$DIR"
	cp -r "$moddir" "$SRC"
	chmod -R u+w "$SRC"
	cat >"$SRC/go.mod" <<'EOF'
module github.com/opencontainers/runtime-tools

go 1.17

require (
	github.com/blang/semver v3.5.0+incompatible
	github.com/hashicorp/go-multierror v1.0.0
	github.com/mndrix/tap-go v0.0.0-20171203230836-629fa407e90b
	github.com/mrunalp/fileutils v0.5.1
	github.com/opencontainers/runtime-spec v1.0.2
	github.com/opencontainers/selinux v1.0.0
	github.com/satori/go.uuid v1.1.0
	github.com/sirupsen/logrus v1.9.3
	github.com/stretchr/testify v1.8.4
	github.com/syndtr/gocapability v0.0.0-20200815063812-42c35b437635
	github.com/urfave/cli v1.19.1
	github.com/xeipuuv/gojsonschema v1.1.0
	golang.org/x/sys v0.0.0-20220715151400-c0bba94af5f8
)
EOF
	(
		cd "$SRC" || exit 1
		go mod tidy >/dev/null 2>&1 || { echo "run.sh: go mod tidy failed"; exit 1; }
		mkdir -p out
		CGO_ENABLED=0 go build -o out/runtimetest ./cmd/runtimetest || exit 1
		for d in validation/*/; do
			n=$(basename "$d")
			[ "$n" = util ] && continue
			CGO_ENABLED=0 go build -o "out/$n.t" "./$d" || exit 1
		done
	) || { echo "run.sh: building runtime-tools failed"; exit 1; }
fi

# The programs find runtimetest and rootfs-amd64.tar.gz in their working
# directory, and make their bundles under $TMPDIR.
cp "$SRC/out/runtimetest" "$SRC/runtimetest"
LOGS=$DIR/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
passed=0
failed=0
echo "runtime: $RUNTIME"
for t in "$SRC"/out/*.t; do
	n=$(basename "$t" .t)
	if [ -n "$ONLY" ] && ! grep -qw "$n" <<<"${ONLY//,/ }"; then
		continue
	fi
	(cd "$SRC" && RUNTIME=$RUNTIME timeout -k 10 "$LIMIT" "$t") </dev/null >"$LOGS/$n.log" 2>&1
	rc=$?
	# TAP: "not ok ... # TODO" and "# SKIP" are not failures.
	if [ "$rc" -eq 0 ] && ! grep '^not ok' "$LOGS/$n.log" | grep -qvi '# \(todo\|skip\)'; then
		echo "PASS   $n"
		passed=$((passed + 1))
	else
		why=$(grep -m1 '^not ok' "$LOGS/$n.log" || tail -n 1 "$LOGS/$n.log")
		echo "FAIL   $n (exit $rc) ${why:0:150}"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
