"""A PBX behind sipmasq (issue 4, seed scenario 4).

The PBX (a sipp user agent standing for the PBX's trunk side, port 5070)
runs either on the gateway itself (siproxd's "PBX on the firewall"),
bound to 127.0.0.1 or to the gateway's LAN address 10.0.0.1 with sipmasq
on the same box as its outbound proxy (sipmasq counts packets from
loopback and from its own addresses as private side), or in the LAN at
10.0.0.3 with sipmasq's inbound address as its outbound proxy. The PBX registers its trunk (AOR
sip:pbx@198.51.100.2) at Kamailio through sipmasq, places a call out to
bob (the trunk leg of a call from a local extension) and takes a call
from erin at the far end, with audio both ways through the relay; the
public side sees only sipmasq's public address.
"""

import pytest

from lib import flows, netns
from lib.capture import private_leaks
from lib.flows import BOB, DOMAIN, ERIN, GW_PUBLIC, MIN_RTP, REGISTRAR, RELAY_PORTS, UA

PBX_PORT, PBX_MEDIA = 5070, 6500


def at_pbx(counter, topology, pbx):
    """RTP reaching the PBX's media port from the relay's private side."""
    return counter(pbx.ns(topology), pbx.media, src="10.0.0.1", dst=pbx.ip,
                   sport="%d:%d" % RELAY_PORTS)


# (namespace, PBX address, its outbound proxy: sipmasq)
PLACES = [
    pytest.param("gw", "127.0.0.1", "127.0.0.1:5060", id="on-gateway-loopback"),
    pytest.param("gw", "10.0.0.1", "10.0.0.1:5060", id="on-gateway-own-address"),
    pytest.param("lan", "10.0.0.3", "10.0.0.1:5060", id="in-lan"),
]


@pytest.mark.parametrize("side,pbx_ip,proxy", PLACES)
def test_pbx_behind_sipmasq(topology, kamailio, sipp, sipmasq, counter, capture, side, pbx_ip,
                            proxy):
    smq = sipmasq()
    pbx = UA(side, pbx_ip, PBX_PORT, PBX_MEDIA, "pbx")
    pbx_ns = pbx.ns(topology)
    cap = capture(topology.gw, "gwwan", "gwwan")

    # The trunk registration: Kamailio knows the PBX at sipmasq's address.
    res = sipp.run(pbx_ns, "register", pbx.ip, pbx.port, REGISTRAR, rsa=proxy,
                   keys={"user": pbx.user, "domain": DOMAIN, "expires": 600})
    assert res.ok, res.describe()
    contacts = kamailio.active_contacts(pbx.user)
    assert contacts and all(GW_PUBLIC in c and pbx_ip not in c for c in contacts), \
        kamailio.location()

    # Out through the trunk: PBX -> sipmasq -> Kamailio -> bob.
    res = flows.register(sipp, topology, BOB)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    to_pbx = at_pbx(counter, topology, pbx)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = sipp.start(pbx_ns, "uac_call", pbx.ip, pbx.port, REGISTRAR, rsa=proxy,
                     keys={"to": BOB.aor, "from_user": pbx.user, "domain": DOMAIN},
                     media_port=pbx.media, duration_ms=flows.CALL_MS, timeout=20)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.sdp_connection_ip() == GW_PUBLIC, invite.text
    answer = flows.received_responses(uac_res, 200, "INVITE")[0]
    assert answer.sdp_connection_ip() == "10.0.0.1", answer.text
    got_bob, got_pbx = at_bob.packets(), to_pbx.packets()
    assert got_bob >= MIN_RTP, "RTP PBX -> far end via relay: %d" % got_bob
    assert got_pbx >= MIN_RTP, "RTP far end -> PBX via relay: %d" % got_pbx
    callid = flows.first_sent(uac_res, "INVITE").call_id
    assert smq.call_start(callid)["direction"] == "outgoing"
    assert smq.call_end(callid)["reason"] == "bye"

    # In through the trunk: erin -> Kamailio -> sipmasq -> PBX.
    netns.wait_for(lambda: not netns.udp_bound(pbx_ns, pbx.ip, pbx.port), 5,
                   what="the PBX's port to be free")
    to_pbx = at_pbx(counter, topology, pbx)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = sipp.start_server(pbx_ns, "uas_echo", pbx.ip, pbx.port,
                            media_port=pbx.media, rtp_echo=True, timeout=20)
    uac = flows.start_caller(sipp, topology, ERIN, "sip:pbx@%s" % DOMAIN)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:pbx@%s:%d" % (pbx_ip, PBX_PORT)), invite.ruri
    assert invite.sdp_connection_ip() == "10.0.0.1", invite.text
    got_pbx, got_erin = to_pbx.packets(), at_erin.packets()
    assert got_pbx >= MIN_RTP, "RTP far end -> PBX via relay: %d" % got_pbx
    assert got_erin >= MIN_RTP, "RTP PBX -> far end via relay: %d" % got_erin
    callid = flows.first_sent(uac_res, "INVITE").call_id
    assert smq.call_start(callid)["direction"] == "incoming"
    assert smq.call_end(callid)["reason"] == "bye"

    # The PBX's address stays inside; the Call-ID (an opaque token sipp
    # builds from its address) is the only exception, as with siproxd.
    leaks = ["%s -> %s %s: %s" % (p.src, p.dst, m.start, leak)
             for p, m in cap.sip_messages() for leak in private_leaks(m) + loopback(m)]
    assert not leaks, "PBX addresses on the public side:\n" + "\n".join(leaks)


def loopback(msg):
    """Lines of msg, Call-ID aside, that show 127.0.0.1."""
    return [line for line in msg.text.splitlines()
            if "127.0.0.1" in line and not line.lower().startswith(("call-id:", "i:"))]
