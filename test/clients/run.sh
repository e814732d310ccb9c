#!/usr/bin/env bash
# run.sh drives bin/runsc through real clients from Debian's packages, as
# their users do, on a busybox image made from a local rootfs tarball (no
# registry):
#
#   podman      podman --runtime bin/runsc (conmon), image from `podman import`
#   containerd  our own containerd; ctr run --runc-binary bin/runsc (the runc
#               v2 shim), image from `ctr image import` of a docker archive
#               made here (mkimage.py)
#   docker      our own dockerd (own data-root, exec-root, pidfile, socket)
#               on that containerd, --add-runtime rampart=bin/runsc,
#               `docker import` and `docker run --runtime=rampart`
#
# Scenarios per client: output, exit code, stdin, env, workdir, user,
# rlimits, read-only and writable volumes, hostname, -t tty, --network none,
# memory limit, a missing command (runsc's error reaches the user), stop (a
# pid 1 without a handler ignores SIGTERM, so the client escalates to
# SIGKILL: 137; one with a handler exits by it), exec (output, status, tty),
# ctr's kill of an exec'd process (--exec-id: the shim signals runsc exec's
# host stand-in), a ctr pod member's exit status (the shim reaps its host
# stand-in), a running ctr pod member's task ps (its processes' host
# pids, not its stand-in) and task pause/resume (it alone stops), ps/top
# (docker top and ctr task ps list runsc ps' pids: they must be the
# sandbox's host processes; podman top -ef runs ps in the container, its
# default format reads the sandbox's /proc), and removal, of a container
# that exited and of a stopped one, leaves no process, state directory,
# cgroup or mount behind.
# ctr has no --user, --hostname or end of piped stdin: its user scenario uses
# the image's configured user, and it has no hostname or stdin scenario; it
# adds task rm -f of an exited task and kill --all. A client whose package
# cannot be installed is skipped (each of its scenarios counted as skipped);
# an installed one must pass.
#
# Nothing system-wide is touched: the daemons started here have their own
# state under $W and are stopped on exit; podman keeps its storage under $W
# and never sets up a network (--network none); runsc's state is under $W
# but for podman's, in runsc's default --root (/var/run/runsc), by container
# id. Runs are serialized by a lock.
#
#   test/clients/run.sh [podman] [containerd] [docker]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNSC=$ROOT/bin/runsc
HERE=$ROOT/test/clients
# Short: unix socket paths live under it.
W=/tmp/rampart-clients
T=60 # seconds any one client command may take

CLIENTS=${*:-podman containerd docker}
passed=0 failed=0 skipped=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
failt() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skipt() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }

# expect NAME WANT GOT
expect() {
	if [ "$2" == "$3" ]; then pass "$1"; else failt "$1" "want $(printf %q "$2"), got $(printf %q "$3")"; fi
}

