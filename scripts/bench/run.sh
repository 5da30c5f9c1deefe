#!/bin/sh
# The whole benchmark set in one command (docs/benchmarks.md): relay
# throughput, delay, CPU, concurrent calls and memory per media engine, SIP
# call and registration rates. Root, built tree (scripts/setup.sh;
# ./configure; make). Writes OUT (default bench-result/) result.json,
# result.md and throughput.png. About 40 minutes with --peers; --smoke:
# about a minute.
# The load comes from the first generator the kernel allows (XDP live
# frames, else AF_PACKET; -g picks one), named in the output with why; exit
# status 77 when the kernel allows none.
#
# --peers adds rtpengine (apt-get install rtpengine-daemon; its userspace
# relay, set up through its ng protocol) and siproxd
# (scripts/bench/build-siproxd.sh) to the same run; figures then carry their
# ratio to rtpengine.
#
# Usage: scripts/bench/run.sh [--smoke] [-e "userspace tc xdp"] [--peers]
#        [-o OUT] [--calls N] [--rates "PPS ..."] [--repeats N] [--no-sip]
#        [-g xdp-live-frames|af-packet]
exec python3 "$(dirname "$0")/bench.py" "$@"
