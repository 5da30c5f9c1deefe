"""sipmasq "in front of" a NAT router (siproxd's second setup; issue 4, seed
scenario 2), end to end.

Topology (scripts/topology.sh up-nat): the phone (lan, 10.0.0.2) and
sipmasq (smq, one interface eth0 10.0.0.5) share the LAN of a NAT router
(rtr, br0 10.0.0.1) that masquerades everything leaving its public
interface rwan (198.51.100.1) and forwards UDP 5060 and the relay range
7070-7089 of that address to sipmasq. Kamailio and the far-end user agents
(wan, 198.51.100.2) have no route to 10.0.0.0/8.

sipmasq runs with if_inbound = if_outbound = eth0 and host_outbound =
198.51.100.1: it tells the private side from the public side by source
(the LAN subnet is private), shows the router's address in Via, Contact,
Record-Route and SDP toward the public side, and binds its relay to
10.0.0.5. The test registers the phone at Kamailio through sipmasq, places
a call out and a call in with RTP both ways, checks on a capture of the
router's public interface that no private address leaves in SIP or SDP,
and runs all of it on the userspace relay and on the tc fast path, whose
packets go back out of the interface they came in on. The tc fast path
needs IPv4 forwarding on that interface (bpf_fib_lookup refuses to route
otherwise): the "tc" variant, on a plain host, is an expected failure until
sipmasq copes with that; "tc-forwarding" turns forwarding on for eth0.
"""

import subprocess

import re

import pytest

import conftest
from lib import flows, kernel, netns, skips
from lib import sipmasq as smqlib
from lib.capture import private_leaks
from lib.flows import ALICE, BOB, DOMAIN, ERIN, MIN_RTP, REGISTRAR, RELAY_PORTS
from lib.kamailio import Kamailio

SMQ = "10.0.0.5"                    # sipmasq's only address
SMQ_PROXY = "%s:5060" % SMQ         # the phones' outbound proxy
ROUTER_PUBLIC = "198.51.100.1"      # host_outbound: the router's public address
ROUTER_WAN_IF = "rwan"

ENGINE_NAME = {"tc": "tc", "userspace": "userspace"}


class NatTopology:
    """The four namespaces of 'topology.sh up-nat PREFIX'. The attribute
    names match lib.flows.UA.side ('lan', 'wan'), so flows' helpers for
    UAs that do not go through sipmasq work unchanged."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.lan = prefix + "-lan"
        self.smq = prefix + "-smq"
        self.rtr = prefix + "-rtr"
        self.wan = prefix + "-wan"

    def up(self):
        r = subprocess.run([netns.TOPOLOGY, "up-nat", self.prefix], timeout=30,
                           capture_output=True, text=True)
        assert r.returncode == 0, "topology.sh up-nat failed:\n%s%s" % (r.stdout, r.stderr)

    def down(self):
        subprocess.run([netns.TOPOLOGY, "down", self.prefix], check=False,
                       timeout=30, capture_output=True)

    def namespaces(self):
        return (self.lan, self.smq, self.rtr, self.wan)


@pytest.fixture
def nat(procs, request, tmp_path):
    """The NAT-router topology; always removed, processes first."""
    topo = NatTopology("%s%d" % (conftest.SESSION_TAG, next(conftest._test_numbers)))
    topo.down()
    topo.up()
    yield topo
    procs.stop_all()
    for ns in topo.namespaces():
        netns.kill_netns_pids(ns)
    topo.down()
    if conftest._failed(request):
        print("\n=== test files kept in %s ===" % tmp_path)


@pytest.fixture
def nat_kamailio(nat, procs, tmp_path, request):
    kam = Kamailio(procs, nat.wan, tmp_path).start()
    yield kam
    if conftest._failed(request):
        print("\n=== kamailio log (tail) %s ===\n%s"
              % (kam.log_path, conftest._tail(kam.log_path)))
    kam.stop()


@pytest.fixture
def nat_sipmasq(nat, procs, tmp_path, request):
    """Factory: nat_sipmasq(**overrides) starts sipmasq in the smq namespace
    with the default test configuration, one interface for both sides and
    host_outbound = the router's public address."""
    yield from conftest.sipmasq_instances(
        procs, nat.smq, tmp_path, request,
        defaults={"if_inbound": "eth0", "if_outbound": "eth0", "host_outbound": ROUTER_PUBLIC})


# --- the phone's side: sipmasq at 10.0.0.5 is its outbound proxy ---------

def register_phone(sipp, nat, ua=ALICE):
    return sipp.run(nat.lan, "register", ua.ip, ua.port, REGISTRAR, rsa=SMQ_PROXY,
                    keys={"user": ua.user, "domain": DOMAIN, "expires": 600})


