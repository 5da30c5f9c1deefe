"""Who is where in the test topology, and the SIP flows the tests reuse.

Phones (namespace lan) use sipmasq as outbound proxy (sipp -rsa
10.0.0.1:5060); far-end user agents and Kamailio live in namespace wan.
Every user agent has its own media port so that the packet counters
(iptables rules matching the destination port) never mix two of them.
"""

import os
import re

from . import kernel, netns

OUTBOUND_PROXY = "10.0.0.1:5060"    # sipmasq, private side
REGISTRAR = "198.51.100.2:5060"     # Kamailio
DOMAIN = "198.51.100.2"             # domain of every AOR
GW_PUBLIC = "198.51.100.1"          # sipmasq, public side
RELAY_PORTS = (7070, 7089)          # default rtp_port_low/high of the fixture

# A call holds for CALL_MS. Callers of start_caller's default scenario play
# audio_packets(duration) packets of audio 30 ms apart that end
# AUDIO_LEAD_MS before their BYE, so that every packet is through the
# relay (and echoed back) before the call ends: exact counts, however slow
# the daemon (ASan) or the machine.
CALL_MS = 3000
AUDIO_LEAD_MS = 500
AUDIO_INTERVAL_MS = 30


def audio_packets(duration_ms=CALL_MS):
    """Packets of audio a default start_caller call of duration_ms plays."""
    return max(1, (duration_ms - AUDIO_LEAD_MS) // AUDIO_INTERVAL_MS)


# What a CALL_MS call carries each way.
MIN_RTP = audio_packets(CALL_MS)
# Packets a sender may have in flight when the BYE closes the relay ports,
# for scenarios whose audio (g711a.pcap, 7 s) runs until the BYE.
IN_FLIGHT = 2


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


def _audio_scenario(sipp, packets):
    """tests/sipp/uac_call_pcap.xml playing `packets` packets of audio
    (audio-N.pcap in sipp's working directory, the test's temporary
    directory; one file per length, so calls of one test never share a
    file that changes): the path of that scenario file."""
    audio = "audio-%d.pcap" % packets
    path = os.path.join(sipp.tmpdir, "uac_call_audio%d.xml" % packets)
    if not os.path.exists(path):
        kernel.write_audio_pcap(os.path.join(sipp.tmpdir, audio), packets,
                                interval=AUDIO_INTERVAL_MS / 1000.0)
        with open(os.path.join(netns.REPO, "tests", "sipp", "uac_call_pcap.xml")) as f:
            xml = f.read()
        assert 'play_pcap_audio="call_audio.pcap"' in xml
        with open(path, "w") as f:
            f.write(xml.replace('play_pcap_audio="call_audio.pcap"',
                                'play_pcap_audio="%s"' % audio))
    return path


def start_caller(sipp, topo, ua, to, scenario="uac_call", duration_ms=CALL_MS,
                 timeout=20, via_sipmasq=True, extra=()):
    """Start a UAC calling Request-URI `to`.  The default scenario plays
    audio_packets(duration_ms) packets, which end before the BYE (other
    scenarios play g711a.pcap until the BYE).  Phones send through sipmasq;
    far-end callers send to Kamailio (which routes by its location table)
    unless `to` names another port, in which case they send there.  extra:
    more sipp arguments."""
    if scenario == "uac_call":
        scenario = _audio_scenario(sipp, audio_packets(duration_ms or CALL_MS))
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


def assert_audio(**counters):
    """Each named UdpCounter (e.g. phone_to_far_end=...) counted at least
    MIN_RTP packets; returns the counts by name."""
    got = {name: c.packets() for name, c in counters.items()}
    short = ["%s: %d" % (name, n) for name, n in got.items() if n < MIN_RTP]
    assert not short, "RTP via the relay below %d packets: %s" % (MIN_RTP, ", ".join(short))
    return got


def assert_call_logged(smq, uac_res, direction):
    """sipmasq logged the call of uac_res's INVITE as `direction`
    ("outgoing"/"incoming") and ended it on BYE; returns the call-end record."""
    callid = first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    assert smq.call_start(callid)["direction"] == direction
    assert end["reason"] == "bye", end
    return end


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


class RelayCounter:
    """What one user agent's media port exchanged with sipmasq's relay:
    .packets() the RTP that arrived from the relay ports, .sent() the RTP
    it sent to them (iptables counters in its namespace)."""

    def __init__(self, counter, ns, ua, relay_ip):
        ports = "%d:%d" % RELAY_PORTS
        self.ua = ua
        self.rx = counter(ns, ua.media, src=relay_ip, sport=ports)
        self.tx = counter(ns, ports, src=ua.ip, sport=ua.media, dst=relay_ip,
                          chain="OUTPUT")

    def packets(self):
        return self.rx.packets()

    def sent(self):
        return self.tx.packets()


def relay_counter(counter, topo, ua, relay_ip=None):
    """RelayCounter of ua with the relay at relay_ip (default: 10.0.0.1
    for phones, 198.51.100.1 for far ends)."""
    return RelayCounter(counter, ua.ns(topo), ua,
                        relay_ip or ("10.0.0.1" if ua.side == "lan" else GW_PUBLIC))



def assert_relayed(a, b, min_sent=MIN_RTP, after_bye=(), in_flight=0):
    """The relay carried the audio between RelayCounters a and b without
    loss: each side sent at least min_sent packets and the other got every
    one of them (in_flight: how many may have been on their way when the
    BYE closed the relay ports, for audio that runs until the BYE). A side
    in after_bye goes on playing after the call ended (sipp's
    uac_call_wait_bye answers the far end's BYE and lingers 500 ms): what
    it sends then rightly goes nowhere, so of its packets at least min_sent
    must arrive. Returns {'a->b': (sent, got),
    'b->a': (sent, got)}."""
    out = {}
    for src, dst in ((a, b), (b, a)):
        sent, got = src.sent(), dst.packets()
        what = "%s->%s" % (src.ua.user, dst.ua.user)
        out[what] = (sent, got)
        assert sent >= min_sent, "%s: %s sent %d RTP packets, expected %d at least" % (
            what, src.ua.user, sent, min_sent)
        high = sent
        low = min_sent if src in after_bye else high - in_flight
        assert low <= got <= high, \
            "%s: %d RTP packets sent to the relay, %d arrived through it" % (what, sent, got)
    return out


def wait_unbound(topo, ua, timeout=5):
    """Wait until ua's SIP port is free again (sipp exited)."""
    netns.wait_for(lambda: not netns.udp_bound(ua.ns(topo), ua.ip, ua.port),
                   timeout, what="%s to be free" % ua.hostport)
