#!/bin/sh
# deps.sh — install the Debian packages pinhole's build and tests need.
#
# Idempotent and quiet when everything is present; fails loudly, naming the
# package, when something cannot be installed. Run as root (or with sudo on
# the PATH). Called by `make test`, `make run` and `make check-asan`.
set -eu

PKGS="build-essential pkg-config libconfig-dev libdb-dev libjansson-dev
libxml2-dev libssl-dev liburing-dev clang libclang-rt-14-dev python3 perl sip-tester
kamailio rtpengine-daemon iproute2 iptables conntrack openssl procps bc
linux-perf"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps.sh: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/tmp/pinhole-deps.log 2>&1; then
	$SUDO apt-get update -q >>/tmp/pinhole-deps.log 2>&1 || true
	if ! $SUDO apt-get install -y -q --no-install-recommends $missing >>/tmp/pinhole-deps.log 2>&1; then
		tail -n 20 /tmp/pinhole-deps.log >&2
		echo "deps.sh: FAILED to install:$missing (log: /tmp/pinhole-deps.log)" >&2
		exit 1
	fi
fi
# kamailio and rtpengine are test peers only: never leave them running as services
for svc in kamailio rtpengine-daemon ngcp-rtpengine-daemon; do
	$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
exit 0
