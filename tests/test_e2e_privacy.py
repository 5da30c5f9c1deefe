"""Nothing private reaches the public side: a capture on wan0 over a
registration, an outgoing and an incoming call shows no 10.x address in any
Request-URI, Via, Contact, Record-Route or Route header, nor in SDP c=/o=/m=
lines, and all of the gateway's RTP comes from the relay port range."""

from lib import flows
from lib.capture import private_leaks
from lib.flows import ALICE, BOB, ERIN, RELAY_PORTS


def test_no_private_address_on_public_side(topology, kamailio, sipp, sipmasq, capture):
    sipmasq()
    cap = capture(topology.wan, "wan0", "wan")

    results = [flows.register(sipp, topology, ALICE)]
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1500)
    results += [uac.result(), uas.result()]
    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=1500)
    results += [uac.result(), uas.result()]
    sip = cap.sip_messages()

    # Leaks first: a leak is the likeliest reason for a failed call here.
    leaks = ["%s:%d -> %s:%d %s: %s" % (p.src, p.sport, p.dst, p.dport, m.start, leak)
             for p, m in sip for leak in private_leaks(m)]
    assert not leaks, "private addresses on the public side:\n" + "\n".join(leaks)
    for res in results:
        assert res.ok, res.describe()

    # The capture really holds the whole exchange (else the check is void).
    seen = {(m.method or m.cseq_method, m.code) for _, m in sip}
    for wanted in [("REGISTER", None), ("REGISTER", 200), ("INVITE", None), ("INVITE", 200),
                   ("ACK", None), ("BYE", None), ("BYE", 200)]:
        assert wanted in seen, "capture lacks %s: %s" % (wanted, sorted(seen, key=str))
    gw_sip = [(p, m) for p, m in sip if flows.GW_PUBLIC in (p.src, p.dst)]
    assert len(gw_sip) >= 14

    rtp_from_gw = [p for p in cap.rtp_packets() if p.src == flows.GW_PUBLIC]
    assert len(rtp_from_gw) >= 2 * flows.MIN_RTP
    bad = sorted({p.sport for p in rtp_from_gw
                  if not RELAY_PORTS[0] <= p.sport <= RELAY_PORTS[1]})
    assert not bad, "RTP left the gateway from ports outside the relay range: %s" % bad
