#!/bin/bash
# Test/demo network topologies for sipmasq, built from network namespaces
# joined by veth pairs; shared by the pytest end-to-end suite and
# scripts/demo.sh.
#
# "up": sipmasq on the masquerading gateway (the standard setup).
#
#   PREFIX-lan                 PREFIX-gw (sipmasq)                PREFIX-wan
#   lan0 10.0.0.2/24  <---->  gwlan 10.0.0.1/24
#        10.0.0.3/24          gwwan 198.51.100.1/24  <---->  wan0 198.51.100.2/24
#   default via 10.0.0.1      ip_forward=1, MASQUERADE      (Kamailio :5060, far-end UAs)
#                             out of gwwan                  no route to 10.0.0.0/8
#
# "up-nat": sipmasq "in front of" a NAT router (siproxd's second setup):
# sipmasq is a host of the LAN with one interface, and the router forwards
# SIP (5060) and the RTP relay range (7070-7089) of its public address to it.
#
#   PREFIX-lan                PREFIX-rtr (NAT router)                 PREFIX-wan
#   lan0 10.0.0.2/24 <----> rlan -+
#   default via 10.0.0.1          br0 10.0.0.1/24
#   PREFIX-smq (sipmasq)          |
#   eth0 10.0.0.5/24 <----> rsmq -+
#   default via 10.0.0.1    rwan 198.51.100.1/24  <---->  wan0 198.51.100.2/24
#                           ip_forward=1, MASQUERADE out of rwan,
#                           DNAT udp 5060 and 7070:7089 -> 10.0.0.5
#
# The public side deliberately has no route back to the private network and
# no default route: a private address leaked into SIP or SDP breaks the call
# instead of silently working.
#
# Usage: topology.sh up PREFIX | up-nat PREFIX | down PREFIX
# ("down" removes whatever namespaces of PREFIX exist, of either topology.)
# PREFIX must be short (at most 10 characters, [A-Za-z0-9_]) so that the
# namespace names stay readable; the interface names inside the namespaces
# are fixed because every namespace has its own set of names.
set -eu

usage() {
	echo "usage: $0 up|up-nat|down PREFIX" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
prefix=$2
case "$prefix" in
*[!A-Za-z0-9_]* | "") echo "$0: bad PREFIX '$prefix'" >&2; exit 2 ;;
esac
[ ${#prefix} -le 10 ] || { echo "$0: PREFIX '$prefix' too long (max 10)" >&2; exit 2; }

lan=$prefix-lan
gw=$prefix-gw
wan=$prefix-wan
rtr=$prefix-rtr
smq=$prefix-smq
all_ns=("$lan" "$gw" "$wan" "$rtr" "$smq")

# The NAT router forwards these UDP ports of its public address to sipmasq
# (sip_listen_port and the test configuration's rtp_port_low:rtp_port_high).
NAT_SMQ=10.0.0.5
NAT_FORWARDS=(5060 7070:7089)

# Run a command inside a namespace without remounting /sys (see TESTING.md).
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

down() {
	# Deleting a namespace destroys its veth ends, and with them the peers.
	local ns
	for ns in "${all_ns[@]}"; do
		if [ -e "/run/netns/$ns" ]; then
			ip netns delete "$ns" 2>/dev/null || true
		fi
	done
	return 0
}

# Create the namespaces given (loopback up, IPv6 off), refusing to touch any
# that exists already; from here on, a failure removes everything of PREFIX.
add_namespaces() {
	local ns
	for ns in "$@"; do
		if [ -e "/run/netns/$ns" ]; then
			echo "$0: namespace $ns already exists (run '$0 down $prefix')" >&2
			exit 1
		fi
	done
	trap 'down' EXIT
	for ns in "$@"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# IPv6 is out of scope: keep router solicitations etc. off the wire.
		in_ns "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
		in_ns "$ns" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
	done
}

# veth NS1 IF1 NS2 IF2: a veth pair created inside the namespaces directly
# (no host-side names), both ends up.
veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# The phone's namespace (lan0, 10.0.0.2 and .3, default via 10.0.0.1).
setup_phones() {
	ip -n "$lan" addr add 10.0.0.2/24 dev lan0
	ip -n "$lan" addr add 10.0.0.3/24 dev lan0
	ip -n "$lan" route add default via 10.0.0.1
}

# The public side: Kamailio and far-end UAs on wan0, 198.51.100.2.
setup_wan() {
	ip -n "$wan" addr add 198.51.100.2/24 dev wan0
}

# Masquerading router ROUTER_NS with public interface IF.
masquerade() {
	in_ns "$1" sysctl -q -w net.ipv4.ip_forward=1
	in_ns "$1" iptables -t nat -A POSTROUTING -o "$2" -j MASQUERADE
}

up() {
	add_namespaces "$lan" "$gw" "$wan"
	veth "$lan" lan0 "$gw" gwlan
	veth "$gw" gwwan "$wan" wan0
	setup_phones
	ip -n "$gw" addr add 10.0.0.1/24 dev gwlan
	ip -n "$gw" addr add 198.51.100.1/24 dev gwwan
	masquerade "$gw" gwwan
	setup_wan
	trap - EXIT
}

up_nat() {
	local port
	add_namespaces "$lan" "$smq" "$rtr" "$wan"
	ip -n "$rtr" link add br0 type bridge
	ip -n "$rtr" link set br0 up
	veth "$lan" lan0 "$rtr" rlan
	veth "$smq" eth0 "$rtr" rsmq
	veth "$rtr" rwan "$wan" wan0
	ip -n "$rtr" link set rlan master br0
	ip -n "$rtr" link set rsmq master br0
	ip -n "$rtr" addr add 10.0.0.1/24 dev br0
	ip -n "$rtr" addr add 198.51.100.1/24 dev rwan
	masquerade "$rtr" rwan
	for port in "${NAT_FORWARDS[@]}"; do
		in_ns "$rtr" iptables -t nat -A PREROUTING -i rwan -p udp --dport "$port" \
			-j DNAT --to-destination "$NAT_SMQ"
	done
	setup_phones
	ip -n "$smq" addr add "$NAT_SMQ/24" dev eth0
	ip -n "$smq" route add default via 10.0.0.1
	setup_wan
	trap - EXIT
}

case "$cmd" in
up) up ;;
up-nat) up_nat ;;
down) down ;;
*) usage ;;
esac
