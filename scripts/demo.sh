#!/bin/bash
# shellcheck disable=SC2317  # cleanup and helpers run from traps and wait_for
# sipmasq demo: a phone on a private network registers and calls through
# sipmasq, with real audio, entirely inside three network namespaces.
#
#   phone (sipp)            gateway               public side
#   10.0.0.2  ---------- 10.0.0.1 | 198.51.100.1 ---------- 198.51.100.2
#   alice                 sipmasq                Kamailio :5060, bob (sipp) :5070
#
# Steps: build sipmasq if needed, build the topology (scripts/topology.sh),
# start Kamailio and sipmasq, register alice through sipmasq, show
# Kamailio's location entry, call bob with ~5 s of audio that bob echoes
# back, print a summary.  Exit status 0 only if the registration reached the
# registrar with sipmasq's public contact, the call was answered and ended
# cleanly, and RTP went through the relay both ways.
#
# Run as root from anywhere: scripts/demo.sh [-k]   (-k keeps the log dir)
# Environment: SIPMASQ_BIN (default: <repo>/sipmasq), CALL_MS (default 5000).
# Nothing leaves the machine; everything is removed on exit.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
SIPMASQ_BIN=${SIPMASQ_BIN:-$REPO/sipmasq}
CALL_MS=${CALL_MS:-5000}
KEEP=0
[ "${1:-}" = "-k" ] && KEEP=1

PREFIX=smqd$(printf '%04x' $(( ($$ ^ RANDOM) & 0xffff )))
LAN=$PREFIX-lan
GW=$PREFIX-gw
WAN=$PREFIX-wan
TMP=
PIDS=()
FAILED=1

say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }

