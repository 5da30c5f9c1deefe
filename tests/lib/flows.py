"""Who is where in the test topology, and the SIP flows the tests reuse.

Phones (namespace lan) use sipmasq as outbound proxy (sipp -rsa
10.0.0.1:5060); far-end user agents and Kamailio live in namespace wan.
Every user agent has its own media port so that the packet counters
(iptables rules matching the destination port) never mix two of them.
"""

import re

from . import netns

OUTBOUND_PROXY = "10.0.0.1:5060"    # sipmasq, private side
REGISTRAR = "198.51.100.2:5060"     # Kamailio
DOMAIN = "198.51.100.2"             # domain of every AOR
GW_PUBLIC = "198.51.100.1"          # sipmasq, public side
RELAY_PORTS = (7070, 7089)          # default rtp_port_low/high of the fixture

# Audio of g711a.pcap is about 33 packets/s; a call holds for CALL_MS.
CALL_MS = 3000
MIN_RTP = 30                        # per direction, for a CALL_MS call


class UA:
    """A sipp user agent: namespace attribute name, address, SIP port,
    media port and user name."""

    def __init__(self, side, ip, port, media, user):
        self.side, self.ip, self.port, self.media, self.user = side, ip, port, media, user

    def ns(self, topo):
        return getattr(topo, self.side)

    @property
    def aor(self):
        return "sip:%s@%s" % (self.user, DOMAIN)

    @property
    def hostport(self):
        return "%s:%d" % (self.ip, self.port)


ALICE = UA("lan", "10.0.0.2", 5060, 6000, "alice")       # phone 1
CAROL = UA("lan", "10.0.0.3", 5060, 6100, "carol")       # phone 2
BOB = UA("wan", "198.51.100.2", 5070, 6200, "bob")       # far-end callee
DAVE = UA("wan", "198.51.100.2", 5080, 6300, "dave")     # second far-end callee
ERIN = UA("wan", "198.51.100.2", 5090, 6400, "erin")     # far-end caller


def register(sipp, topo, ua, expires=600, via_sipmasq=True, timeout=10):
    """REGISTER ua's AOR (Contact sip:user@ip:port) at Kamailio; phones go
    through sipmasq unless via_sipmasq is False.  Returns the SippResult."""
    return sipp.run(ua.ns(topo), "register", ua.ip, ua.port, REGISTRAR,
                    rsa=OUTBOUND_PROXY if (via_sipmasq and ua.side == "lan") else None,
                    keys={"user": ua.user, "domain": DOMAIN, "expires": expires},
                    timeout=timeout)


def start_callee(sipp, topo, ua, scenario="uas_echo", duration_ms=None, timeout=20):
    """Start a UAS (with RTP echo on ua.media and ua.media+2)."""
    return sipp.start_server(ua.ns(topo), scenario, ua.ip, ua.port,
                             media_port=ua.media, rtp_echo=True,
                             duration_ms=duration_ms, timeout=timeout)


def start_caller(sipp, topo, ua, to, scenario="uac_call", duration_ms=CALL_MS,
                 timeout=20, via_sipmasq=True, extra=()):
    """Start a UAC calling Request-URI `to`.  Phones send through sipmasq;
    far-end callers send to Kamailio (which routes by its location table)
    unless `to` names another port, in which case they send there.  extra:
    more sipp arguments."""
    m = re.match(r"^sips?:[^@]+@([^:;>]+):(\d+)", to)
    remote = "%s:%s" % (m.group(1), m.group(2)) if m else REGISTRAR
    rsa = OUTBOUND_PROXY if (via_sipmasq and ua.side == "lan") else None
    return sipp.start(ua.ns(topo), scenario, ua.ip, ua.port, remote, rsa=rsa,
                      keys={"to": to, "from_user": ua.user, "domain": DOMAIN},
                      media_port=ua.media, duration_ms=duration_ms, timeout=timeout,
                      extra=extra)


def finished_ok(uac, uas):
    """Wait for a caller and a callee started with start_caller/start_callee
    and assert both scenarios succeeded; returns (uac_result, uas_result)."""
    uac_res, uas_res = uac.result(), uas.result()
    assert uac_res.ok, uac_res.describe()
    assert uas_res.ok, uas_res.describe()
    return uac_res, uas_res


def uri_of(ua, with_port=True):
    """Request-URI that reaches ua directly (far-end UAs) or its AOR."""
    if with_port:
        return "sip:%s@%s:%d" % (ua.user, ua.ip, ua.port)
    return ua.aor


def first_sent(result, method):
    """First request of `method` that a sipp run sent."""
    for m in result.sent():
        if m.method == method:
            return m
    raise AssertionError("sipp sent no %s\n%s" % (method, result.describe()))


def received_requests(result, method):
    return [m for m in result.received() if m.method == method]


def received_responses(result, code=None, cseq_method=None):
    return [m for m in result.received() if m.code is not None
            and (code is None or m.code == code)
            and (cseq_method is None or m.cseq_method == cseq_method)]


def relay_counter(counter, topo, ua):
    """Count RTP arriving at ua's media port from sipmasq's relay ports
    (source 10.0.0.1 on the private side, 198.51.100.1 on the public side)."""
    src = "10.0.0.1" if ua.side == "lan" else GW_PUBLIC
    return counter(ua.ns(topo), ua.media, src=src,
                   sport="%d:%d" % RELAY_PORTS)


def wait_unbound(topo, ua, timeout=5):
    """Wait until ua's SIP port is free again (sipp exited)."""
    netns.wait_for(lambda: not netns.udp_bound(ua.ns(topo), ua.ip, ua.port),
                   timeout, what="%s to be free" % ua.hostport)
