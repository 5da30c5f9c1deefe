"""Nothing private reaches the public side: a capture on wan0 over a
registration, an outgoing and an incoming call shows no private address in
any line of any SIP message (start line, every header including Call-ID,
From and To, every SDP line including a= attributes such as a=rtcp and
a=candidate, which the phone's offer carries), and all of the gateway's
RTP comes from the relay port range.

One exception, by design (docs/scenarios.md): the Call-ID is an opaque
token that sipmasq passes unchanged, so a phone that writes its own
address into it (sipp does: N-PID@10.0.0.2) shows it there. The test
allows exactly the Call-IDs the phones sent, nothing sipmasq made up."""

from lib import flows
from lib.capture import private_anywhere
from lib.flows import ALICE, BOB, ERIN, RELAY_PORTS


def test_no_private_address_on_public_side(topology, kamailio, sipp, sipmasq, capture):
    sipmasq()
    cap = capture(topology.wan, "wan0", "wan")

    results = [flows.register(sipp, topology, ALICE)]
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1500,
                             scenario="uac_call_attrs",
                             extra=("-key", "rtp_port", str(ALICE.media),
                                    "-key", "rtcp_port", str(ALICE.media + 1)))
    results += [uac.result(), uas.result()]
    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=1500)
    results += [uac.result(), uas.result()]
    sip = cap.sip_messages()

    # The Call-IDs the phone made up (REGISTER, its call), from its traces.
    phone_call_ids = {m.call_id for res in results[:2] for m in res.sent()}
    assert all("@10.0.0.2" in c for c in phone_call_ids), phone_call_ids

    # Leaks first: a leak is the likeliest reason for a failed call here.
    leaks = ["%s:%d -> %s:%d %s: %s" % (p.src, p.sport, p.dst, p.dport, m.start, leak)
             for p, m in sip for leak in private_anywhere(m)
             if leak != "call-id: %s" % m.call_id or m.call_id not in phone_call_ids]
    assert not leaks, "private addresses on the public side:\n" + "\n".join(leaks)
    for res in results:
        assert res.ok, res.describe()

    # The capture really holds the whole exchange (else the check is void),
    # and the phone's offer did carry the attributes (else a= is unchecked).
    seen = {(m.method or m.cseq_method, m.code) for _, m in sip}
    for wanted in [("REGISTER", None), ("REGISTER", 200), ("INVITE", None), ("INVITE", 200),
                   ("ACK", None), ("BYE", None), ("BYE", 200)]:
        assert wanted in seen, "capture lacks %s: %s" % (wanted, sorted(seen, key=str))
    offer = [m for m in results[1].sent() if m.method == "INVITE"][0]
    assert any(v.startswith("rtcp:%d IN IP4 10.0.0.2" % (ALICE.media + 1))
               for v in offer.sdp("a")), offer.text
    out_offer = [m for p, m in sip if m.method == "INVITE" and p.src == flows.GW_PUBLIC
                 and m.call_id in phone_call_ids][0]
    rtcp = [v for v in out_offer.sdp("a") if v.startswith("rtcp:")]
    assert len(rtcp) == 1 and not any(v.startswith("candidate:") for v in out_offer.sdp("a")), \
        out_offer.text
    gw_sip = [(p, m) for p, m in sip if flows.GW_PUBLIC in (p.src, p.dst)]
    assert len(gw_sip) >= 14

    rtp_from_gw = [p for p in cap.rtp_packets() if p.src == flows.GW_PUBLIC]
    # The phone's offer (uac_call_attrs) plays g711a.pcap for 1.5 s; the
    # second call's caller plays audio_packets(1500), the phone echoes them.
    assert len(rtp_from_gw) >= 40 + flows.audio_packets(1500), len(rtp_from_gw)
    bad = sorted({p.sport for p in rtp_from_gw
                  if not RELAY_PORTS[0] <= p.sport <= RELAY_PORTS[1]})
    assert not bad, "RTP left the gateway from ports outside the relay range: %s" % bad
