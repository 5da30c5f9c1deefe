"""Calls through sipmasq: SIP rewriting, SDP rewriting, RTP relayed both
ways, hang-up from either side, CANCEL, re-INVITE, port-range exhaustion,
and the log_calls lines."""

import time

import pytest

from lib import flows, netns
from lib.flows import ALICE, BOB, CAROL, DAVE, ERIN, MIN_RTP, RELAY_PORTS


def _in_relay_range(port, low=RELAY_PORTS[0], high=RELAY_PORTS[1]):
    return port is not None and low <= port <= high


def assert_sdp_via_relay(msg, ip, low=RELAY_PORTS[0], high=RELAY_PORTS[1]):
    """msg's SDP announces sipmasq's relay: c= and o= carry ip, m=audio a
    port of the relay range."""
    assert msg.body.strip(), "no SDP in %s" % msg.start
    assert msg.sdp_connection_ip() == ip, msg.text
    owners = msg.sdp("o")
    assert owners and owners[0].split()[-1] == ip, msg.text
    assert _in_relay_range(msg.sdp_audio_port(), low, high), msg.text


def assert_counts_consistent(relayed, arrived, what):
    """sipmasq's per-direction packet count is what the far end received
    through the relay (a kernel engine's last packets may be forwarded
    after the daemon read its counters: IN_FLIGHT)."""
    assert relayed > 0 and arrived > 0, "%s: relayed=%d arrived=%d" % (what, relayed, arrived)
    assert abs(relayed - arrived) <= flows.IN_FLIGHT, \
        "%s: sipmasq says %d packets, far end got %d" % (what, relayed, arrived)


def _call_id(uac_res):
    return flows.first_sent(uac_res, "INVITE").call_id


def _answered(uac_res):
    return flows.received_responses(uac_res, 200, "INVITE")


def _register(sipp, topology, *uas):
    for ua in uas:
        res = flows.register(sipp, topology, ua)
        assert res.ok, res.describe()


def test_outgoing_call_with_audio(topology, kamailio, sipp, sipmasq, counter):
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
    uac_res, uas_res = flows.finished_ok(uac, uas)

    # Public side: routed by Request-URI, SDP points at the relay.
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri == flows.uri_of(BOB)
    assert_sdp_via_relay(invite, flows.GW_PUBLIC)
    assert "198.51.100.1" in invite.all("via")[0], invite.text
    # Private side: the answer's SDP points at the relay's private address.
    assert_sdp_via_relay(_answered(uac_res)[0], "10.0.0.1")

    flows.assert_relayed(at_alice, at_bob)
    bob_pkts, alice_pkts = at_bob.packets(), at_alice.packets()

    callid = _call_id(uac_res)
    end = smq.call_end(callid)
    start = smq.call_start(callid)
    assert start["direction"] == "outgoing"
    assert "alice" in start["from_"] and "bob" in start["to"], start
    assert end["reason"] == "bye"
    assert end["duration"] <= 10
    assert_counts_consistent(end["p2p_pkts"], bob_pkts, "private->public")
    assert_counts_consistent(end["p2r_pkts"], alice_pkts, "public->private")
    assert end["p2p_bytes"] >= end["p2p_pkts"] * 12 and end["p2r_bytes"] >= end["p2r_pkts"] * 12


def test_incoming_call_with_audio(topology, kamailio, sipp, sipmasq, counter):
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)

    # The phone is reached at its real contact, with the relay in the SDP.
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:alice@10.0.0.2:5060"), invite.ruri
    assert "smqid" not in invite.ruri
    assert_sdp_via_relay(invite, "10.0.0.1")
    # The far-end caller sees the relay's public address in the answer.
    assert_sdp_via_relay(_answered(uac_res)[0], flows.GW_PUBLIC)

    flows.assert_relayed(at_alice, at_erin)
    alice_pkts, erin_pkts = at_alice.packets(), at_erin.packets()

    callid = _call_id(uac_res)
    end = smq.call_end(callid)
    assert smq.call_start(callid)["direction"] == "incoming"
    assert end["reason"] == "bye"
    assert_counts_consistent(end["p2r_pkts"], alice_pkts, "public->private")
    assert_counts_consistent(end["p2p_pkts"], erin_pkts, "private->public")


