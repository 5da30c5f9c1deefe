"""sipmasqctl over the control socket: registrations, live calls with their
streams (relay ports, latched peers, counters, kernel share), stats."""

import os

from lib import flows, netns
from lib.flows import ALICE, BOB


def _stream_of(calls_answer, callid):
    calls = [c for c in calls_answer["calls"] if c["call_id"] == callid]
    assert len(calls) == 1, calls_answer
    assert len(calls[0]["streams"]) == 1, calls[0]
    return calls[0], calls[0]["streams"][0]


def test_ctl_shows_registrations_calls_and_stats(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(rtp_engine="tc")
    assert smq.ctl("registrations")["registrations"] == []
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()

    regs = smq.ctl("registrations")["registrations"]
    assert len(regs) == 1, regs
    assert regs[0]["aor"] == ALICE.aor
    assert regs[0]["contact"].startswith("sip:alice@10.0.0.2:5060"), regs
    assert regs[0]["source"] == "10.0.0.2:5060"
    assert 590 <= regs[0]["expires_in"] <= 600, regs
    # The token is the one the registrar stores in the public contact.
    assert any(regs[0]["smqid"] in c for c in kamailio.active_contacts("alice")), \
        (regs, kamailio.active_contacts("alice"))

    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=4000)
    # Mid-call: both parties latched, the kernel carries the stream.
    answer = {}

    def latched():
        answer.update(smq.ctl("calls"))
        calls = answer.get("calls", [])
        return (len(calls) == 1 and calls[0]["streams"]
                and all(calls[0]["streams"][0][s]["latched"] for s in ("private", "public"))
                and calls[0]["streams"][0]["private"]["kernel_packets"] > 10)
    netns.wait_for(latched, 6, interval=0.2, what="a latched, offloaded call in sipmasqctl calls")
    call = answer["calls"][0]
    stream = call["streams"][0]
    assert call["direction"] == "outgoing" and call["established"], call
    assert stream["private"]["peer"] == "10.0.0.2:%d" % ALICE.media, stream
    assert stream["public"]["peer"] == "198.51.100.2:%d" % BOB.media, stream
    assert stream["private"]["relay"].startswith("10.0.0.1:"), stream
    assert stream["public"]["relay"].startswith("198.51.100.1:"), stream
    assert stream["private"]["dropped"] == 0

    stats = smq.ctl("stats")
    assert stats["engine"] == "tc", stats
    assert stats["calls"] == 1 and stats["registrations"] == 1, stats
    assert stats["kernel_reasons"]["forwarded"] > 10, stats
    assert stats["free_port_pairs"] == 10 - 2, stats   # 7070-7089: one pair per side in use

    uac_res, uas_res = uac.result(), uas.result()
    assert uac_res.ok and uas_res.ok, uac_res.describe() + uas_res.describe()
    netns.wait_for(lambda: smq.ctl("calls")["calls"] == [], 5, interval=0.2,
                   what="the call to leave sipmasqctl calls")
    assert smq.ctl("stats")["free_port_pairs"] == 10


def _ctl_error(smq, command):
    """The AssertionError of a sipmasqctl run that must fail (its message
    holds sipmasqctl's rc and output); fails the test when the run
    succeeds. The check sits outside the try: an AssertionError of our own
    must not be mistaken for sipmasqctl's."""
    try:
        answer = smq.ctl(command)
    except AssertionError as e:
        return str(e)
    raise AssertionError("sipmasqctl %s must fail, it answered %s" % (command, answer))


def test_ctl_unknown_command_and_no_daemon(sipmasq, tmp_path):
    smq = sipmasq()
    err = _ctl_error(smq, "frobnicate")
    assert "rc=1" in err and "unknown command" in err, err
    assert smq.ctl("version")["version"]
    socket_path = smq.config["control_socket"]
    assert smq.stop() == 0
    assert not os.path.exists(socket_path), "a clean stop removes the control socket"
    err = _ctl_error(smq, "stats")
    assert "rc=1" in err, err