def start_phone_call(sipp, nat, ua, to):
    far = to.split("@", 1)[1]
    return sipp.start(nat.lan, "uac_call", ua.ip, ua.port, far, rsa=SMQ_PROXY,
                      keys={"to": to, "from_user": ua.user, "domain": DOMAIN},
                      media_port=ua.media, duration_ms=flows.CALL_MS, timeout=20)


def relay_counter(counter, nat, ua):
    """RTP arriving at ua's media port from the relay: from 10.0.0.5 on the
    LAN, from the router's public address (masqueraded) on the public side."""
    src = SMQ if ua.side == "lan" else ROUTER_PUBLIC
    return counter(ua.ns(nat), ua.media, src=src, sport="%d:%d" % RELAY_PORTS)


def assert_sdp(msg, ip):
    """msg's SDP announces the relay: c= and o= carry ip, m= a relay port."""
    assert msg.body.strip(), "no SDP in %s" % msg.start
    assert msg.sdp_connection_ip() == ip, msg.text
    owners = msg.sdp("o")
    assert owners and owners[0].split()[-1] == ip, msg.text
    port = msg.sdp_audio_port()
    assert port is not None and RELAY_PORTS[0] <= port <= RELAY_PORTS[1], msg.text


def assert_counts(end, key, arrived, what):
    relayed = end[key]
    assert relayed > 0 and arrived > 0, "%s: relayed=%d arrived=%d" % (what, relayed, arrived)
    assert abs(relayed - arrived) <= max(5, arrived // 10), \
        "%s: sipmasq says %d packets, far end got %d" % (what, relayed, arrived)


class FastPathIdle(AssertionError):
    """The tc fast path forwarded nothing because routing refused it
    (smq_stats fib_fwd_disabled): the cause the xfail of the tc variant
    names, told apart from every other failure."""


def check_engine(end, engine, what):
    """The call-end line names the engine; userspace forwards everything."""
    assert end["engine"] == ENGINE_NAME[engine], (what, end)
    for d in ("p2p", "p2r"):
        assert 0 <= end[d + "_kernel"] <= end[d + "_pkts"], (what, end)
    if engine == "userspace":
        assert end["p2p_kernel"] == 0 and end["p2r_kernel"] == 0, (what, end)


def check_fast_path(smq, ends):
    """On tc, the kernel forwarded packets of every call both ways: out of
    eth0, where they came in. ends: {what: call-end dict}."""
    stats = kernel.stats(smq.config["bpf_pin_dir"], smq.ns)
    idle = ["%s: %s" % (what, end) for what, end in ends.items()
            if end["p2p_kernel"] == 0 or end["p2r_kernel"] == 0]
    if idle and stats.get("fib_fwd_disabled", 0) > 0 and stats.get("forwarded", 0) == 0:
        raise FastPathIdle("the tc fast path forwarded nothing, bpf_fib_lookup said "
                           "FWD_DISABLED: %s; smq_stats %s" % ("; ".join(idle), stats))
    assert not idle, "the tc fast path left a direction to userspace: %s; smq_stats %s" % (
        "; ".join(idle), stats)
    assert stats["forwarded"] > 0, stats


def outgoing_call(nat, sipp, counter, smq):
    """phone -> sipmasq -> router -> bob, audio both ways; returns the
    call-end line."""
    at_bob = relay_counter(counter, nat, BOB)
    at_alice = relay_counter(counter, nat, ALICE)
    uas = flows.start_callee(sipp, nat, BOB)
    uac = start_phone_call(sipp, nat, ALICE, flows.uri_of(BOB))
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert ROUTER_PUBLIC in invite.all("via")[0], invite.text
    assert_sdp(invite, ROUTER_PUBLIC)
    assert_sdp(flows.received_responses(uac_res, 200, "INVITE")[0], SMQ)
    got_bob, got_alice = at_bob.packets(), at_alice.packets()
    assert got_bob >= MIN_RTP, "RTP phone -> far end via relay: %d" % got_bob
    assert got_alice >= MIN_RTP, "RTP far end -> phone via relay: %d" % got_alice
    callid = flows.first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    assert smq.call_start(callid)["direction"] == "outgoing"
    assert end["reason"] == "bye", end
    assert_counts(end, "p2p_pkts", got_bob, "outgoing private->public")
    assert_counts(end, "p2r_pkts", got_alice, "outgoing public->private")
    return end


def incoming_call(nat, sipp, counter, smq):
    """erin -> Kamailio -> router:5060 -> sipmasq -> phone, audio both
    ways; returns the call-end line."""
    flows.wait_unbound(nat, ALICE)
    at_alice = relay_counter(counter, nat, ALICE)
    at_erin = relay_counter(counter, nat, ERIN)
    uas = flows.start_callee(sipp, nat, ALICE)
    uac = flows.start_caller(sipp, nat, ERIN, ALICE.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:alice@10.0.0.2:5060"), invite.ruri
    assert_sdp(invite, SMQ)
    assert_sdp(flows.received_responses(uac_res, 200, "INVITE")[0], ROUTER_PUBLIC)
    got_alice, got_erin = at_alice.packets(), at_erin.packets()
    assert got_alice >= MIN_RTP, "RTP far end -> phone via relay: %d" % got_alice
    assert got_erin >= MIN_RTP, "RTP phone -> far end via relay: %d" % got_erin
    callid = flows.first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    assert smq.call_start(callid)["direction"] == "incoming"
    assert end["reason"] == "bye", end
    assert_counts(end, "p2r_pkts", got_alice, "incoming public->private")
    assert_counts(end, "p2p_pkts", got_erin, "incoming private->public")
    return end


def check_public_side(cap):
    """Nothing private crossed the router's public interface: no 10.x in
    SIP routing headers, Request-URIs or SDP, no packet to or from 10.x,
    and the relay's RTP left from relay ports (the router kept them)."""
    sip = cap.sip_messages()
    leaks = ["%s:%d -> %s:%d %s: %s" % (p.src, p.sport, p.dst, p.dport, m.start, leak)
             for p, m in sip for leak in private_leaks(m)]
    assert not leaks, "private addresses on the public side:\n" + "\n".join(leaks)
    # The capture really holds the whole exchange (else the check is void).
    seen = {(m.method or m.cseq_method, m.code) for _, m in sip}
    for wanted in [("REGISTER", None), ("REGISTER", 200), ("INVITE", None), ("INVITE", 200),
                   ("ACK", None), ("BYE", None), ("BYE", 200)]:
        assert wanted in seen, "capture lacks %s: %s" % (wanted, sorted(seen, key=str))
    packets = cap.packets()
    private = [p for p in packets if p.src.startswith("10.") or p.dst.startswith("10.")]
    assert not private, private[:5]
    rtp_out = [p for p in cap.rtp_packets() if p.src == ROUTER_PUBLIC]
    assert len(rtp_out) >= 2 * MIN_RTP, len(rtp_out)
    bad = sorted({p.sport for p in rtp_out if not RELAY_PORTS[0] <= p.sport <= RELAY_PORTS[1]})
    assert not bad, "RTP left the router from ports outside the relay range: %s" % bad


# The fast path routes each packet with bpf_fib_lookup(), which refuses
# (FWD_DISABLED) unless IPv4 forwarding is on for the interface the packet
# came in on. sipmasq's host here is a plain LAN host (forwarding off, as in
# siproxd's documentation): sipmasq then says so and relays in userspace.
FORWARDING_OFF = re.compile(r"rtp engine on eth0: userspace: IPv4 forwarding is off")

_NEED_TOOL = skips.kernel_engine_marker(smqlib.binary())

# (rtp_engine, forwarding on eth0 of sipmasq's host)
SETUPS = [
    pytest.param("userspace", False, id="userspace"),
    pytest.param("tc", False, id="tc-forwarding-off", marks=[_NEED_TOOL]),
    pytest.param("tc", True, id="tc-forwarding", marks=[_NEED_TOOL]),
]


@pytest.mark.parametrize("engine,forwarding", SETUPS)
def test_register_and_calls_behind_nat_router(nat, nat_kamailio, nat_sipmasq, sipp, counter,
                                              capture, engine, forwarding):
    """Register, call out and call in with audio; tc-forwarding shows that
    the tc fast path sends packets back out of the interface they came in
    on once eth0 forwards."""
    if forwarding:
        netns.run_in(nat.smq, ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.forwarding=1"])
    smq = nat_sipmasq(rtp_engine=engine)
    cap = capture(nat.rtr, ROUTER_WAN_IF, "rwan")

    # Registration: Kamailio knows the phone at the router's address.
    res = register_phone(sipp, nat)
    assert res.ok, res.describe()
    contacts = nat_kamailio.active_contacts(ALICE.user)
    assert contacts, nat_kamailio.location()
    for c in contacts:
        assert ROUTER_PUBLIC in c and "10.0.0." not in c, contacts

    ends = {"outgoing call": outgoing_call(nat, sipp, counter, smq),
            "incoming call": incoming_call(nat, sipp, counter, smq)}
    if engine == "tc" and not forwarding:
        # The kernel could not route for this host: sipmasq says why and
        # the userspace relay carries the calls.
        assert FORWARDING_OFF.search(smq.log()), smq.log()[-3000:]
        engine = "userspace"
    for what, end in ends.items():
        check_engine(end, engine, what)
    check_public_side(cap)
    if engine == "tc":
        check_fast_path(smq, ends)
