#!/usr/bin/env bash
# install-deps.sh installs the Debian packages a make target needs, and only
# those that are missing. Groups: demo, test, bench (bench includes test),
# clients (the real OCI clients of test/clients: podman with conmon, containerd
# with ctr and its runc shim, docker.io's dockerd; runc comes with them), and
# clients-podman, clients-containerd, clients-docker (one client each).
#
#   tools/install-deps.sh test
#   tools/install-deps.sh bench
#
# Packages already installed are never touched; `apt-get update` runs at most
# once, and only when something has to be installed.
set -euo pipefail

usage() { echo "usage: $0 demo|test|bench|clients[-podman|-containerd|-docker]..." >&2; exit 2; }
[ $# -ge 1 ] || usage

pkgs=()
for group in "$@"; do
	case "$group" in
	demo)  ;; # the build needs only Go, which is not an apt package here.
	test)  pkgs+=(gcc make libc6-dev libseccomp-dev busybox-static python3 strace gdb iproute2 curl debootstrap) ;;
	bench) pkgs+=(gcc make libc6-dev busybox-static python3 runc crun runsc) ;;
	clients) pkgs+=(busybox-static python3 runc podman conmon containernetworking-plugins containerd docker.io iptables) ;;
	# One client each: test/clients/run.sh skips only the one that cannot
	# be installed.
	clients-podman) pkgs+=(runc podman conmon containernetworking-plugins) ;;
	clients-containerd) pkgs+=(runc containerd) ;;
	clients-docker) pkgs+=(runc containerd docker.io iptables) ;;
	*)     usage ;;
	esac
done

missing=()
for p in "${pkgs[@]+"${pkgs[@]}"}"; do
	# dpkg -s succeeds for "deinstall" states too; require "install ok installed".
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		case " ${missing[*]+"${missing[*]}"} " in *" $p "*) ;; *) missing+=("$p") ;; esac
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then SUDO=sudo; else
		echo "install-deps: missing packages (${missing[*]}) and not root" >&2
		exit 1
	fi
else
	SUDO=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
