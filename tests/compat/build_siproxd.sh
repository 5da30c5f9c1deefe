#!/bin/sh
# Build siproxd, the oracle of the compat suite, from its release tarball into
# a cache directory keyed by the tarball's SHA-256, and print the install
# prefix (PREFIX/sbin/siproxd, plugins in PREFIX/lib/siproxd/).
#
# Usage: build_siproxd.sh TARBALL [CACHE_DIR]
#   CACHE_DIR defaults to $SIPROXD_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/sipmasq.
# A second run with the same tarball finds PREFIX/.built and only prints it.
# Concurrent runs wait for each other (flock), and a build that fails leaves
# nothing behind in the cache. The build log is PREFIX.log (kept on failure).
# Needs: libtool libltdl-dev libosip2-dev libsqlite3-dev autoconf automake
# (scripts/setup.sh installs them). siproxd is used as a black box only.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 TARBALL [CACHE_DIR]" >&2; exit 2; }
tarball=$1
cache=${2:-${SIPROXD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/sipmasq}}
[ -f "$tarball" ] || { echo "$0: no tarball at $tarball" >&2; exit 3; }

sum=$(sha256sum "$tarball" | cut -c1-16)
prefix=$cache/siproxd-$sum
mkdir -p "$cache"

exec 9>"$cache/.siproxd-$sum.lock"
flock 9
if [ -f "$prefix/.built" ] && [ -x "$prefix/sbin/siproxd" ]; then
	echo "$prefix"
	exit 0
fi

work=$(mktemp -d "$cache/.build-$sum.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$prefix.log
rm -rf "$prefix"
{
	tar -xzf "$tarball" -C "$work"
	src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	cd "$src"
	./autogen.sh
	mkdir build
	cd build
	../configure --prefix="$prefix"
	make -j"$(nproc)"
	make install
} >"$log" 2>&1 || {
	rm -rf "$prefix"
	echo "$0: building siproxd failed, see $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
}
touch "$prefix/.built"
echo "$prefix"
