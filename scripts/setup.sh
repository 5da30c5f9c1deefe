#!/bin/sh
# Install what sipmasq needs on Debian 12 (as root) and build it in place.
# Idempotent: apt-get skips what is there, make rebuilds only what changed.
# libclang-rt-dev: clang's sanitizer and libFuzzer runtimes (only recommended
# by clang, and recommends are not installed here). conntrack and nftables:
# the conntrack engine's tests list entries and take NAT away.
# libtool libltdl-dev libsqlite3-dev: to build siproxd, the oracle of the
# compat suite (tests/compat/build_siproxd.sh; libosip2-dev is ours too).
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake pkg-config libosip2-dev libjansson-dev libssl-dev
	libc-ares-dev libcap-dev libsystemd-dev
	clang libclang-rt-dev llvm libbpf-dev bpftool libmnl-dev libnetfilter-conntrack-dev
	iproute2 iptables nftables conntrack procps python3-pytest sip-tester kamailio tshark dnsmasq-base
	valgrind sipvicious gnuplot-nox systemd man-db
	libtool libltdl-dev libsqlite3-dev"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

if [ ! -f Makefile ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi
	./configure --sysconfdir=/etc ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)"
