#!/bin/sh
# Builds siproxd, the benchmark's second peer (scripts/bench/run.sh --peers),
# from the tarball in ../shared/peers (a black box: built and run, never
# copied from), following that directory's README. Root, Debian 12.
#
# Usage: scripts/bench/build-siproxd.sh [TARBALL] [PREFIX]
#   TARBALL default: /work/shared/peers/siproxd-*.tar.gz
#   PREFIX  default: /var/tmp/smq-bench-peers/siproxd (bench.py's SIPROXD_BIN
#           default is PREFIX/sbin/siproxd)
set -eu
tarball=${1:-$(ls /work/shared/peers/siproxd-*.tar.gz | head -1)}
prefix=${2:-/var/tmp/smq-bench-peers/siproxd}
src=$(dirname "$prefix")/src
apt-get install -y -q --no-install-recommends libtool libltdl-dev libosip2-dev \
	libsqlite3-dev autoconf automake >/dev/null
mkdir -p "$src"
tar -xzf "$tarball" -C "$src"
cd "$src"/siproxd-*/
./autogen.sh
mkdir -p build && cd build
../configure --prefix="$prefix"
make -j2
make install
echo "siproxd: $prefix/sbin/siproxd"
