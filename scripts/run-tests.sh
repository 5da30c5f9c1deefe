#!/bin/sh
# The whole test suite, as CI runs it (root): set up and build, C unit tests,
# the pytest suite (end-to-end calls in network namespaces), then the same
# again with a build under AddressSanitizer and UBSan, whose reports fail
# the tests, then each libFuzzer target for FUZZ_SECONDS (default 60) on its
# seed corpus. SANITIZERS=0 / FUZZ=0 skip those passes.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
make check
pytest-3 -v -ra tests/

if [ "${SANITIZERS:-1}" != 0 ]; then
	# A separate tree: automake builds one configuration per source tree.
	asan=$(mktemp -d /tmp/sipmasq-asan.XXXXXX)
	trap 'rm -rf "$asan"' EXIT
	if [ -d .git ]; then
		git ls-files -z | xargs -0 tar cf - | tar xf - -C "$asan"
	else
		tar cf - --exclude=.deps --exclude='*.o' . | tar xf - -C "$asan"
	fi
	(cd "$asan" && autoreconf -fi >/dev/null && ./configure -q --enable-sanitizers CC=clang &&
		make -j"$(nproc)" >/dev/null && make check)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		SIPMASQ_BIN="$asan/sipmasq" pytest-3 -v -ra tests/
fi

if [ "${FUZZ:-1}" != 0 ]; then
	FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
fi