# expect_re NAME REGEX GOT
expect_re() {
	if [[ $3 =~ $2 ]]; then pass "$1"; else failt "$1" "want /$2/, got $(printf %q "$3")"; fi
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------- cleanup

DAEMON_PIDS=()
PODMAN=()
CTR_NS=rampart-clients

cleanup() {
	set +e
	if [ ${#PODMAN[@]} -gt 0 ]; then
		timeout 60 "${PODMAN[@]}" rm -f -a -t 0 >/dev/null 2>&1
	fi
	if [ -S "$W/d.sock" ]; then
		timeout 60 docker -H "unix://$W/d.sock" rm -f $(docker -H "unix://$W/d.sock" ps -aq 2>/dev/null) >/dev/null 2>&1
	fi
	if [ -S "$W/c.sock" ]; then
		for t in $(ctr -a "$W/c.sock" -n "$CTR_NS" task ls -q 2>/dev/null); do
			timeout 20 ctr -a "$W/c.sock" -n "$CTR_NS" task rm -f "$t" >/dev/null 2>&1
		done
		for c in $(ctr -a "$W/c.sock" -n "$CTR_NS" c ls -q 2>/dev/null); do
			timeout 20 ctr -a "$W/c.sock" -n "$CTR_NS" c rm "$c" >/dev/null 2>&1
		done
	fi
	# Daemons last to first: dockerd, then containerd (SIGTERM, then
	# SIGKILL after 20s).
	local i p
	for ((i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i--)); do
		p=${DAEMON_PIDS[i]}
		kill "$p" 2>/dev/null
		for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# Shims and sandboxes of ours that outlived their daemons.
	for p in $(pgrep -f "$W/" 2>/dev/null); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
	# Mounts the clients left under $W (overlay layers, shm, netns).
	grep -F " $W/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$W"
	# The parent cgroups the clients made (podman's conmon goes in one),
	# now empty: rmdir fails on any that is not.
	local h
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		rmdir "${h}libpod_parent/conmon" "${h}libpod_parent" "${h}$CTR_NS" "${h}docker" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- image

make_image() {
	local r=$W/rootfs
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/dev" "$r/sys" "$r/root" "$r/data"
	cp /bin/busybox "$r/bin/busybox"
	local a
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	tar -C "$r" -cf "$W/rootfs.tar" . || return 1
	python3 "$HERE/mkimage.py" "$W/rootfs.tar" "$W/image.tar" \
		rampart/busybox:test "" rampart/busybox:nobody 65534:65534
}

# ---------------------------------------------------------------- leftovers

# host_pids ROOT ID: the sandbox's host processes, from runsc ps.
host_pids() {
	"$RUNSC" --root "$1" ps --format json "$2" 2>/dev/null | tr -d '[]' | tr ',' ' '
}

# leftovers ROOT ID PIDS...: what the container left behind after removal.
leftovers() {
	local root=$1 id=$2 p out=""
	shift 2
	for p in "$@"; do
		if [ -e "/proc/$p" ] && grep -q runsc "/proc/$p/cmdline" 2>/dev/null; then
			out+="process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-80)); "
		fi
	done
	for p in $(pgrep -f "runsc.*$id" 2>/dev/null); do
		out+="process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80)); "
	done
	[ -e "$root/$id" ] && out+="state dir $root/$id; "
	local cg
	cg=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "*$id*" 2>/dev/null | head -3 | tr '\n' ' ')
	[ -n "$cg" ] && out+="cgroup $cg; "
	grep -qF "$id" /proc/self/mountinfo && out+="mount $(grep -F "$id" /proc/self/mountinfo | awk '{print $5}' | head -2 | tr '\n' ' '); "
	echo "$out"
}

# ---------------------------------------------------------------- podman and docker

# dl runs the docker-like client of the current block.
dl() { timeout -k 5 "$T" "${DL[@]}" "$@"; }

# dl_suite NAME IMAGE RUNSC_ROOT: the scenarios podman and docker share;
# RUN holds the flags every `run` gets.
dl_suite() {
	local c=$1 img=$2 rroot=$3 out rc t0 el id id2 pids sbpid

	out=$(dl run --rm "${RUN[@]}" "$img" echo hello from rampart 2>&1)
	expect "$c/output" "hello from rampart" "$out"

	dl run --rm "${RUN[@]}" "$img" sh -c 'exit 3' >/dev/null 2>&1
	expect "$c/exit-code" 3 "$?"

	out=$(echo from stdin | dl run --rm -i "${RUN[@]}" "$img" cat 2>&1)
	expect "$c/stdin" "from stdin" "$out"

	out=$(dl run --rm "${RUN[@]}" -e FOO=bar -e EMPTY= "$img" sh -c 'echo "$FOO|${EMPTY-unset}"' 2>&1)
	expect "$c/env" "bar|" "$out"

	out=$(dl run --rm "${RUN[@]}" -w /tmp "$img" pwd 2>&1)
	expect "$c/workdir" /tmp "$out"

	out=$(dl run --rm "${RUN[@]}" -u 65534:65534 "$img" sh -c 'echo $(id -u) $(id -g)' 2>&1)
	expect "$c/user" "65534 65534" "$out"

	# --ulimit, and podman's own default: RLIMIT_NOFILE 1048576, past
	# this host's hard limit (the sandbox's rlimits are the sentry's).
	out=$(dl run --rm "${RUN[@]}" --ulimit nofile=1000:2000 "$img" sh -c 'echo $(ulimit -n) $(ulimit -Hn)' 2>&1)
	if [ "$c" == podman ]; then
		out+=" default:$(dl run --rm "${RUN[@]}" "$img" sh -c 'echo $(ulimit -n) $(ulimit -Hn)' 2>&1)"
		expect "$c/rlimits" "1000 2000 default:1048576 1048576" "$out"
	else
		expect "$c/rlimits" "1000 2000" "$out"
	fi

	rm -rf "$W/vol" && mkdir -p "$W/vol" && echo data >"$W/vol/f"
	out=$(dl run --rm "${RUN[@]}" -v "$W/vol:/data:ro" "$img" \
		sh -c 'cat /data/f; touch /data/new 2>/dev/null && echo writable || echo read-only' 2>&1)
	if [ -e "$W/vol/new" ]; then out+=" (and the host got the file)"; fi
	expect "$c/volume-ro" "data
read-only" "$out"

	out=$(dl run --rm "${RUN[@]}" -v "$W/vol:/data" "$img" sh -c 'echo written >/data/new && cat /data/f' 2>&1)
	out+=" host:$(cat "$W/vol/new" 2>&1)"
	expect "$c/volume-rw" "data host:written" "$out"

	out=$(dl run --rm "${RUN[@]}" --hostname rampart-host "$img" hostname 2>&1)
	expect "$c/hostname" rampart-host "$out"

	out=$(dl run --rm "${RUN[@]}" -t "$img" tty 2>&1 | tr -d '\r')
	expect_re "$c/tty" '^/dev/pts/[0-9]+$' "$out"

	out=$(dl run --rm "${RUN[@]}" "$img" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "' 2>&1)
	expect "$c/network-none" lo "$out"

	# 128 MiB of dd buffer: killed under a 32 MiB limit, fine without.
	dl run --rm "${RUN[@]}" -m 32m "$img" dd if=/dev/zero of=/dev/null bs=64M count=2 >/dev/null 2>&1
	rc=$?
	dl run --rm "${RUN[@]}" "$img" dd if=/dev/zero of=/dev/null bs=64M count=2 >/dev/null 2>&1
	expect "$c/memory-limit" "limited:137 unlimited:0" "limited:$rc unlimited:$?"

	# A command that does not exist: the client shows runsc's error (from
	# its JSON log) with status 127, and removes what was made.
	out=$(dl run --name "rampart-bad-$c" "${RUN[@]}" "$img" /nonexistent 2>&1)
	rc=$?
	id=$(dl inspect -f '{{.Id}}' "rampart-bad-$c" 2>/dev/null)
	dl rm -f "rampart-bad-$c" >/dev/null 2>&1
	[[ $out == *"/nonexistent: no such file or directory"* ]] && out="runsc's error" || out="no error from runsc: $out"
	out+=" $rc$(leftovers "$rroot" "${id:-none}")"
	expect "$c/bad-command" "runsc's error 127" "$out"

	# A container that exited by itself, then removed.
	rm -f "$W/cid"
	dl run --cidfile "$W/cid" "${RUN[@]}" "$img" true >/dev/null 2>&1
	id=$(cat "$W/cid" 2>/dev/null)
	for _ in $(seq 50); do [ "$(dl inspect -f '{{.State.Running}}' "$id" 2>&1)" == false ] && break; sleep 0.1; done
	dl rm "$id" >/dev/null 2>&1
	expect "$c/removal-exited" "" "$(leftovers "$rroot" "${id:-none}")"

	# A container's writes to its root stay in the root the client made,
	# as under runc: started again, the container finds them, and cp
	# copies them out. (podman cp of a running container works in the
	# mount namespace of the container's pid, the sandbox process, whose
	# root is empty: that one fails, as under gVisor.)
	rm -f "$W/cid" "$W/cp-out"
	out=$(dl run --cidfile "$W/cid" "${RUN[@]}" "$img" sh -c 'cat /kept 2>/dev/null; echo run >>/kept; echo ok' 2>&1)
	id=$(cat "$W/cid" 2>/dev/null)
	out+=" $(dl start -a "${id:-none}" 2>&1)"
	expect "$c/restart-keeps-root" "ok run ok" "$(echo $out)"
	out=$(dl cp "${id:-none}:/kept" "$W/cp-out" 2>&1 && cat "$W/cp-out")
	expect "$c/cp" "run run" "$(echo $out)"
	dl rm -f "${id:-none}" >/dev/null 2>&1

	# A long-running container for exec, diff, cp, top, stop and removal.
	id=$(dl run -d "${RUN[@]}" "$img" sleep 1000 2>&1)
	if [ "$(dl inspect -f '{{.State.Running}}' "$id" 2>&1)" != true ]; then
		failt "$c/detached" "run -d: $id"
		return
	fi
	id=$(dl inspect -f '{{.Id}}' "$id")
	sbpid=$(dl inspect -f '{{.State.Pid}}' "$id")
	pids=$(host_pids "$rroot" "$id")

	out=$(dl exec "$id" sh -c 'echo exec in $(cat /proc/1/cmdline | tr "\0" " ")' 2>&1)
	expect "$c/exec" "exec in sleep 1000" "$out"
	dl exec "$id" sh -c 'exit 4' >/dev/null 2>&1
	expect "$c/exec-exit-code" 4 "$?"
	out=$(dl exec -t "$id" tty 2>&1 | tr -d '\r')
	expect_re "$c/exec-tty" '^/dev/pts/[0-9]+$' "$out"

	# What a running container writes, the client's diff sees.
	dl exec "$id" sh -c 'echo written >/etc/rampart-written' >/dev/null 2>&1
	out=$(dl diff "$id" 2>&1 | grep rampart-written)
	expect "$c/diff" "A /etc/rampart-written" "$out"

	top_check "$c" "$id" "$sbpid" "$rroot"

	# No SIGTERM handler: pid 1 ignores it; the client kills after 2s.
	t0=$(now_ms)
	dl stop -t 2 "$id" >/dev/null 2>&1
	el=$(($(now_ms) - t0))
	out=$(dl inspect -f '{{.State.ExitCode}}' "$id" 2>&1)
	if [ "$el" -lt 1900 ]; then out+=" after ${el}ms (SIGTERM was not ignored)"; fi
	expect "$c/stop-sigkill" 137 "$out"

	id2=$(dl run -d "${RUN[@]}" "$img" sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done' 2>&1)
	for _ in $(seq 50); do [ "$(dl logs "$id2" 2>&1)" == ready ] && break; sleep 0.1; done
	t0=$(now_ms)
	dl stop -t 20 "$id2" >/dev/null 2>&1
	el=$(($(now_ms) - t0))
	out=$(dl inspect -f '{{.State.ExitCode}}' "$id2" 2>&1)
	if [ "$el" -gt 15000 ]; then out+=" after ${el}ms (the handler did not run)"; fi
	expect "$c/stop-handler" 7 "$out"

	dl rm -f "$id" "$id2" >/dev/null 2>&1
	out=$(leftovers "$rroot" "$id" $sbpid $pids)
	[ -n "$pids" ] || out+="runsc --root $rroot ps gave no pids"
	expect "$c/removal" "" "$out"
}

# descends PID ROOT: PID is ROOT or one of its descendants.
descends() {
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" == "$2" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}

# nspid PID: PID's pid in its innermost PID namespace (NSpid's last).
nspid() { awk '/^NSpid:/ { print $NF }' "/proc/$1/status" 2>/dev/null; }

# top_check NAME ID SANDBOX_PID RUNSC_ROOT
top_check() {
	local c=$1 id=$2 sbpid=$3 rroot=$4 out col p bad="" pids want i
	if [ "$c" == podman ]; then
		# ps(1) descriptors make podman run ps in the container (exec):
		# the application's processes as the sentry shows them.
		out=$(dl top "$id" -ef 2>&1)
		expect_re "$c/top" $'PID[^\n]*\n *1 [^\n]*sleep 1000' "$out"
		# Its default format is psgo's: it enters the mount namespace of
		# the container's pid (the sandbox process) and reads /proc
		# there, the sandbox's read-only procfs (runsc/fence): the
		# sandbox's host processes, by their pids in its PID namespace,
		# which are those of runsc ps.
		for i in 1 2 3; do
			out=$(dl top "$id" 2>&1)
			col=$(echo "$out" | awk 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "PID") k = i } NR>1 && k { print $k }' | sort -n | tr '\n' ' ')
			want=""
			for p in $(host_pids "$rroot" "$id"); do want+="$(nspid "$p") "; done
			want=$(echo $want | tr ' ' '\n' | sort -n | tr '\n' ' ')
			[ -n "$col" ] && [ "$col" == "$want" ] && break
			sleep 0.5
		done
		bad=""
		[[ $(echo "$out" | head -1) =~ ^USER\ +PID\ +PPID\ +%CPU\ +ELAPSED\ +TTY\ +TIME\ +COMMAND ]] || bad+="header; "
		[ -n "$col" ] && [ "$col" == "$want" ] || bad+="pids [$col], runsc ps' [$want]; "
		case " $col " in *" 1 "*) ;; *) bad+="no sandbox process (1); " ;; esac
		expect "$c/top-default" "" "$bad${bad:+$out}"
		return
	fi
	pids=$(host_pids "$rroot" "$id")
	# docker top runs the host's ps and keeps the pids runsc ps gave:
	# they must be the sandbox's host processes.
	out=$(dl top "$id" 2>&1)
	col=$(echo "$out" | awk 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "PID") k = i } NR>1 && k { print $k }' | sort -n | tr '\n' ' ')
	for p in $col; do
		case " $pids " in *" $p "*) ;; *) bad+="$p " ;; esac
	done
	case " $col " in *" $sbpid "*) ;; *) bad+="(no sandbox pid $sbpid) " ;; esac
	expect "$c/top" "host pids ok" "$([ -z "$bad" ] && [ -n "$col" ] && echo "host pids ok" || echo "pids [$col] vs runsc ps [$pids]: $bad: $out")"
}

