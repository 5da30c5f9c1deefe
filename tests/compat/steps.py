"""Steps the compat scenarios are made of, each recording named checks in
the rig's Outcome: register phones through the proxy and look at the
registrar, place a call out and a call in at the same time with audio
counted at both far ends.

The user agents are lib.flows': phones ALICE (10.0.0.2) and CAROL
(10.0.0.3) on the private side, BOB (callee, :5070) and ERIN (caller,
:5090) on the public side next to Kamailio.
"""

import os
import time

from lib import netns, rawsip
from lib.flows import ALICE, BOB, CAROL, DOMAIN, ERIN, REGISTRAR, RELAY_PORTS

# A call holds CALL_MS; g711a.pcap plays about 33 packets/s, so a call that
# carries audio both ways counts well over MIN_RTP per direction.
CALL_MS = 1000
MIN_RTP = 20
RELAY = "%d:%d" % RELAY_PORTS


def wait_free(rig, ua):
    """Wait until ua's SIP port is free (the previous sipp exited)."""
    netns.wait_for(lambda: not netns.udp_bound(ua.ns(rig.topo), ua.ip, ua.port), 5,
                   what="%s to be free" % ua.hostport)


def start_register(rig, ua, domain=DOMAIN, remote=REGISTRAR, via_proxy=True,
                   scenario="register", expires=600, keys=None, port=None, timeout=5,
                   **kw):
    """Start a REGISTER of ua (Contact sip:user@ip:port unless the scenario
    says otherwise) sent to the proxy; returns the SippRun."""
    k = {"user": ua.user, "domain": domain, "expires": expires}
    k.update(keys or {})
    return rig.sipp.start(ua.ns(rig.topo), scenario, ua.ip, port or ua.port, remote,
                          rsa=rig.proxy_hostport if via_proxy else None, keys=k,
                          timeout=timeout, **kw)


def registrar_binding(rig, ua):
    """Kamailio's unexpired Contacts for ua's user."""
    return rig.kam.active_contacts(ua.user)


def check_registered(rig, runs, name="register"):
    """Wait for the REGISTER runs {ua: SippRun}; record `name` ok when each
    got its 200 and Kamailio holds a binding at the public address."""
    details, ok = [], True
    for ua, run in runs.items():
        res = run.result()
        contacts = registrar_binding(rig, ua)
        public = [c for c in contacts if "@%s" % rig.public_ip in c]
        if not res.ok or not public:
            ok = False
        codes = [m.code for m in res.received() if m.code]
        details.append("%s: sipp rc=%s answers=%s registrar=%s" % (
            ua.user, res.rc, codes or "none", contacts or "none"))
    return rig.outcome.add(name, ok, "; ".join(details))


def register(rig, uas=(ALICE, CAROL), name="register", **kw):
    """REGISTER each phone of uas through the proxy (at the same time)."""
    runs = {ua: start_register(rig, ua, **kw) for ua in uas}
    return check_registered(rig, runs, name)


def start_callee(rig, ua, timeout=8, ring_ms=150):
    """A UAS with RTP echo that rings ring_ms before it answers: a 180 and a
    200 sent back to back can swap places in Kamailio's two worker
    processes, and sipp's caller gives up on a 180 after the 200 (seen on
    a loaded machine)."""
    return rig.sipp.start_server(ua.ns(rig.topo), "uas_echo_ring", ua.ip, ua.port,
                                 media_port=ua.media, rtp_echo=True, timeout=timeout,
                                 duration_ms=ring_ms)


def start_caller(rig, ua, to, remote=None, via_proxy=None, timeout=8, transport="u1"):
    """A UAC calling `to` with audio; phones send through the proxy."""
    if via_proxy is None:
        via_proxy = ua.side == "lan"
    return rig.sipp.start(ua.ns(rig.topo), "uac_call", ua.ip, ua.port, remote or REGISTRAR,
                          rsa=rig.proxy_hostport if via_proxy else None,
                          keys={"to": to, "from_user": ua.user, "domain": DOMAIN},
                          media_port=ua.media, duration_ms=CALL_MS, timeout=timeout,
                          transport=transport)