cleanup() {
	local rc=$? pid ns
	set +e
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.3
	# Everything still running in the demo's namespaces is the demo's.
	for ns in "$LAN" "$GW" "$WAN"; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	"$REPO/scripts/topology.sh" down "$PREFIX" >/dev/null 2>&1
	if [ -n "$TMP" ]; then
		if [ "$KEEP" = 1 ] || [ "$FAILED" = 1 ]; then
			echo "logs kept in $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}

wait_for() {	# wait_for SECONDS DESCRIPTION COMMAND...
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "timed out waiting for $what"
}

[ "$(id -u)" = 0 ] || die "run me as root (network namespaces)"

# --- tools and build -------------------------------------------------------
need="sipp kamailio kamcmd nsenter iptables ip"
missing=
for t in $need; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	if [ -x "$REPO/scripts/setup.sh" ]; then
		say "installing missing tools:$missing"
		"$REPO/scripts/setup.sh"
	else
		die "missing tools:$missing (Debian: apt-get install sip-tester kamailio iptables iproute2 util-linux)"
	fi
fi
[ -r /usr/share/sip-tester/g711a.pcap ] || die "/usr/share/sip-tester/g711a.pcap missing (package sip-tester)"

if [ ! -x "$SIPMASQ_BIN" ]; then
	say "building sipmasq"
	(cd "$REPO" && { [ -x configure ] || autoreconf -fi; } && { [ -f Makefile ] || ./configure; } && make) \
		|| die "build failed"
	[ -x "$SIPMASQ_BIN" ] || die "no binary at $SIPMASQ_BIN after the build"
fi

trap cleanup EXIT
trap 'exit 130' INT TERM
TMP=$(mktemp -d /tmp/sipmasq-demo.XXXXXX)

# --- topology, registrar, sipmasq ---------------------------------------------
say "topology: namespaces $LAN (phone), $GW (sipmasq), $WAN (registrar, far end)"
"$REPO/scripts/topology.sh" up "$PREFIX"

say "starting Kamailio (registrar) on 198.51.100.2:5060"
mkdir -p "$TMP/kamailio"
CTL=$TMP/kamailio/ctl
# Background processes are started with nsenter directly (it execs the
# command), so that $! is the process itself and cleanup can stop it.
nsenter --net="/run/netns/$WAN" -- kamailio -DD -E -f "$REPO/tests/kamailio/kamailio.cfg" -Y "$TMP/kamailio" \
	-P "$TMP/kamailio/kamailio.pid" -m 32 -M 4 -A "CTL_SOCK=\"unix:$CTL\"" \
	>"$TMP/kamailio.log" 2>&1 &
PIDS+=($!)
wait_for 15 "Kamailio" kamcmd -s "unix:$CTL" core.version

say "starting sipmasq on the gateway (inbound gwlan 10.0.0.1, outbound gwwan 198.51.100.1)"
cat >"$TMP/sipmasq.conf" <<EOF
if_inbound = gwlan
if_outbound = gwwan
sip_listen_port = 5060
rtp_proxy_enable = 1
rtp_port_low = 7070
rtp_port_high = 7089
rtp_timeout = 30
default_expires = 600
log_calls = 1
registration_file = $TMP/registrations
EOF
nsenter --net="/run/netns/$GW" -- "$SIPMASQ_BIN" --foreground -c "$TMP/sipmasq.conf" \
	>"$TMP/sipmasq.log" 2>&1 &
SMQ_PID=$!
PIDS+=("$SMQ_PID")
sipmasq_ready() {	# ready, or dead (checked below)
	! kill -0 "$SMQ_PID" 2>/dev/null || grep -qw ready "$TMP/sipmasq.log"
}
wait_for 10 "sipmasq" sipmasq_ready
if ! kill -0 "$SMQ_PID" 2>/dev/null; then
	tail -20 "$TMP/sipmasq.log" >&2
	die "sipmasq exited at start"
fi
grep -w ready "$TMP/sipmasq.log" | head -1

# sipp run in a namespace; output files in $TMP/NAME.*  With SIPP_EXEC=exec
# (in a subshell) sipp replaces the subshell.
sipp_in() {	# sipp_in NS NAME SCENARIO ARGS...
	local ns=$1 name=$2 scen=$3
	shift 3
	${SIPP_EXEC:-} nsenter --net="/run/netns/$ns" -- sipp -sf "$REPO/tests/sipp/$scen.xml" -t u1 -m 1 -l 1 -nostdin \
		-timeout 30s -timeout_error -recv_timeout 10000 \
		-trace_msg -message_file "$TMP/$name.msg" -trace_err -error_file "$TMP/$name.err" \
		"$@" >"$TMP/$name.out" 2>&1
}

# --- registration ------------------------------------------------------------
say "alice (10.0.0.2:5060) registers sip:alice@198.51.100.2 through sipmasq"
reg_ok=0
if sipp_in "$LAN" register register -i 10.0.0.2 -p 5060 -rsa 10.0.0.1:5060 \
	-key user alice -key domain 198.51.100.2 -key expires 600 198.51.100.2:5060; then
	echo "REGISTER answered 200 OK"
else
	echo "REGISTER failed (see $TMP/register.out)"
fi
echo "Kamailio's location table (kamcmd ul.dump):"
kamcmd -s "unix:$CTL" ul.dump | grep -E 'AoR:|Address:|Expires:' | sed 's/^[[:space:]]*/    /'
CONTACT=$(kamcmd -s "unix:$CTL" ul.dump | sed -n 's/^[[:space:]]*Address: //p' | head -1)
case "$CONTACT" in
sip:alice@198.51.100.1:*) reg_ok=1 ;;
esac

# --- call with audio -------------------------------------------------------
say "alice calls sip:bob@198.51.100.2:5070 (bob echoes RTP), $((CALL_MS / 1000)) s of audio"
# Count RTP that arrives from the relay's ports at each end.
in_ns "$WAN" iptables -w 5 -I INPUT -p udp -s 198.51.100.1 --sport 7070:7089 --dport 6200 \
	-m comment --comment demo-bob
in_ns "$LAN" iptables -w 5 -I INPUT -p udp -s 10.0.0.1 --sport 7070:7089 --dport 6000 \
	-m comment --comment demo-alice
