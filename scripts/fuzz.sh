#!/bin/sh
# Build the libFuzzer targets (tests/fuzz) in a separate copy of the tree
# and run each for a bounded time on a copy of its seed corpus
# (tests/fuzz/corpus/<target>; the repository is never written to).
#
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_TARGETS  targets to run (default: fuzz_sip fuzz_sdp fuzz_config
#                 fuzz_tcp_framing)
#   FUZZ_KEEP=1   keep the work directory (build, corpora, logs)
#   FUZZ_CRASH_DIR where crash inputs are kept (default /tmp/sipmasq-fuzz-crashes)
#
# Prints the executions reached per target; exits non-zero if any target
# crashed (or leaked, or hit a sanitizer report), naming the crash input:
# add it to tests/fuzz/corpus/<target>/crash-<name> once fixed, so that
# every later run replays it.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-fuzz_sip fuzz_sdp fuzz_config fuzz_tcp_framing}
crashdir=${FUZZ_CRASH_DIR:-/tmp/sipmasq-fuzz-crashes}

work=$(mktemp -d /tmp/sipmasq-fuzz.XXXXXX)
if [ "${FUZZ_KEEP:-0}" != 1 ]; then
	trap 'rm -rf "$work"' EXIT
fi
tree=$work/tree
mkdir -p "$tree"
# A separate tree: automake builds one configuration per source tree.
if [ -d .git ]; then
	# Untracked files too (new, not yet committed), but no in-tree fuzz binary.
	git ls-files -z --cached --others --exclude-standard |
		grep -zv '^tests/fuzz/fuzz_[a-z_]*$' | xargs -0 tar cf - | tar xf - -C "$tree"
else
	tar cf - --exclude=.deps --exclude='*.o' --exclude='*.a' . | tar xf - -C "$tree"
fi
echo "fuzz: building in $tree"
(cd "$tree" && autoreconf -fi >/dev/null 2>&1 &&
	./configure -q --enable-fuzzing --enable-bpf=no CC=clang >/dev/null &&
	make -j"$(nproc)" $(for t in $targets; do printf 'tests/fuzz/%s ' "$t"; done) >/dev/null)

status=0
summary=""
npass=0
nfail=0
for t in $targets; do
	corpus=$work/corpus-$t
	artifacts=$work/crashes-$t/
	mkdir -p "$corpus" "$artifacts"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$corpus/"
	fi
	log=$work/$t.log
	echo "fuzz: $t for ${secs} s ($(ls "$corpus" | wc -l) seeds)"
	dict=""
	if [ -f "tests/fuzz/$t.dict" ]; then
		dict="-dict=$src/tests/fuzz/$t.dict"
	fi
	rc=0
	# New inputs go to the corpus copy, never to tests/fuzz/corpus.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$tree/tests/fuzz/$t" -seed=1 -max_total_time="$secs" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" $dict \
		"$corpus" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -ne 0 ]; then
		status=1
		tail -n 60 "$log"
		crash=$(ls "$artifacts" 2>/dev/null | head -n 1)
		if [ -n "$crash" ]; then
			mkdir -p "$crashdir"
			cp "$artifacts$crash" "$crashdir/$t-$crash"
			crash="$crashdir/$t-$crash"
		fi
		echo "fuzz: $t FAILED (exit $rc); input: ${crash:-<none written>}"
		echo "fuzz: replay: tests/fuzz/$t ${crash:-INPUT} in a build configured" \
			"--enable-fuzzing CC=clang (FUZZ_KEEP=1 keeps this one: $tree)"
		summary="$summary
  $t: FAILED after ${execs:-?} executions"
		nfail=$((nfail + 1))
	else
		summary="$summary
  $t: ${execs:-?} executions in ${secs} s, no crash"
		npass=$((npass + 1))
	fi
done
echo "fuzz summary:$summary"
# One target = one test, in the plain form CI summaries read.
echo "fuzz: $npass passed, $nfail failed"
exit $status
