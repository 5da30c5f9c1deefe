"""sipmasqctl over the control socket: registrations, live calls with their
streams (relay ports, latched peers, counters, kernel share), stats; as
tables by default and as JSON with --json; hangup and unregister; who may
connect (the socket's owner and group)."""

import os
import shutil
import stat
import subprocess
import tempfile
import time

from lib import flows, netns
from lib.flows import ALICE, BOB
from lib.sipmasq import binary


def _table(text):
    """sipmasqctl's table: a list of {HEADING: cell} (cells hold no blanks)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    assert lines, "an empty table"
    head = lines[0]
    for row in lines[1:]:
        assert len(row) == len(head), (head, row)
    return [dict(zip(head, row)) for row in lines[1:]]


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

    assert stream["engine"] == "tc", stream
    assert stream["private"]["in_kernel"] and stream["public"]["in_kernel"], stream

    # The same call in the operator's tables.
    calls_t = _table(smq.ctl_text("calls"))
    assert [(c["CALL-ID"], c["DIRECTION"], c["STATE"], c["STREAMS"]) for c in calls_t] == \
        [(call["call_id"], "outgoing", "established", "1")], calls_t
    regs_t = _table(smq.ctl_text("registrations"))
    assert [(r["AOR"], r["SOURCE"], r["SMQID"]) for r in regs_t] == \
        [(ALICE.aor, "10.0.0.2:5060", regs[0]["smqid"])], regs_t
    streams_t = {r["DIRECTION"]: r for r in _table(smq.ctl_text("streams"))}
    assert set(streams_t) == {"private->public", "public->private"}, streams_t
    out = streams_t["private->public"]
    assert out["CALL-ID"] == call["call_id"] and out["ENGINE"] == "tc", out
    assert out["SOURCE"] == "10.0.0.2:%d" % ALICE.media, out          # latched: no '?'
    assert out["DESTINATION"] == "198.51.100.2:%d" % BOB.media, out
    assert out["RELAY-IN"] == stream["private"]["relay"], out
    assert out["RELAY-OUT"] == stream["public"]["relay"], out
    assert int(out["KERNEL"]) > 10 and int(out["PACKETS"]) >= int(out["KERNEL"]), out
    back = streams_t["public->private"]
    assert back["SOURCE"] == "198.51.100.2:%d" % BOB.media, back
    assert back["DESTINATION"] == "10.0.0.2:%d" % ALICE.media, back
    # --json streams: the same rows, with the numbers as numbers.
    streams_j = {r["direction"]: r for r in smq.ctl("streams")["streams"]}
    assert streams_j["private->public"]["in_kernel"] is True, streams_j
    assert streams_j["private->public"]["latched"] is True, streams_j
    assert streams_j["public->private"]["kernel_packets"] > 10, streams_j
    status = smq.ctl_text("status")
    assert status.startswith("sipmasq "), status
    status_t = {r["ITEM"]: r["VALUE"] for r in _table(status.split("\n", 1)[1])}
    assert status_t["engine"] == "tc" and status_t["calls"] == "1", status_t
    assert status_t["registrations"] == "1" and status_t["free_port_pairs"] == "8", status_t
    assert int(status_t["kernel.forwarded"]) > 10, status_t

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


def test_ctl_hangup_and_unregister(topology, kamailio, sipp, sipmasq):
    """hangup CALL-ID ends a live call's relay now; unregister AOR drops the
    AOR's bindings; both refuse what does not exist."""
    smq = sipmasq(rtp_engine="userspace")
    assert flows.register(sipp, topology, ALICE).ok
    flows.start_callee(sipp, topology, BOB)
    flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=8000)
    calls = []

    def up():
        calls[:] = smq.ctl("calls")["calls"]
        return len(calls) == 1 and calls[0]["established"]
    netns.wait_for(up, 6, interval=0.2, what="an established call")
    callid = calls[0]["call_id"]
    assert smq.ctl("stats")["free_port_pairs"] == 8

    assert "media relay ended" in smq.ctl_text("hangup", callid)
    assert smq.ctl("calls")["calls"] == []
    assert smq.ctl("stats")["free_port_pairs"] == 10
    assert smq.call_end(callid)["reason"] == "hangup"
    try:
        smq.ctl_text("hangup", callid)
        raise AssertionError("hangup of a call that is gone must fail")
    except AssertionError as e:
        assert "rc=1" in str(e) and "no call" in str(e), e

    assert smq.ctl("unregister " + ALICE.aor) == {"unregistered": ALICE.aor, "bindings": 1}
    assert smq.ctl("registrations")["registrations"] == []
    try:
        smq.ctl_text("unregister", ALICE.aor)
        raise AssertionError("unregister of an AOR without bindings must fail")
    except AssertionError as e:
        assert "rc=1" in str(e) and "no registered binding" in str(e), e


def test_ctl_socket_owner_and_group_only(sipmasq):
    """The control socket is srw-rw----: a user of its group may ask, any
    other user is refused by the kernel."""
    # A directory everyone may traverse, so only the socket's mode decides.
    d = tempfile.mkdtemp(prefix="smqctl-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        sock = os.path.join(d, "control.sock")
        smq = sipmasq(control_socket=sock)
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        ctl = os.path.join(os.path.dirname(binary()), "sipmasqctl")

        def as_user(gid):
            return subprocess.run(["setpriv", "--reuid=65534", "--regid=%d" % gid,
                                   "--clear-groups", ctl, "-s", sock, "version"],
                                  capture_output=True, text=True, timeout=5)
        group = as_user(st.st_gid)     # nobody, in the socket's group
        assert group.returncode == 0 and "sipmasq" in group.stdout, group
        other = as_user(65534)         # nobody, in nogroup
        assert other.returncode == 1 and "Permission denied" in other.stderr, other
        smq.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)