count() {	# count NS TAG -> packets
	in_ns "$1" iptables -w 5 -nvx -L INPUT | awk -v tag="/* $2 */" 'index($0, tag) { print $1 }'
}

(SIPP_EXEC="exec" sipp_in "$WAN" bob uas_echo -i 198.51.100.2 -p 5070 -mi 198.51.100.2 \
	-mp 6200 -rtp_echo) &
BOB_PID=$!
PIDS+=("$BOB_PID")
wait_for 5 "bob to listen" sh -c "nsenter --net=/run/netns/$WAN -- ss -Hlun | grep -q '198.51.100.2:5070 '"
uac_rc=0
sipp_in "$LAN" alice uac_call -i 10.0.0.2 -p 5060 -rsa 10.0.0.1:5060 -mi 10.0.0.2 -mp 6000 \
	-d "$CALL_MS" -key to sip:bob@198.51.100.2:5070 -key from_user alice \
	-key domain 198.51.100.2 198.51.100.2:5070 || uac_rc=$?
uas_rc=0
wait "$BOB_PID" || uas_rc=$?
CALLID=$(sed -n 's/^Call-ID: //p' "$TMP/alice.msg" 2>/dev/null | head -1 | tr -d '\r')

# The 'call end' line comes right after the BYE; give it a moment.
END_LINE=
for _ in $(seq 1 30); do
	END_LINE=$(grep -F "call end: Call-ID=$CALLID " "$TMP/sipmasq.log" | tail -1 || true)
	[ -n "$END_LINE" ] && break
	sleep 0.1
done
AT_BOB=$(count "$WAN" demo-bob)
AT_ALICE=$(count "$LAN" demo-alice)
P2P=$(echo "$END_LINE" | sed -n 's/.*private->public=\([0-9]*\)pkts.*/\1/p')
R2P=$(echo "$END_LINE" | sed -n 's/.*public->private=\([0-9]*\)pkts.*/\1/p')
KERNEL=$(echo "$END_LINE" | sed -n 's/.*kernel=\([0-9]*\/[0-9]*\)pkts.*/\1/p')
ENGINE=$(echo "$END_LINE" | sed -n 's/.* engine=\([^ ]*\).*/\1/p')
grep -F "call start: Call-ID=$CALLID " "$TMP/sipmasq.log" | tail -1 | sed 's/^/    /' || true
[ -n "$END_LINE" ] && echo "    $END_LINE"

# --- summary ---------------------------------------------------------------
ok() { [ "$1" = 1 ] && echo "OK  " || echo "FAIL"; }
call_ok=0
[ "$uac_rc" = 0 ] && [ "$uas_rc" = 0 ] && call_ok=1
rtp_ok=0
if [ -n "$P2P" ] && [ -n "$R2P" ] && [ "${P2P:-0}" -gt 0 ] && [ "${R2P:-0}" -gt 0 ] &&
	[ "${AT_BOB:-0}" -gt 0 ] && [ "${AT_ALICE:-0}" -gt 0 ]; then
	rtp_ok=1
fi

say "summary"
echo "$(ok $reg_ok) registration at the registrar: ${CONTACT:-none} (phone's private address hidden)"
echo "$(ok $call_ok) call answered and hung up: caller sipp exit $uac_rc, callee sipp exit $uas_rc (Call-ID $CALLID)"
echo "$(ok $rtp_ok) RTP relayed by sipmasq: phone->far end ${P2P:-?} pkts (bob received ${AT_BOB:-0}), far end->phone ${R2P:-?} pkts (alice received ${AT_ALICE:-0})"
echo "     media engine: ${ENGINE:-?}, packets forwarded in the kernel each way: ${KERNEL:-?}"

if [ "$reg_ok" = 1 ] && [ "$call_ok" = 1 ] && [ "$rtp_ok" = 1 ]; then
	FAILED=0
	echo "demo: all good"
	exit 0
fi
echo "demo: FAILED (logs: $TMP/sipmasq.log, $TMP/kamailio.log, $TMP/*.out)" >&2
exit 1