def test_outgoing_call_via_registrar(topology, kamailio, sipp, sipmasq, counter):
    """The phone calls an AOR (sip:bob@198.51.100.2): sipmasq forwards to
    Kamailio, which looks bob up and record-routes the dialog."""
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    res = flows.register(sipp, topology, BOB)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, BOB.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.all("record-route"), invite.text
    assert_sdp_via_relay(invite, flows.GW_PUBLIC)
    assert flows.received_requests(uas_res, "BYE")
    flows.assert_relayed(at_alice, at_bob)
    end = smq.call_end(_call_id(uac_res))
    assert end["reason"] == "bye"
    assert smq.call_start(_call_id(uac_res))["direction"] == "outgoing"


def test_outgoing_call_far_end_hangs_up(topology, kamailio, sipp, sipmasq, counter):
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_echo_bye",
                             duration_ms=flows.CALL_MS)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_wait_bye")
    uas_res, uac_res = uas.result(), uac.result()
    assert uas_res.ok, uas_res.describe()
    assert uac_res.ok, uac_res.describe()
    bye = flows.received_requests(uac_res, "BYE")[0]
    assert bye.ruri.startswith("sip:alice@10.0.0.2"), bye.ruri
    flows.assert_relayed(at_alice, at_bob, after_bye=[at_alice], in_flight=flows.IN_FLIGHT)
    assert smq.call_end(_call_id(uac_res))["reason"] == "bye"


def test_incoming_call_phone_hangs_up(topology, kamailio, sipp, sipmasq, counter):
    """The phone (callee) hangs up; Kamailio record-routed the INVITE, so
    the BYE goes phone -> sipmasq -> Kamailio -> caller (the harness's
    negative control shows this fails without sipmasq)."""
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE, scenario="uas_echo_bye",
                             duration_ms=flows.CALL_MS)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, scenario="uac_call_wait_bye")
    uas_res, uac_res = uas.result(), uac.result()
    assert uas_res.ok, uas_res.describe()
    assert uac_res.ok, uac_res.describe()
    assert flows.received_requests(uac_res, "BYE")
    flows.assert_relayed(at_alice, at_erin, after_bye=[at_erin], in_flight=flows.IN_FLIGHT)
    end = smq.call_end(_call_id(uac_res))
    assert end["reason"] == "bye"
    assert smq.call_start(_call_id(uac_res))["direction"] == "incoming"


def test_cancel_before_answer(topology, kamailio, sipp, sipmasq):
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_ring_cancel")
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), scenario="uac_cancel")
    uac_res, uas_res = flows.finished_ok(uac, uas)
    assert flows.received_responses(uac_res, 487, "INVITE"), uac_res.describe()
    assert flows.received_requests(uas_res, "CANCEL"), uas_res.describe()
    end = smq.call_end(_call_id(uac_res))
    assert end["reason"] == "cancel"


def test_reinvite_moves_media(topology, kamailio, sipp, sipmasq, counter):
    """The far end re-INVITEs with a new m= port: afterwards the relay
    sends its RTP to the new port."""
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    at_new_port = counter(topology.wan, BOB.media + 2, src=flows.GW_PUBLIC,
                          sport="%d:%d" % RELAY_PORTS)
    at_old_port = counter(topology.wan, BOB.media, src=flows.GW_PUBLIC,
                          sport="%d:%d" % RELAY_PORTS)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_reinvite")
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_reinvite")
    uac_res, uas_res = flows.finished_ok(uac, uas)

    reinvite = flows.received_requests(uac_res, "INVITE")
    assert reinvite, uac_res.describe()
    assert_sdp_via_relay(reinvite[0], "10.0.0.1")
    # Every packet of the phone reached the far end, before the re-INVITE
    # at the old port, after it at the new one; the far end's echo from
    # both came back.
    old, new, sent = at_old_port.packets(), at_new_port.packets(), at_alice.sent()
    assert sent - flows.IN_FLIGHT <= old + new <= sent, (old, new, sent)
    assert old > 0 and new >= MIN_RTP, "RTP after the re-INVITE did not reach the new port: " \
        "%d packets at the old port, %d at the new one" % (old, new)
    assert sent - flows.IN_FLIGHT <= at_alice.packets() <= sent, (at_alice.packets(), sent)
    assert smq.call_end(_call_id(uac_res))["reason"] == "bye"


