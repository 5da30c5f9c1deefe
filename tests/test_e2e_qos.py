"""rtp_dscp and sip_dscp (siproxd directives, 46 = EF in siproxd's example
configuration): what sipmasq sends is marked, read from the IPv4 header of
a capture on the public side. The userspace relay marks its sockets; the
kernel engines forward with the sender's DSCP (docs/fast-path.md)."""

from lib import flows
from lib.flows import ALICE, BOB


def test_sip_and_userspace_rtp_marked(topology, kamailio, sipp, sipmasq, capture):
    sipmasq(sip_dscp=46, rtp_dscp=34, rtp_engine="userspace")
    cap = capture(topology.wan, "wan0", "wan")
    reg = flows.register(sipp, topology, ALICE)
    assert reg.ok, reg.describe()
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1500)
    assert uac.result().ok and uas.result().ok
    sip = [p for p, _ in cap.sip_messages() if p.src == flows.GW_PUBLIC]
    rtp = [p for p in cap.rtp_packets() if p.src == flows.GW_PUBLIC]
    # The marks are the point; the counts only show the capture holds the
    # call's signalling and media (the relay's counts are tested elsewhere).
    assert len(sip) >= 4 and len(rtp) >= 10, (len(sip), len(rtp))
    assert {p.dscp for p in sip} == {46}, sorted({p.dscp for p in sip})
    assert {p.dscp for p in rtp} == {34}, sorted({p.dscp for p in rtp})


def test_unmarked_by_default(topology, kamailio, sipp, sipmasq, capture):
    """Without the directives sipmasq leaves DSCP alone (0 from its own
    sockets), so the check above is no accident of the test bed."""
    sipmasq(rtp_engine="userspace")
    cap = capture(topology.wan, "wan0", "wan")
    reg = flows.register(sipp, topology, ALICE)
    assert reg.ok, reg.describe()
    sip = [p for p, _ in cap.sip_messages() if p.src == flows.GW_PUBLIC]
    assert sip and {p.dscp for p in sip} == {0}, sorted({p.dscp for p in sip})