ensure_pkg() { # ensure_pkg COMMAND GROUP
	command -v "$1" >/dev/null && return 0
	"$ROOT/tools/install-deps.sh" "$2" >&2 || true
	command -v "$1" >/dev/null
}

skip_all() { # skip_all CLIENT WHY
	local s names="output exit-code stdin env workdir user rlimits volume-ro volume-rw hostname tty network-none
		memory-limit bad-command removal-exited exec exec-exit-code exec-tty top stop-sigkill stop-handler removal"
	[ "$1" == podman ] && names+=" top-default"
	[ "$1" == containerd ] && names="output exit-code env workdir user volume-ro volume-rw tty network-none
		memory-limit bad-command rm-exited exec exec-exit-code exec-tty exec-kill pod-member pod-member-top pod-member-pause
		top kill-all stop-sigkill stop-handler removal"
	for s in $names; do
		skipt "$1/$s" "$2"
	done
}

# ---------------------------------------------------------------- podman

run_podman() {
	if ! ensure_pkg podman clients-podman || ! command -v conmon >/dev/null; then
		skip_all podman "podman (Debian package podman) cannot be installed"
		return
	fi
	mkdir -p "$W/pm"
	# runsc keeps its state in its default --root, /var/run/runsc, as for
	# any podman user: podman's exit command (container cleanup, which
	# deletes an exited container) does not pass --runtime-flag on.
	PODMAN=(podman --root "$W/pm/root" --runroot "$W/pm/run" --tmpdir "$W/pm/tmp"
		--cgroup-manager cgroupfs --events-backend file --runtime "$RUNSC")
	DL=("${PODMAN[@]}")
	RUN=(--network none)
	if ! out=$(dl import "$W/rootfs.tar" localhost/rampart/busybox:test 2>&1); then
		failt podman/import "$out"
		return
	fi
	dl_suite podman localhost/rampart/busybox:test /var/run/runsc
}