def test_port_range_exhaustion(topology, kamailio, sipp, sipmasq, counter):
    """4 relay ports = 2 pairs = one call: a second concurrent call gets 503
    and a log line; once the first call ends a new call works again."""
    smq = sipmasq(rtp_port_low=7070, rtp_port_high=7073)
    _register(sipp, topology, ALICE, CAROL)

    uas1 = flows.start_callee(sipp, topology, BOB)
    uac1 = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=5000)
    netns.wait_for(lambda: any(s["to"].find("bob") >= 0 for s in smq.call_starts())
                   or not uac1.proc.alive(), 8, what="first call to start")
    time.sleep(0.5)
    assert uac1.proc.alive(), "first call ended too early:\n" + uac1.result(1).describe()

    # dave listens, so a 503 can only come from sipmasq itself.
    dave = flows.start_callee(sipp, topology, DAVE)
    rejected = flows.start_caller(sipp, topology, CAROL, flows.uri_of(DAVE),
                                  scenario="uac_rejected", timeout=15).result()
    assert rejected.ok, rejected.describe()
    assert flows.received_responses(rejected, 503, "INVITE")
    assert "exhausted" in smq.log()
    dave_res = dave.kill()
    assert not flows.received_requests(dave_res, "INVITE"), "sipmasq forwarded the INVITE"
    # The ACK of sipmasq's own 503 ends there too (RFC 3261 17.2.1).
    assert not flows.received_requests(dave_res, "ACK"), "sipmasq forwarded the 503's ACK"

    uac1_res, uas1_res = uac1.result(), uas1.result()
    assert uac1_res.ok, uac1_res.describe()
    assert uas1_res.ok, uas1_res.describe()
    smq.call_end(_call_id(uac1_res))

    flows.wait_unbound(topology, CAROL)
    at_dave = flows.relay_counter(counter, topology, DAVE)
    at_carol = flows.relay_counter(counter, topology, CAROL)
    uas2 = flows.start_callee(sipp, topology, DAVE)
    uac2 = flows.start_caller(sipp, topology, CAROL, flows.uri_of(DAVE), duration_ms=2000)
    uac2_res, uas2_res = uac2.result(), uas2.result()
    assert uac2_res.ok, uac2_res.describe()
    assert uas2_res.ok, uas2_res.describe()
    answer = _answered(uac2_res)[0]
    assert_sdp_via_relay(answer, "10.0.0.1", 7070, 7073)
    flows.assert_relayed(at_carol, at_dave, min_sent=flows.audio_packets(2000))


@pytest.mark.parametrize("direction", ["outgoing", "incoming"])
def test_call_log_lines(topology, kamailio, sipp, sipmasq, direction):
    """log_calls = 1: one 'call start' and one 'call end' per call, with
    the caller's and callee's URIs."""
    smq = sipmasq()
    _register(sipp, topology, ALICE)
    if direction == "outgoing":
        uas = flows.start_callee(sipp, topology, BOB)
        uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1000)
        caller, callee = "alice", "bob"
    else:
        uas = flows.start_callee(sipp, topology, ALICE)
        uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=1000)
        caller, callee = "erin", "alice"
    uac_res, uas_res = uac.result(), uas.result()
    assert uac_res.ok and uas_res.ok, uac_res.describe() + uas_res.describe()
    callid = _call_id(uac_res)
    end = smq.call_end(callid)
    starts = [s for s in smq.call_starts() if s["callid"] == callid]
    ends = [e for e in smq.call_ends() if e["callid"] == callid]
    assert len(starts) == 1 and len(ends) == 1, smq.log()[-4000:]
    s = starts[0]
    assert s["direction"] == direction
    assert ("sip:%s@" % caller) in s["from_"] and ("sip:%s@" % callee) in s["to"], s
    assert end["reason"] == "bye" and 0 <= end["duration"] <= 5
