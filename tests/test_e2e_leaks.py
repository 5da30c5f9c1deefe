"""No private address reaches the public side when sipmasq cannot do its
job in full (issue 12, section 2): a table that is full, a Contact that
cannot be masqueraded. Each case fills the table or breaks the input, then
reads a capture of the public side: whatever else happens, the phone's
10.x address never goes out, and the log names the reason."""

from lib import flows
from lib.capture import private_leaks
from lib.flows import ALICE, ERIN


def _leaks(cap):
    return ["%s:%d -> %s:%d %s: %s" % (p.src, p.sport, p.dst, p.dport, m.start, leak)
            for p, m in cap.sip_messages() for leak in private_leaks(m)]


def test_answer_with_bindings_full(topology, kamailio, sipp, sipmasq, capture):
    """An incoming call whose callee answers with a Contact of its own
    (sipp's UAS: sip:10.0.0.2:5060, not the registered sip:alice@...) needs
    a dialog binding; with max_registrations already reached by the
    registration the answers cannot be masqueraded and are not forwarded."""
    smq = sipmasq(max_registrations=1)
    reg = flows.register(sipp, topology, ALICE)
    assert reg.ok, reg.describe()
    cap = capture(topology.wan, "wan0", "wan")
    uas = flows.start_callee(sipp, topology, ALICE, timeout=8)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=1000, timeout=6)
    uac_res = uac.result()
    uas.result()
    leaks = _leaks(cap)
    assert not leaks, "private addresses on the public side:\n" + "\n".join(leaks)
    # The call really reached the phone and its answer was held back.
    assert flows.received_requests(uas.result(), "INVITE"), uas.result().describe()
    assert not flows.received_responses(uac_res, 200, "INVITE"), uac_res.describe()
    assert "limit max_registrations = 1 reached" in smq.log()
