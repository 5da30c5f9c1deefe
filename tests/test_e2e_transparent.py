"""Transparent proxying (siproxd's third setup; issue 4, seed scenario 3).

The phone knows nothing of sipmasq: no outbound proxy, it sends REGISTER
and INVITE straight to the registrar 198.51.100.2:5060. On the gateway an
iptables rule
    iptables -t nat -A PREROUTING -i gwlan -p udp --dport 5060 \\
             -j REDIRECT --to-ports 5062
hands that SIP to sipmasq, which listens on 5062 in the first variant so
that nothing reaches it except through the rule. sipmasq proxies what it receives by
Route / Request-URI; its answers to the phone leave from 10.0.0.1:5062 and
conntrack's reverse NAT turns their source back into 198.51.100.2:5060,
the address the phone sent to. The usual setup, sipmasq on 5060 itself,
runs too. The test registers, calls out and in with
audio both ways and checks on the WAN side that no private address
leaves in SIP.
"""

import pytest

from lib import flows, netns
from lib.capture import private_leaks
from lib.flows import ALICE, BOB, DOMAIN, ERIN, REGISTRAR


@pytest.fixture(params=[5062, 5060], ids=["listen-5062", "listen-5060"])
def listen(request):
    return request.param


@pytest.fixture
def redirect(topology, listen):
    """The REDIRECT rule in the gateway (to sipmasq's sip_listen_port),
    removed at teardown."""
    def rule(op):
        return ["iptables", "-w", "5", "-t", "nat", op, "PREROUTING", "-i", "gwlan", "-p",
                "udp", "--dport", "5060", "-j", "REDIRECT", "--to-ports", str(listen)]
    netns.run_in(topology.gw, rule("-A"))
    yield
    netns.run_in(topology.gw, rule("-D"), check=False)


def register_direct(sipp, topology, ua=ALICE):
    """REGISTER sent to the registrar itself (no -rsa)."""
    return sipp.run(ua.ns(topology), "register", ua.ip, ua.port, REGISTRAR,
                    keys={"user": ua.user, "domain": DOMAIN, "expires": 600})


def test_transparent_register_and_calls(topology, kamailio, sipp, sipmasq, counter, capture,
                                        listen, redirect):
    smq = sipmasq(sip_listen_port=listen)
    cap = capture(topology.gw, "gwwan", "gwwan")

    # Registration: the phone talked to "the registrar"; Kamailio stored
    # sipmasq's public address, and the 200 came back from 198.51.100.2.
    res = register_direct(sipp, topology)
    assert res.ok, res.describe()
    contacts = kamailio.active_contacts(ALICE.user)
    assert contacts and all("198.51.100.1:%d" % listen in c and "10.0.0." not in c
                            for c in contacts), kamailio.location()
    assert "register sip:alice@%s" % DOMAIN in smq.log()

    # Outgoing call to bob's AOR, through Kamailio (sent to 198.51.100.2:5060).
    res = flows.register(sipp, topology, BOB)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, BOB.aor, via_sipmasq=False)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.sdp_connection_ip() == flows.GW_PUBLIC, invite.text
    flows.assert_relayed(at_alice, at_bob)
    end = flows.assert_call_logged(smq, uac_res, "outgoing")
    assert end["p2p_pkts"] > 0 and end["p2r_pkts"] > 0, end

    # Incoming call: erin -> Kamailio -> sipmasq -> phone.
    flows.wait_unbound(topology, ALICE)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:alice@10.0.0.2:5060"), invite.ruri
    flows.assert_relayed(at_alice, at_erin)
    flows.assert_call_logged(smq, uac_res, "incoming")

    # The public side saw the whole exchange and no private address.
    sip = cap.sip_messages()
    leaks = ["%s -> %s %s: %s" % (p.src, p.dst, m.start, leak)
             for p, m in sip for leak in private_leaks(m)]
    assert not leaks, "private addresses on the public side:\n" + "\n".join(leaks)
    seen = {(m.method or m.cseq_method, m.code) for _, m in sip}
    for wanted in [("REGISTER", None), ("REGISTER", 200), ("INVITE", None), ("INVITE", 200),
                   ("BYE", None), ("BYE", 200)]:
        assert wanted in seen, "capture lacks %s: %s" % (wanted, sorted(seen, key=str))
    assert not [p for p in cap.packets() if p.src.startswith("10.")]