def relay_counter(rig, ua):
    """RTP arriving at ua's media port from the proxy's relay ports (the
    proxy's private address on the LAN, the public address outside)."""
    src = rig.proxy_ip if ua.side == "lan" else rig.public_ip
    return rig.counter(ua.ns(rig.topo), ua.media, src=src, sport=RELAY)


class Call:
    """One call in progress: caller, callee and the audio counters."""

    def __init__(self, rig, name, caller, callee, to, **kw):
        self.rig, self.name = rig, name
        self.at_caller = relay_counter(rig, caller)
        self.at_callee = relay_counter(rig, callee)
        self.uas = start_callee(rig, callee)
        self.uac = start_caller(rig, caller, to, **kw)

    def check(self):
        """Wait for both ends; record the call ok when both sipp scenarios
        succeeded and audio reached both ends through the relay."""
        uac, uas = self.uac.result(), self.uas.result()
        a, b = self.at_caller.packets(), self.at_callee.packets()
        ok = uac.ok and uas.ok and a >= MIN_RTP and b >= MIN_RTP
        codes = [m.code for m in uac.received() if m.code]
        detail = "caller rc=%s answers=%s, callee rc=%s, rtp at caller %d at callee %d" % (
            uac.rc, codes or "none", uas.rc, a, b)
        self.uac_result, self.uas_result = uac, uas
        return self.rig.outcome.add(self.name, ok, detail)


def call_out(rig, ua=ALICE, to=None, name="call_out", **kw):
    """Start a call from phone ua to BOB (directly addressed)."""
    return Call(rig, name, ua, BOB, to or "sip:bob@%s:%d" % (BOB.ip, BOB.port), **kw)


def call_in(rig, ua=CAROL, to=None, name="call_in", **kw):
    """Start a call from ERIN to phone ua's AOR through Kamailio."""
    return Call(rig, name, ERIN, ua, to or "sip:%s@%s" % (ua.user, DOMAIN), **kw)


def calls_both_ways(rig, out_ua=ALICE, in_ua=CAROL):
    """A call out from out_ua and a call in to in_ua, at the same time."""
    for ua in (out_ua, in_ua):
        wait_free(rig, ua)
    calls = [call_out(rig, out_ua), call_in(rig, in_ua)]
    return all([c.check() for c in calls])


def standard(rig):
    """Register two phones, then a call out and a call in with audio,
    with a capture of the public link checked for private addresses."""
    cap = rig.capture()
    if register(rig):
        calls_both_ways(rig)
    rig.leak_check(cap)


def probe_register(rig, user="probe", ua=ALICE, sport=5099, wait=2.0):
    """One REGISTER of sip:USER@DOMAIN (Contact ua.ip:sport, 60 s) sent from
    ua's address to the proxy; the status codes that came back within
    `wait` s (a proxy that refuses silently gives [])."""
    tag = "%d-%d" % (os.getpid(), int(time.monotonic() * 1000))
    msg = ("REGISTER sip:%(d)s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %(ip)s:%(p)d;branch=z9hG4bK-%(t)s;rport\r\n"
           "From: <sip:%(u)s@%(d)s>;tag=%(t)s\r\nTo: <sip:%(u)s@%(d)s>\r\n"
           "Call-ID: probe-%(t)s\r\nCSeq: 1 REGISTER\r\n"
           "Contact: <sip:%(u)s@%(ip)s:%(p)d>\r\nExpires: 60\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n"
           % {"d": DOMAIN, "ip": ua.ip, "p": sport, "t": tag, "u": user})
    got = rawsip.exchange(ua.ns(rig.topo), ua.ip, rig.proxy_ip, [msg], sport=sport,
                          wait=wait)
    return [m.code for m in got if m.code]