# ---------------------------------------------------------------- containerd

start_containerd() {
	[ -S "$W/c.sock" ] && return 0
	mkdir -p "$W/ctrd"
	cat >"$W/ctrd/config.toml" <<EOF
version = 2
root = "$W/ctrd/root"
state = "$W/ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/c.sock"
[ttrpc]
  address = "$W/c.sock.ttrpc"
EOF
	containerd --config "$W/ctrd/config.toml" >"$W/ctrd/log" 2>&1 &
	DAEMON_PIDS+=($!)
	for _ in $(seq 150); do
		ctr -a "$W/c.sock" version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "containerd did not start: $(tail -5 "$W/ctrd/log")" >&2
	return 1
}

run_containerd() {
	local c=containerd out rc t0 el id pids sbpid bg img=docker.io/rampart/busybox:test
	if ! ensure_pkg ctr clients-containerd || ! command -v containerd >/dev/null; then
		skip_all containerd "containerd (Debian package containerd) cannot be installed"
		return
	fi
	if ! start_containerd; then
		failt containerd/daemon "containerd did not start"
		return
	fi
	local rroot=$W/ctr-runsc/$CTR_NS
	CTR=(ctr -a "$W/c.sock" -n "$CTR_NS")
	ctr_() { timeout -k 5 "$T" "${CTR[@]}" "$@"; }
	RUNC=(--runc-binary "$RUNSC" --runc-root "$W/ctr-runsc")
	if ! out=$(ctr_ image import "$W/image.tar" 2>&1); then
		failt containerd/import "$out"
		return
	fi

	out=$(ctr_ run --rm "${RUNC[@]}" $img c-out echo hello from rampart 2>&1)
	expect "$c/output" "hello from rampart" "$out"

	ctr_ run --rm "${RUNC[@]}" $img c-exit sh -c 'exit 3' >/dev/null 2>&1
	expect "$c/exit-code" 3 "$?"

	# (No stdin scenario: ctr run never passes the end of a piped stdin on,
	# with runc as well.)
	out=$(ctr_ run --rm "${RUNC[@]}" --env FOO=bar --env EMPTY= $img c-env sh -c 'echo "$FOO|${EMPTY-unset}"' 2>&1)
	expect "$c/env" "bar|" "$out"

	out=$(ctr_ run --rm "${RUNC[@]}" --cwd /tmp $img c-cwd pwd 2>&1)
	expect "$c/workdir" /tmp "$out"

	# ctr has no --user: the image's configured user (CRI's way).
	out=$(ctr_ run --rm "${RUNC[@]}" docker.io/rampart/busybox:nobody c-user sh -c 'echo $(id -u) $(id -g)' 2>&1)
	expect "$c/user" "65534 65534" "$out"

	rm -rf "$W/vol" && mkdir -p "$W/vol" && echo data >"$W/vol/f"
	out=$(ctr_ run --rm "${RUNC[@]}" --mount "type=bind,src=$W/vol,dst=/data,options=rbind:ro" $img c-ro \
		sh -c 'cat /data/f; touch /data/new 2>/dev/null && echo writable || echo read-only' 2>&1)
	if [ -e "$W/vol/new" ]; then out+=" (and the host got the file)"; fi
	expect "$c/volume-ro" "data
read-only" "$out"

	out=$(ctr_ run --rm "${RUNC[@]}" --mount "type=bind,src=$W/vol,dst=/data,options=rbind:rw" $img c-rw \
		sh -c 'echo written >/data/new && cat /data/f' 2>&1)
	out+=" host:$(cat "$W/vol/new" 2>&1)"
	expect "$c/volume-rw" "data host:written" "$out"

	# ctr has no tty of its own here: script(1) gives it one.
	# (The leading "^@" is ctr's, with runc too.)
	out=$(timeout -k 5 "$T" script -qec "${CTR[*]} run --rm -t ${RUNC[*]} $img c-tty tty" /dev/null 2>&1 | tr -d '\r' | sed 's/^\^@//')
	expect_re "$c/tty" '^/dev/pts/[0-9]+$' "$out"

	# ctr gives every container a network namespace of its own, empty
	# but for lo (no CNI), unless --net-host.
	out=$(ctr_ run --rm "${RUNC[@]}" $img c-net sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "' 2>&1)
	expect "$c/network-none" lo "$out"

	ctr_ run --rm "${RUNC[@]}" --memory-limit $((32 << 20)) $img c-mem dd if=/dev/zero of=/dev/null bs=64M count=2 >/dev/null 2>&1
	rc=$?
	ctr_ run --rm "${RUNC[@]}" $img c-mem2 dd if=/dev/zero of=/dev/null bs=64M count=2 >/dev/null 2>&1
	expect "$c/memory-limit" "limited:137 unlimited:0" "limited:$rc unlimited:$?"

	out=$(ctr_ run --rm "${RUNC[@]}" $img c-bad /nonexistent 2>&1)
	rc=$?
	ctr_ c rm c-bad >/dev/null 2>&1
	[[ $out == *"/nonexistent: no such file or directory"* ]] && out="runsc's error" || out="no error from runsc: $out"
	[ $rc -ne 0 ] && rc=failed
	out+=" $rc$(leftovers "$rroot" c-bad)"
	expect "$c/bad-command" "runsc's error failed" "$out"

	# A task that has exited: task rm -f kills it first (runsc's "not
	# running" error must read as runc's for the shim to go on).
	ctr_ run -d "${RUNC[@]}" $img c-exited sh -c 'exit 2' >/dev/null 2>&1
	for _ in $(seq 100); do
		[ "$(ctr_ task ls 2>/dev/null | awk '$1 == "c-exited" { print $3 }')" == STOPPED ] && break
		sleep 0.1
	done
	out=$(ctr_ task rm -f c-exited 2>&1; echo "rc=$?")
	ctr_ c rm c-exited >/dev/null 2>&1
	expect "$c/rm-exited" "rc=0" "$(echo "$out" | grep -v 'level=warn')"

	id=c-long
	if ! out=$(ctr_ run -d "${RUNC[@]}" $img $id sleep 1000 2>&1); then
		failt "$c/detached" "run -d: $out"
		return
	fi
	sbpid=$(ctr_ task ls | awk -v id=$id '$1 == id { print $2 }')
	pids=$(host_pids "$rroot" "$id")

	out=$(ctr_ task exec --exec-id e1 $id sh -c 'echo exec in $(cat /proc/1/cmdline | tr "\0" " ")' 2>&1)
	expect "$c/exec" "exec in sleep 1000" "$out"
	ctr_ task exec --exec-id e2 $id sh -c 'exit 4' >/dev/null 2>&1
	expect "$c/exec-exit-code" 4 "$?"
	# (ctr may fail to resize a process that is already gone: its own
	# error, after the output.)
	out=$(timeout -k 5 "$T" script -qec "${CTR[*]} task exec -t --exec-id e3 $id tty" /dev/null 2>&1 | tr -d '\r' | sed 's/^\^@//' | grep -v 'resize pty')
	expect_re "$c/exec-tty" '^/dev/pts/[0-9]+$' "$out"
	# ctr task kill --exec-id: the shim kill(2)s the pid that runsc exec
	# --pid-file gave it, the process' host stand-in, which forwards the
	# signal to the process in the sandbox.
	ctr_ task exec --exec-id e4 $id sh -c 'trap "exit 5" TERM; echo ready; while :; do sleep 0.1; done' >"$W/e4.out" 2>&1 &
	bg=$!
	for _ in $(seq 100); do [ "$(cat "$W/e4.out")" == ready ] && break; sleep 0.1; done
	ctr_ task kill --exec-id e4 $id >/dev/null 2>&1
	wait $bg
	expect "$c/exec-kill" 5 "$?"

	# A pod as containerd's CRI plugin makes one: a member names the
	# sandbox container in its annotations and joins its sandbox. Its
	# shim reaps the member's pid (runsc's host stand-in for its init) for
	# its exit: ctr sees the member's status while the sandbox runs on.
	local ann=io.kubernetes.cri
	ctr_ run -d "${RUNC[@]}" --annotation $ann.container-type=sandbox --annotation $ann.sandbox-id=c-pod \
		$img c-pod sleep 1000 >/dev/null 2>&1
	ctr_ run "${RUNC[@]}" --annotation $ann.container-type=container --annotation $ann.sandbox-id=c-pod \
		$img c-pod-m sh -c 'exit 3' >/dev/null 2>&1
	rc=$?
	out="$rc $(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod" { print $3 }')"
	ctr_ task rm -f c-pod-m >/dev/null 2>&1
	ctr_ c rm c-pod-m >/dev/null 2>&1
	# A member: ctr task ps lists runsc ps' pids for it, the
	# host processes that run its processes (live, the sandbox's, not
	# its pid, runsc's stand-in); ctr task pause and resume freeze and
	# thaw it alone (its output stops, the sandbox container runs on).
	local mpid mpids sbp p bad="" n1 n2 n3 s1 s2 s3
	rm -rf "$W/podl" && mkdir -p "$W/podl" && : >"$W/podl/out"
	ctr_ run -d "${RUNC[@]}" --annotation $ann.container-type=container --annotation $ann.sandbox-id=c-pod \
		--mount "type=bind,src=$W/podl,dst=/data,options=rbind:rw" \
		$img c-pod-l sh -c 'while :; do echo x >>/data/out; sleep 0.05; done' >/dev/null 2>&1
	sleep 0.5
	# ps while the member is paused: its loop's sleep processes come and
	# go every 50 ms, and a running member's listed pid could end before
	# it is looked at (a false failure once in CI); frozen, none ends.
	ctr_ task pause c-pod-l >/dev/null 2>&1
	s1=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod-l" { print $3 }')
	mpid=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod-l" { print $2 }')
	sbp=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod" { print $2 }')
	mpids=$(ctr_ task ps c-pod-l 2>&1 | awk 'NR>1 { print $1 }' | sort -n | tr '\n' ' ')
	for p in $mpids; do
		[ -d "/proc/$p" ] || bad+="$p is no host process; "
		[ "$p" == "$mpid" ] && bad+="$p is the member's pid (its stand-in); "
		[ "$p" == "$sbp" ] && bad+="$p is the sandbox process; "
		descends "$p" "$sbp" || bad+="$p is not the sandbox's ($sbp); "
	done
	[ -n "$mpids" ] || bad+="no pids; "
	expect "$c/pod-member-top" "" "$bad"
	sleep 0.3
	n1=$(wc -c <"$W/podl/out")
	sleep 1
	n2=$(wc -c <"$W/podl/out")
	s2=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod" { print $3 }')
	ctr_ task resume c-pod-l >/dev/null 2>&1
	sleep 1
	n3=$(wc -c <"$W/podl/out")
	s3=$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod-l" { print $3 }')
	s1="$s1 $s2 $s3"
	[ "$n1" -gt 0 ] && [ "$n1" -eq "$n2" ] || s1+=" (output while paused: $n1 then $n2)"
	[ "$n3" -gt "$n2" ] || s1+=" (output after resume: $n3)"
	expect "$c/pod-member-pause" "PAUSED RUNNING RUNNING" "$s1"
	ctr_ task kill -s SIGKILL c-pod-l >/dev/null 2>&1
	for _ in $(seq 100); do
		[ "$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod-l" { print $3 }')" == STOPPED ] && break
		sleep 0.1
	done
	ctr_ task rm -f c-pod-l >/dev/null 2>&1
	ctr_ c rm c-pod-l >/dev/null 2>&1
	ctr_ task kill -s SIGKILL c-pod >/dev/null 2>&1
	for _ in $(seq 100); do
		[ "$(ctr_ task ls 2>/dev/null | awk '$1 == "c-pod" { print $3 }')" == STOPPED ] && break
		sleep 0.1
	done
	ctr_ task rm -f c-pod >/dev/null 2>&1
	ctr_ c rm c-pod >/dev/null 2>&1
	out+=$(leftovers "$rroot" c-pod)$(leftovers "$rroot" c-pod-l)
	expect "$c/pod-member" "3 RUNNING" "$out"

	# ctr task ps lists runsc ps' pids: the sandbox's host processes.
	out=$(ctr_ task ps $id 2>&1 | awk 'NR>1 { print $1 }' | sort -n | tr '\n' ' ')
	local bad="" p
	for p in $out; do [ -d "/proc/$p" ] || bad+="$p is no host process; "; done
	case " $out " in *" $sbpid "*) ;; *) bad+="no sandbox pid $sbpid; " ;; esac
	expect "$c/top" "" "$bad"
	# kill --all, as the shim passes it on.
	ctr_ task kill -a -s SIGKILL $id >/dev/null 2>&1
	for _ in $(seq 100); do
		[ "$(ctr_ task ls 2>/dev/null | awk -v id=$id '$1 == id { print $3 }')" == STOPPED ] && break
		sleep 0.1
	done
	out=$(ctr_ task ls 2>/dev/null | awk -v id=$id '$1 == id { print $3 }')
	ctr_ task rm -f $id >/dev/null 2>&1
	ctr_ c rm $id >/dev/null 2>&1
	out+=$(leftovers "$rroot" $id $sbpid $pids)
	expect "$c/kill-all" STOPPED "$out"

	# stop as a client does it: SIGTERM, which pid 1 without a handler
	# ignores, then SIGKILL; ctr run in the foreground reports 137.
	id=c-stop
	ctr_ run --rm "${RUNC[@]}" $img $id sleep 1000 >/dev/null 2>&1 &
	bg=$!
	for _ in $(seq 100); do
		[ "$(ctr_ task ls 2>/dev/null | awk -v id=$id '$1 == id { print $3 }')" == RUNNING ] && break
		sleep 0.1
	done
	sbpid=$(ctr_ task ls | awk -v id=$id '$1 == id { print $2 }')
	pids=$(host_pids "$rroot" "$id")
	ctr_ task kill $id >/dev/null 2>&1
	sleep 2
	out=$(ctr_ task ls 2>/dev/null | awk -v id=$id '$1 == id { print $3 }')
	ctr_ task kill -s SIGKILL $id >/dev/null 2>&1
	wait $bg
	expect "$c/stop-sigkill" "RUNNING after SIGTERM, 137" "$out after SIGTERM, $?"

	id=c-trap
	ctr_ run --rm "${RUNC[@]}" $img $id sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$W/trap.out" 2>&1 &
	bg=$!
	for _ in $(seq 100); do [ "$(cat "$W/trap.out")" == ready ] && break; sleep 0.1; done
	ctr_ task kill $id >/dev/null 2>&1
	wait $bg
	expect "$c/stop-handler" 7 "$?"

	# Both ran with --rm: they must be gone, with all they had.
	out=$(leftovers "$rroot" c-stop $sbpid $pids)
	[ -n "$pids" ] || out+="runsc --root $rroot ps gave no pids"
	out+=$(ctr_ c ls -q 2>&1)
	expect "$c/removal" "" "$out"
}

