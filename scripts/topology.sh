#!/bin/bash
# Test/demo network topology for sipmasq: three network namespaces joined by
# two veth pairs, shared by the pytest end-to-end suite and scripts/demo.sh.
#
#   PREFIX-lan                 PREFIX-gw (sipmasq)                PREFIX-wan
#   lan0 10.0.0.2/24  <---->  gwlan 10.0.0.1/24
#        10.0.0.3/24          gwwan 198.51.100.1/24  <---->  wan0 198.51.100.2/24
#   default via 10.0.0.1      ip_forward=1, MASQUERADE      (Kamailio :5060, far-end UAs)
#                             out of gwwan                  no route to 10.0.0.0/8
#
# The public side deliberately has no route back to the private network and
# no default route: a private address leaked into SIP or SDP breaks the call
# instead of silently working.
#
# Usage: topology.sh up PREFIX | down PREFIX
# PREFIX must be short (at most 10 characters, [A-Za-z0-9_]) so that the
# namespace names stay readable; the interface names inside the namespaces
# are fixed because every namespace has its own set of names.
set -eu

usage() {
	echo "usage: $0 up|down PREFIX" >&2
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

# Run a command inside a namespace without remounting /sys (see TESTING.md).
in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

down() {
	# Deleting a namespace destroys its veth ends, and with them the peers.
	local ns
	for ns in "$lan" "$gw" "$wan"; do
		if [ -e "/run/netns/$ns" ]; then
			ip netns delete "$ns" 2>/dev/null || true
		fi
	done
	return 0
}

up() {
	local ns
	for ns in "$lan" "$gw" "$wan"; do
		if [ -e "/run/netns/$ns" ]; then
			echo "$0: namespace $ns already exists (run '$0 down $prefix')" >&2
			exit 1
		fi
	done
	# On any failure below, leave nothing half-built behind.
	trap 'down' EXIT

	ip netns add "$lan"
	ip netns add "$gw"
	ip netns add "$wan"

	# Create each pair inside the namespaces directly: no host-side names.
	ip -n "$lan" link add lan0 type veth peer name gwlan netns "$gw"
	ip -n "$gw" link add gwwan type veth peer name wan0 netns "$wan"

	for ns in "$lan" "$gw" "$wan"; do
		ip -n "$ns" link set lo up
		# IPv6 is out of scope: keep router solicitations etc. off the wire.
		in_ns "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
		in_ns "$ns" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
	done

	ip -n "$lan" addr add 10.0.0.2/24 dev lan0
	ip -n "$lan" addr add 10.0.0.3/24 dev lan0
	ip -n "$lan" link set lan0 up
	ip -n "$lan" route add default via 10.0.0.1

	ip -n "$gw" addr add 10.0.0.1/24 dev gwlan
	ip -n "$gw" addr add 198.51.100.1/24 dev gwwan
	ip -n "$gw" link set gwlan up
	ip -n "$gw" link set gwwan up
	in_ns "$gw" sysctl -q -w net.ipv4.ip_forward=1
	in_ns "$gw" iptables -t nat -A POSTROUTING -o gwwan -j MASQUERADE

	ip -n "$wan" addr add 198.51.100.2/24 dev wan0
	ip -n "$wan" link set wan0 up

	trap - EXIT
}

case "$cmd" in
up) up ;;
down) down ;;
*) usage ;;
esac
