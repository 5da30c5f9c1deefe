#!/bin/sh
# The whole test suite, as CI runs it: set up and build, C unit tests, then
# the pytest suite (end-to-end calls in network namespaces; needs root).
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
make check
exec pytest-3 -v -ra tests/
