#!/bin/bash
# Relay throughput per engine on the test topology (scripts/topology.sh):
# a call is set up through sipmasq with sipp, then rtpblast sends 172-byte
# RTP-shaped datagrams from the phone (10.0.0.2) through the relay to the far
# end (198.51.100.2) at stepped rates; the far end counts loss and one-way
# delay. For each engine it prints the highest rate forwarded with < 0.1%
# loss, and the ratio to the userspace engine measured in the same run.
#
# Usage (root, built tree): scripts/bench/relay-bench.sh [-e "userspace tc xdp"]
#        [-r "RATE ..."] [-s STEP_SECONDS] [-o RESULT.json]
# Only namespaces of its own receive traffic; everything is removed on exit.
set -eu
cd "$(dirname "$0")/../.."
top=$PWD
engines="userspace tc xdp"
rates="25000 50000 100000 150000 200000 300000 400000 500000 600000 800000 1000000 1200000 1500000"
step=2
out=""
while getopts "e:r:s:o:" opt; do
	case $opt in
	e) engines=$OPTARG ;;
	r) rates=$OPTARG ;;
	s) step=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-e ENGINES] [-r RATES] [-s STEP_SECONDS] [-o RESULT.json]" >&2; exit 2 ;;
	esac
done
for f in sipmasq scripts/bench/rtpblast tests/unit/smq_kern_tool; do
	[ -x "$f" ] || { echo "$0: $f is missing: build first (scripts/setup.sh; make check)" >&2; exit 2; }
done

prefix=smqb$$
work=$(mktemp -d /tmp/sipmasq-bench.XXXXXX)
pids=()
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$prefix-$ns" -- "$@"; }
# In the background, remembered for cleanup: nsenter execs the command, so
# $! is the command itself (a backgrounded shell function would not be).
bg_ns() { local ns=$1; shift; nsenter --net="/run/netns/$prefix-$ns" -- "$@" & pids+=($!); }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	pids=()
	"$top/scripts/topology.sh" down "$prefix" || true
	rm -rf "/sys/fs/bpf/$prefix"
}
trap 'cleanup; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

results=()
run_engine() {
	local engine=$1 relay_port="" best=0
	local log=$work/sipmasq-$engine.log
	"$top/scripts/topology.sh" up "$prefix"
	if [ "$engine" = xdp ]; then
		# Senders hand full checksums to the gateway, as a real NIC would,
		# and the far veth ends accept natively redirected frames.
		in_ns lan "$top/tests/unit/smq_kern_tool" tx-csum lan0 off >/dev/null
		in_ns wan "$top/tests/unit/smq_kern_tool" tx-csum wan0 off >/dev/null
		in_ns lan "$top/tests/unit/smq_kern_tool" xdp-pass lan0 >/dev/null
		in_ns wan "$top/tests/unit/smq_kern_tool" xdp-pass wan0 >/dev/null
	fi
	cat > "$work/sipmasq.conf" <<CONF
if_inbound = gwlan
if_outbound = gwwan
rtp_port_low = 7070
rtp_port_high = 7089
rtp_engine = $engine
bpf_pin_dir = /sys/fs/bpf/$prefix
log_calls = 1
debug_level = 0x200
CONF
	bg_ns gw "$top/sipmasq" --foreground -c "$work/sipmasq.conf" > "$log" 2>&1
	for _ in $(seq 50); do grep -q ready "$log" && break; sleep 0.1; done
	grep "rtp engine" "$log" | sed 's/^/  /'
	bg_ns wan sipp -sf "$top/scripts/bench/sipp/uas_hold.xml" -i 198.51.100.2 -p 5070 \
		-mp 16000 -key rtpport 40002 -m 1 -nostdin > "$work/uas.out" 2>&1
	sleep 0.3
	bg_ns lan sipp -sf "$top/scripts/bench/sipp/uac_hold.xml" -i 10.0.0.2 -p 5062 -mp 6000 \
		-rsa 10.0.0.1:5060 -key to sip:bench@198.51.100.2:5070 -key from sip:bench@10.0.0.2 \
		-key rtpport 40000 \
		-d 600000 -m 1 -nostdin 198.51.100.2:5070 > "$work/uac.out" 2>&1
	for _ in $(seq 50); do
		relay_port=$(sed -n 's/.*m\[0\] public 198.51.100.2:40002 -> relay port \([0-9]*\).*/\1/p' "$log" | tail -1)
		[ -n "$relay_port" ] && break
		sleep 0.1
	done
	[ -n "$relay_port" ] || { echo "  call setup failed"; tail -20 "$log"; cleanup; return 1; }
	local fails=0
	for rate in $rates; do
		in_ns wan "$top/scripts/bench/rtpblast" recv 198.51.100.2:40002 $((step + 5)) > "$work/recv.json" &
		local rpid=$!
		sleep 0.2
		local sent
		sent=$(in_ns lan "$top/scripts/bench/rtpblast" send 10.0.0.2:40000 "10.0.0.1:$relay_port" "$rate" "$step")
		wait "$rpid" || true
		local recv
		recv=$(cat "$work/recv.json")
		local line
		line=$(/usr/bin/python3 - "$engine" "$rate" "$sent" "$recv" <<'PY'
import json, sys
engine, rate, sent, recv = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
loss = 1.0 - recv["received"] / sent["sent"] if sent["sent"] else 1.0
gen_bound = sent["rate"] < 0.98 * rate
print(json.dumps({"engine": engine, "offered_pps": rate, "sent_pps": round(sent["rate"]),
                  "sent": sent["sent"], "received": recv["received"], "loss": round(max(loss, 0.0), 6),
                  "p50_us": recv["p50_us"], "p99_us": recv["p99_us"], "p999_us": recv["p999_us"],
                  "generator_bound": gen_bound}))
PY
)
		results+=("$line")
		echo "  $line"
		if /usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["loss"] < 0.001 and not r["generator_bound"] else 1)' "$line"; then
			best=$rate
			fails=0
		else
			fails=$((fails + 1))
			[ $fails -ge 2 ] && break
		fi
	done
	echo "  $engine: best rate with < 0.1% loss: $best pps"
	cleanup
}

for e in $engines; do
	echo "== engine $e"
	run_engine "$e" || true
done

printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
best = {}
for r in rows:
    if r["loss"] < 0.001 and not r["generator_bound"]:
        best[r["engine"]] = max(best.get(r["engine"], 0), r["offered_pps"])
base = best.get("userspace")
print("\nengine       max pps (<0.1% loss)   vs userspace")
for e, b in best.items():
    ratio = "%.2fx" % (b / base) if base else "n/a"
    print("%-12s %20d   %s" % (e, b, ratio))
gen = max((r["sent_pps"] for r in rows), default=0)
print("highest rate the generator reached: %d pps" % gen)
json.dump({"rows": rows, "best": best}, open(sys.argv[1], "w"), indent=1) if len(sys.argv) > 1 and sys.argv[1] else None
' ${out:+"$out"}