# ---------------------------------------------------------------- docker

start_dockerd() {
	mkdir -p "$W/docker"
	echo '{}' >"$W/docker/daemon.json"
	dockerd --config-file "$W/docker/daemon.json" --data-root "$W/docker/data" --exec-root "$W/docker/exec" \
		--pidfile "$W/docker/docker.pid" -H "unix://$W/d.sock" --containerd "$W/c.sock" \
		--add-runtime "rampart=$RUNSC" --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
		--userland-proxy=false --storage-driver=overlay2 --log-level=warn >"$W/docker/log" 2>&1 &
	DAEMON_PIDS+=($!)
	for _ in $(seq 150); do
		docker -H "unix://$W/d.sock" version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "dockerd did not start: $(tail -5 "$W/docker/log")" >&2
	return 1
}

run_docker() {
	if ! ensure_pkg dockerd clients-docker || ! command -v docker >/dev/null; then
		skip_all docker "docker (Debian package docker.io) cannot be installed"
		return
	fi
	if ! command -v containerd >/dev/null; then
		ensure_pkg containerd clients-containerd
	fi
	if ! start_containerd || ! start_dockerd; then
		failt docker/daemon "dockerd or its containerd did not start"
		return
	fi
	DL=(docker -H "unix://$W/d.sock")
	RUN=(--runtime=rampart --network none)
	if ! out=$(dl import "$W/rootfs.tar" rampart/busybox:test 2>&1); then
		failt docker/import "$out"
		return
	fi
	# The shim runs runsc with --root under dockerd's exec-root.
	dl_suite docker rampart/busybox:test "$W/docker/exec/runtime-runc/moby"
}

# ---------------------------------------------------------------- main

if [ ! -x "$RUNSC" ]; then
	echo "run.sh: $RUNSC not built (make build)" >&2
	exit 2
fi
# One run at a time on the machine: $W and the daemons' names are fixed.
exec 9>/tmp/rampart-clients.lock
flock 9
rm -rf "$W"
mkdir -p "$W"
if ! make_image; then
	failt image "cannot make the busybox image (busybox-static, python3)"
else
	for client in $CLIENTS; do
		echo "== $client"
		"run_$client"
	done
fi
cleanup
trap - EXIT
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
