"""The test harness itself, without sipmasq: topology, Kamailio, sipp.

These tests prove that the tools the sipmasq tests rely on work, and that
the topology really punishes a leaked private address (negative controls):
if they fail, the sipmasq tests mean nothing.
"""

import pytest

from lib import flows, netns
from lib.capture import private_leaks
from lib.flows import ALICE, BOB, CALL_MS, MIN_RTP

pytestmark = pytest.mark.harness


def test_topology_addresses_and_routes(topology):
    lan = netns.run_in(topology.lan, ["ip", "-4", "-o", "addr", "show", "lan0"]).stdout
    assert "10.0.0.2/24" in lan and "10.0.0.3/24" in lan
    gw = netns.run_in(topology.gw, ["ip", "-4", "-o", "addr"]).stdout
    assert "10.0.0.1/24" in gw and "198.51.100.1/24" in gw
    assert netns.run_in(topology.gw, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    nat = netns.run_in(topology.gw, ["iptables", "-w", "5", "-t", "nat", "-S", "POSTROUTING"]).stdout
    assert "-o gwwan -j MASQUERADE" in nat
    # The public side can reach the gateway but not the private network.
    assert "default" in netns.run_in(topology.lan, ["ip", "route"]).stdout
    wan_routes = netns.run_in(topology.wan, ["ip", "route"]).stdout
    assert "default" not in wan_routes and "10.0.0" not in wan_routes
    r = netns.run_in(topology.wan, ["ip", "route", "get", "10.0.0.2"], check=False)
    assert r.returncode != 0, "wan namespace must have no route to 10.0.0.2"


def test_register_through_masquerade(topology, kamailio, sipp):
    """Without sipmasq the REGISTER passes the gateway's MASQUERADE and
    Kamailio stores the phone's private Contact (which is the problem
    sipmasq solves)."""
    res = flows.register(sipp, topology, ALICE, expires=60, via_sipmasq=False)
    assert res.ok, res.describe()
    ok = flows.received_responses(res, 200, "REGISTER")
    assert ok and "10.0.0.2" in ok[0].get("contact", ""), res.describe()
    assert kamailio.active_contacts("alice") == ["sip:alice@10.0.0.2:5060"], kamailio.location()
    # Unregister empties the location table.
    res = flows.register(sipp, topology, ALICE, expires=0, via_sipmasq=False)
    assert res.ok, res.describe()
    assert kamailio.active_contacts("alice") == []


def test_direct_call_with_audio_and_pcap_source_port(topology, sipp, counter, capture):
    """A call from the private side straight to a far-end UAS works through
    MASQUERADE, the far end echoes RTP back, and the capture shows that sipp
    sends play_pcap_audio packets from its media port (-mp): symmetric RTP
    latching can rely on it.  The capture also proves that the leak detector
    used by the sipmasq tests does see private addresses."""
    at_bob = counter(topology.wan, BOB.media)
    at_alice = counter(topology.lan, ALICE.media)
    lan_cap = capture(topology.lan, "lan0", "lan")
    wan_cap = capture(topology.wan, "wan0", "wan")
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), via_sipmasq=False,
                             duration_ms=CALL_MS)
    uac_res = uac.result()
    uas_res = uas.result()
    assert uac_res.ok, uac_res.describe()
    assert uas_res.ok, uas_res.describe()
    assert at_bob.packets() >= MIN_RTP
    assert at_alice.packets() >= MIN_RTP

    rtp_out = [p for p in lan_cap.rtp_packets()
               if p.src == ALICE.ip and p.dst == BOB.ip]
    assert len(rtp_out) >= MIN_RTP
    assert {p.sport for p in rtp_out} == {ALICE.media}, \
        "sipp play_pcap_audio source ports: %s" % sorted({p.sport for p in rtp_out})
    assert {p.dport for p in rtp_out} == {BOB.media}

    leaks = [leak for _, m in wan_cap.sip_messages() for leak in private_leaks(m)]
    assert any("contact" in leak for leak in leaks), leaks
    assert any(leak.startswith("sdp c=") for leak in leaks), leaks


def test_private_contact_breaks_callee_hangup(topology, kamailio, sipp):
    """Negative control: through Kamailio (record-routing) a far-end BYE to
    the phone's private Contact cannot be delivered; sipmasq must fix that."""
    assert flows.register(sipp, topology, BOB).ok
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_echo_bye", duration_ms=500)
    uac = flows.start_caller(sipp, topology, ALICE, BOB.aor, scenario="uac_call_wait_bye",
                             via_sipmasq=False, timeout=8)
    uas_res = uas.result()
    uac_res = uac.result()
    assert not uas_res.ok
    assert flows.received_responses(uas_res, 477, "BYE"), uas_res.describe()
    assert not uac_res.ok
    assert "Network is unreachable" in kamailio.output()


def test_cancel_and_reinvite_scenarios(topology, sipp, counter):
    """The CANCEL and re-INVITE scenario pairs work against each other."""
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_ring_cancel")
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), scenario="uac_cancel",
                             via_sipmasq=False)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    assert flows.received_responses(uac_res, 487, "INVITE")

    flows.wait_unbound(topology, ALICE)
    flows.wait_unbound(topology, BOB)
    at_new = counter(topology.wan, BOB.media + 2)
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_reinvite")
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_reinvite", via_sipmasq=False)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    reinv = flows.received_requests(uac_res, "INVITE")
    assert reinv and reinv[0].sdp_audio_port() == BOB.media + 2
    assert at_new.packets() >= MIN_RTP
