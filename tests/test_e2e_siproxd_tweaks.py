"""siproxd's SIP tweaks, end to end: use_rport (which of sipmasq's own
Vias ask for rport, RFC 3581), obscure_loops (calls hair-pinned through
the provider), default_expires and autosave_registrations."""

import re
import signal

import pytest

from lib import flows
from lib.flows import ALICE, BOB, CAROL, ERIN


def _top_via(result, method="INVITE"):
    return flows.received_requests(result, method)[0].all("via")[0]


@pytest.mark.parametrize("use_rport", [None, 0, 1, 2, 3])
def test_use_rport(topology, kamailio, sipp, sipmasq, use_rport):
    """Bit 0: rport in sipmasq's Via toward the private side; bit 1:
    toward the public side; unset = 3 (both)."""
    sipmasq(**({} if use_rport is None else {"use_rport": use_rport}))
    bits = 3 if use_rport is None else use_rport
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()

    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=500)
    _, uas_res = flows.finished_ok(uac, uas)
    public = _top_via(uas_res)
    assert "198.51.100.1:5060" in public and "z9hG4bKsmqO" in public, public
    assert (";rport" in public) == bool(bits & 2), public

    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=500)
    _, uas_res = flows.finished_ok(uac, uas)
    private = _top_via(uas_res)
    assert "10.0.0.1:5060" in private and "z9hG4bKsmqI" in private, private
    assert (";rport" in private) == bool(bits & 1), private


def test_obscure_loops_off_hairpin_has_no_audio(topology, kamailio, sipp, sipmasq, counter):
    """Negative control (siproxd's default, obscure_loops = 0): both legs of
    a hair-pinned call share one Call-ID, so sipmasq sees one call and its
    relay points the public side at itself; the signalling completes (the
    Record-Route entries of both hops stay apart) but no audio reaches
    carol."""
    smq = sipmasq()
    for ua in (ALICE, CAROL):
        res = flows.register(sipp, topology, ua)
        assert res.ok, res.describe()
    at_carol = flows.relay_counter(counter, topology, CAROL)
    uas = flows.start_callee(sipp, topology, CAROL)
    uac = flows.start_caller(sipp, topology, ALICE, CAROL.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    callid = flows.first_sent(uac_res, "INVITE").call_id
    assert flows.received_requests(uas_res, "INVITE")[0].call_id == callid
    assert at_carol.packets() == 0
    assert re.search(r"SDP points public side at [\d.:]+ \(the relay itself\): not sent to",
                     smq.log()), smq.log()[-3000:]


def test_obscure_loops_hairpin_call(topology, kamailio, sipp, sipmasq, counter):
    """alice calls carol's AOR: sipmasq -> Kamailio -> back to sipmasq ->
    carol. With obscure_loops the two legs have different Call-IDs at
    sipmasq (two calls, each with its own relay ports), each phone sees one
    Call-ID for its whole dialog, and audio flows both ways."""
    smq = sipmasq(obscure_loops=1)
    for ua in (ALICE, CAROL):
        res = flows.register(sipp, topology, ua)
        assert res.ok, res.describe()
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_carol = flows.relay_counter(counter, topology, CAROL)
    uas = flows.start_callee(sipp, topology, CAROL)
    uac = flows.start_caller(sipp, topology, ALICE, CAROL.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)

    alice_cid = flows.first_sent(uac_res, "INVITE").call_id
    carol_cid = flows.received_requests(uas_res, "INVITE")[0].call_id
    assert carol_cid != alice_cid and carol_cid.startswith(alice_cid.split("@")[0]), \
        (alice_cid, carol_cid)
    # Each phone's dialog keeps its Call-ID, the far party's BYE included.
    assert {m.call_id for m in uac_res.received()} == {alice_cid}
    assert {m.call_id for m in uas_res.received()} == {carol_cid}

    # Through both relays, without loss. Each call's public leg has the
    # other call's relay port as its party (198.51.100.1, not where its
    # signalling came from): a relay port of this gateway in use is trusted
    # like a strict party, else each leg would wait for the other to prove
    # itself first and neither would ever send (kmod-free-fallback/latch.h).
    flows.assert_relayed(at_alice, at_carol)   # carol echoes
    assert sorted(e["p2r_dropped"] for e in smq.call_ends()) == [0, 0], smq.call_ends()
    assert smq.call_start(alice_cid)["direction"] == "outgoing"
    assert smq.call_start(carol_cid)["direction"] == "incoming"
    assert smq.call_end(alice_cid)["reason"] == "bye"
    assert smq.call_end(carol_cid)["reason"] == "bye"


def test_default_expires(topology, kamailio, sipp, sipmasq):
    """A REGISTER without any expiry gets Expires: default_expires on its
    way to the registrar (siproxd's rule); the binding lives that long."""
    smq = sipmasq(default_expires=321)
    res = sipp.run(topology.lan, "register_noexpires", ALICE.ip, ALICE.port, flows.REGISTRAR,
                   rsa=flows.OUTBOUND_PROXY,
                   keys={"user": ALICE.user, "domain": flows.DOMAIN})
    assert res.ok, res.describe()
    sent = [c for aor, cs in kamailio.location().items() if aor.startswith("alice")
            for c in cs]
    assert sent and all(isinstance(c["expires"], int) and 300 < c["expires"] <= 321
                        for c in sent), sent
    regs = smq.ctl("registrations")["registrations"]
    assert len(regs) == 1 and 300 < regs[0]["expires_in"] <= 321, regs


def test_autosave_registrations_survive_a_crash(topology, kamailio, sipp, sipmasq):
    """siproxd saves every autosave_registrations seconds; sipmasq writes
    the first change after a quiet period at once (then at most once per
    period), so a daemon killed with SIGKILL right after a REGISTER still
    knows the binding when it starts again."""
    smq = sipmasq(autosave_registrations=300)
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    before = smq.ctl("registrations")["registrations"]
    assert len(before) == 1, before
    smq.stop(sig=signal.SIGKILL)
    smq.start()
    after = smq.ctl("registrations")["registrations"]
    assert [(r["aor"], r["smqid"]) for r in after] == \
        [(r["aor"], r["smqid"]) for r in before], (before, after)


def test_obscure_loops_error_answer_keeps_the_call_id(topology, kamailio, sipp, sipmasq):
    """A marked request from outside that sipmasq itself answers (here 404:
    nobody to reach) gets its answer with the Call-ID it came with, mark
    included, though sipmasq took the mark off to process it."""
    sipmasq(obscure_loops=1)
    res = sipp.run(topology.wan, "uac_call", ERIN.ip, ERIN.port, "%s:5060" % flows.GW_PUBLIC,
                   keys={"to": "sip:nobody@%s:5060" % flows.GW_PUBLIC,
                         "from_user": ERIN.user, "domain": flows.DOMAIN},
                   media_port=ERIN.media, duration_ms=500, timeout=10,
                   extra=["-cid_str", "%u-%p.smqloop.someonesTag@%s"])
    sent = flows.first_sent(res, "INVITE").call_id
    assert ".smqloop.someonesTag" in sent, sent
    answers = flows.received_responses(res, 404, "INVITE")
    assert answers and answers[0].call_id == sent, res.describe()
