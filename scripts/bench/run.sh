#!/bin/sh
# The whole benchmark set in one command (docs/benchmarks.md): relay
# throughput, delay, CPU, concurrent calls and memory per media engine, SIP
# call and registration rates. Root, built tree (scripts/setup.sh;
# ./configure; make). Writes OUT (default bench-result/) result.json,
# result.md and throughput.png. Under 10 minutes; --smoke: under a minute.
# The load comes from the first generator the kernel allows (XDP live
# frames, else AF_PACKET; -g picks one), named in the output with why; exit
# status 77 when the kernel allows none.
#
# Usage: scripts/bench/run.sh [--smoke] [-e "userspace tc xdp"] [-o OUT]
#        [--calls N] [--rates "PPS ..."] [--no-sip]
#        [-g xdp-live-frames|af-packet]
exec python3 "$(dirname "$0")/bench.py" "$@"
