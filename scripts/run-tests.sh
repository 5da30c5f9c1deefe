#!/bin/sh
# The whole test suite, as CI runs it (root), in stages: set up and build,
# C unit tests, the pytest suite (end-to-end calls in network namespaces),
# then the same again with a build under AddressSanitizer and UBSan, whose
# reports fail the tests, then each libFuzzer target for FUZZ_SECONDS
# (default 30) on its seed corpus. SANITIZERS=0 / FUZZ=0 skip those passes.
#
# Every stage runs even when an earlier one failed, so that one failure does
# not hide the others (only the ASan tests wait for their own build). Ends
# with a summary (stage, result, seconds; pytest also lists its 15 slowest
# tests) and exits 1 if any stage failed.
set -u
cd "$(dirname "$0")/.."
t_start=$(date +%s)

asan=""
trap '[ -z "$asan" ] || rm -rf "$asan"' EXIT
summary=""
failed=""

# stage NAME COMMAND...: runs COMMAND (its own shell, set -e) and records
# its result and duration.
stage() {
	name=$1
	shift
	echo "=== stage $name: $*"
	t0=$(date +%s)
	(set -e; "$@")
	rc=$?
	secs=$(($(date +%s) - t0))
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		failed="$failed $name"
	fi
	echo "=== stage $name: $result in ${secs} s"
	summary="$summary$(printf '%-12s %-28s %7s' "$name" "$result" "$secs")
"
}

# not_run NAME WHY: a stage left out, in the summary.
not_run() {
	summary="$summary$(printf '%-12s %-28s %7s' "$1" "not run: $2" -)
"
}

pytest_suite() {
	pytest-3 -v -ra --durations=15 tests/
}

# A separate tree in $asan: automake builds one configuration per source tree.
asan_build() {
	if [ -d .git ]; then
		git ls-files -z | xargs -0 tar cf - | tar xf - -C "$asan"
	else
		tar cf - --exclude=.deps --exclude='*.o' . | tar xf - -C "$asan"
	fi
	(cd "$asan" && autoreconf -fi >/dev/null && ./configure -q --enable-sanitizers CC=clang &&
		make -j"$(nproc)" >/dev/null)
}

asan_check() {
	(cd "$asan" && make check)
}

# The sanitizer pass leaves out what adds no memory checking of its own and
# costs minutes: the siproxd comparisons (tests/compat: the same flows as
# the e2e tests, compared with siproxd) and the benchmark harness smoke run.
asan_pytest() {
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		SIPMASQ_BIN="$asan/sipmasq" pytest-3 -v -ra --durations=15 \
		--ignore=tests/compat --ignore=tests/test_bench_smoke.py tests/
}

fuzz() {
	FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
}

stage setup scripts/setup.sh
stage make-check make check
stage pytest pytest_suite

if [ "${SANITIZERS:-1}" != 0 ]; then
	# Made here: stage runs its command in a subshell.
	asan=$(mktemp -d /tmp/sipmasq-asan.XXXXXX)
	stage asan-build asan_build
	case " $failed " in
	*" asan-build "*)
		not_run asan-check "asan-build failed"
		not_run asan-pytest "asan-build failed" ;;
	*)
		stage asan-check asan_check
		stage asan-pytest asan_pytest ;;
	esac
else
	not_run asan "SANITIZERS=0"
fi

if [ "${FUZZ:-1}" != 0 ]; then
	stage fuzz fuzz
else
	not_run fuzz "FUZZ=0"
fi

echo
echo "=== summary"
printf '%-12s %-28s %7s\n' stage result seconds
printf '%s' "$summary"
printf '%-12s %-28s %7s\n' total "" $(($(date +%s) - t_start))
if [ -n "$failed" ]; then
	echo "FAILED stages:$failed"
	exit 1
fi
echo "all stages passed"
