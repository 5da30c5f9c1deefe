"""Malformed and hostile SIP (issue 6): every broken request gets the answer
RFC 3261 asks for and is not forwarded; responses that did not come through
sipmasq are dropped silently; the limits answer 513/503; a flood from one
address does not stop a phone's call; svwar finds no extension.

The messages are written here, after the classes of RFC 4475 (invalid
syntax, bad Content-Length, missing mandatory headers, unknown schemes,
escaped nulls, huge messages, Max-Forwards 0, several requests in one
datagram, responses with a bogus Via). They are sent from the lan namespace
toward a far end (bob's address, where a counter tells whether anything
was forwarded) and from the wan namespace toward the gateway.
"""

import re
import signal
import subprocess

from lib import flows, netns
from lib.flows import ALICE, BOB, GW_PUBLIC
from lib.rawsip import by_call_id, exchange, request, sentinel

GW_PRIVATE = "10.0.0.1"
TESTER_LAN = ALICE.ip                 # no phone runs there during these tests
TESTER_WAN = "198.51.100.2"
SCANNER = "198.51.100.66"             # a stranger: no peer of sipmasq's
FAR = "sip:bob@198.51.100.2:5070"     # a far end that nothing answers
FAR2 = "sip:bob@198.51.100.2:5071"


def _lan_cases():
    """(Call-ID, datagram, expected status or None for no answer)."""
    r = lambda method, ruri, cid, **kw: request(method, ruri, cid, TESTER_LAN, **kw)  # noqa: E731
    two = r("OPTIONS", FAR, "two-a") + r("OPTIONS", FAR2, "two-b")
    return [
        ("scheme-tel", r("INVITE", "tel:+15555550100", "scheme-tel"), 416),
        ("scheme-sips", r("OPTIONS", "sips:bob@198.51.100.2:5070", "scheme-sips"), 416),
        ("scheme-unknown", r("OPTIONS", "soap.beep://192.0.2.100:3002", "scheme-unknown"),
         416),
        ("proxy-require", r("OPTIONS", FAR, "proxy-require",
                            headers=["Proxy-Require: foo, nobody-knows-me",
                                     "Proxy-Require: bar"]), 420),
        ("cl-too-big", r("MESSAGE", FAR, "cl-too-big", headers=["Content-Type: text/plain"],
                         body="hello", content_length=9999), 400),
        ("cl-negative", r("MESSAGE", FAR, "cl-negative", headers=["Content-Type: text/plain"],
                          body="hello").replace("Content-Length: 5", "Content-Length: -999"),
         400),
        ("max-forwards-0", r("OPTIONS", FAR, "max-forwards-0",
                             headers=["Max-Forwards: 0"]), 483),
        ("cseq-mismatch", r("OPTIONS", FAR, "cseq-mismatch", cseq_method="INVITE"), 400),
        ("version", r("OPTIONS", FAR, "version", version="SIP/7.0"), 505),
        ("no-call-id", r("OPTIONS", FAR, "no-call-id").replace(
            "Call-ID: no-call-id\r\n", ""), 400),
        ("unknown-method", r("NEWMETHOD", "sip:%s" % GW_PRIVATE, "unknown-method"), 501),
        ("invite-gateway", r("INVITE", "sip:%s" % GW_PRIVATE, "invite-gateway"), 404),
        ("too-many-headers", r("OPTIONS", FAR, "too-many-headers",
                               headers=["X-Filler-%d: x" % i for i in range(150)]), 513),
        ("too-many-vias", r("OPTIONS", FAR, "too-many-vias",
                            vias=["SIP/2.0/UDP %s:5099;branch=z9hG4bK-v%d" % (TESTER_LAN, i)
                                  for i in range(40)]), 513),
        ("huge", r("MESSAGE", FAR, "huge", headers=["Content-Type: text/plain"],
                   body="x" * 20000), 513),
        ("two-a", two, None),    # the first of two: forwarded, not answered
    ]


GARBAGE = "\x00\x01INVITE garbage \xff\xfe\r\n\r\n"


def test_malformed_requests_answered_not_forwarded(topology, sipmasq, counter):
    smq = sipmasq()
    far = counter(topology.wan, 5070, src=GW_PUBLIC)
    far2 = counter(topology.wan, 5071, src=GW_PUBLIC)
    to_lan = counter(topology.lan, None, src=GW_PRIVATE)
    to_wan = counter(topology.wan, None, src=GW_PUBLIC)

    # Garbage (no Call-ID, no Via: nothing to address an answer to) from its
    # own port, first, so that its log line is not rate-limited away: no
    # answer at all, nothing forwarded, a log line that says why.
    got = exchange(topology.lan, TESTER_LAN, GW_PRIVATE,
                   [GARBAGE, sentinel("after-garbage", TESTER_LAN, GW_PRIVATE, 5098)],
                   sport=5098, wait=20, until="after-garbage")
    assert [(m.code, m.get("call-id")) for m in got] == [(200, "after-garbage")], \
        [m.text for m in got]
    assert to_lan.packets() == 1 and to_wan.packets() == 0, \
        (to_lan.packets(), to_wan.packets())
    assert "malformed SIP message from %s:5098 (%d bytes): unparseable, dropped" % (
        TESTER_LAN, len(GARBAGE.encode("latin-1"))) in smq.log(), smq.log()[-3000:]

    cases = _lan_cases()
    got = by_call_id(exchange(topology.lan, TESTER_LAN, GW_PRIVATE,
                              [c[1] for c in cases] +
                              [sentinel("last", TESTER_LAN, GW_PRIVATE)],
                              wait=20, until="last"))

    for cid, _, want in cases:
        codes = [m.code for m in got.get(cid if cid != "no-call-id" else None, [])]
        if want is None:
            assert codes == [], "%s: expected no answer, got %s" % (cid, codes)
        else:
            assert codes == [want], "%s: expected %d, got %s" % (cid, want, codes)
    assert [m.code for m in got["last"]] == [200], got["last"]
    unsupported = got["proxy-require"][0].get("unsupported", "")
    assert set(re.split(r"[,\s]+", unsupported)) == {"foo", "nobody-knows-me", "bar"}, \
        unsupported
    # Only the first request of the two-in-one datagram went on (RFC 3261
    # 18.3: bytes after Content-Length are dropped); no defect did.
    netns.wait_for(lambda: far.packets() >= 1, 5, what="two-a at the far end")
    assert far.packets() == 1
    assert far2.packets() == 0
    # The limits named themselves in the log.
    log = smq.log()
    for limit in ("sip_max_headers", "sip_max_vias", "sip_max_message_size"):
        assert "limit %s = " % limit in log, limit


def test_escaped_null_is_forwarded(topology, sipmasq, counter):
    """RFC 4475 3.1.1.6: %00 in a user part is valid and goes on."""
    sipmasq()
    far = counter(topology.wan, 5070, src=GW_PUBLIC)
    msg = request("OPTIONS", "sip:bob%00null@198.51.100.2:5070", "escnull", TESTER_LAN,
                  from_user="null-%00-null")
    got = exchange(topology.lan, TESTER_LAN, GW_PRIVATE,
                   [msg, sentinel("after-escnull", TESTER_LAN, GW_PRIVATE)], wait=20,
                   until="after-escnull")
    assert [m.get("call-id") for m in got] == ["after-escnull"], [m.text for m in got]
    netns.wait_for(lambda: far.packets() == 1, 5, what="the OPTIONS at the far end")


def test_public_side_checks_and_bogus_responses(topology, sipmasq, counter):
    sipmasq()
    to_lan = counter(topology.lan, None, src=GW_PRIVATE)
    w = lambda method, ruri, cid, **kw: request(method, ruri, cid, TESTER_WAN, **kw)  # noqa
    bogus = ("SIP/2.0 200 OK\r\n"
             "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bKsmqOforged\r\n"
             "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK-x\r\n"
             "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: bogus-via\r\n"
             "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n" % GW_PUBLIC)
    stray = bogus.replace("z9hG4bKsmqOforged", "z9hG4bK-not-ours").replace(
        "bogus-via", "stray")
    cases = [
        ("w-tel", w("INVITE", "tel:+15555550100", "w-tel"), 416),
        ("w-proxy-require", w("OPTIONS", "sip:%s" % GW_PUBLIC, "w-proxy-require",
                              headers=["Proxy-Require: foo"]), 420),
        ("w-unknown-method", w("NEWMETHOD", "sip:%s" % GW_PUBLIC, "w-unknown-method"), 501),
        ("w-relay", w("INVITE", "sip:victim@192.0.2.7", "w-relay"), 404),
        ("bogus-via", bogus, None),
        ("stray", stray, None),
    ]
    got = by_call_id(exchange(topology.wan, TESTER_WAN, GW_PUBLIC,
                              [c[1] for c in cases] +
                              [sentinel("last", TESTER_WAN, GW_PUBLIC, 5098)],
                              sport=5098, wait=20, until="last"))
    assert [m.code for m in got.pop("last", [])] == [200], got
    for cid, _, want in cases:
        codes = [m.code for m in got.get(cid, [])]
        assert codes == ([want] if want else []), "%s: expected %s, got %s" % (cid, want, codes)
    assert to_lan.packets() == 0


def test_registration_and_call_limits(topology, kamailio, sipp, sipmasq):
    """max_registrations_per_aor, max_registrations, max_calls and
    max_streams_per_call answer 503 with Retry-After and name themselves in
    the log."""
    smq = sipmasq(max_registrations_per_aor=1, max_registrations=2, max_calls=1,
                  max_streams_per_call=2)
    reg = lambda user, contact_port, cid: request(  # noqa: E731
        "REGISTER", "sip:%s" % flows.DOMAIN, cid, TESTER_LAN,
        headers=["Contact: <sip:%s@%s:%d>" % (user, TESTER_LAN, contact_port),
                 "Expires: 600"]).replace("<sip:%s>" % flows.DOMAIN,
                                          "<sip:%s@%s>" % (user, flows.DOMAIN))
    invite = lambda cid: request("INVITE", FAR, cid, TESTER_LAN)  # noqa: E731
    sdp = "".join(["v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"] +
                  ["m=audio %d RTP/AVP 0\r\n" % (6000 + 2 * i) for i in range(3)])
    three_streams = request("INVITE", FAR, "streams", TESTER_LAN, body=sdp,
                            headers=["Content-Type: application/sdp"])
    got = by_call_id(exchange(topology.lan, TESTER_LAN, GW_PRIVATE,
                              [reg("alice", 5060, "reg-1"), reg("alice", 5061, "reg-2"),
                               reg("carol", 5062, "reg-3"), reg("dave", 5063, "reg-4"),
                               three_streams, invite("call-1"), invite("call-2")], wait=3.0))
    codes = {cid: [m.code for m in got.get(cid, [])] for cid in
             ("reg-1", "reg-2", "reg-3", "reg-4", "streams", "call-1", "call-2")}
    assert codes["reg-1"] == [200] and codes["reg-3"] == [200], codes
    assert codes["reg-2"] == [503] and codes["reg-4"] == [503], codes
    assert codes["streams"] == [503] and codes["call-2"] == [503], codes
    for cid in ("reg-2", "reg-4", "streams", "call-2"):
        assert got[cid][0].get("retry-after"), got[cid][0].text
    log = smq.log()
    for limit in ("max_registrations_per_aor = 1", "max_registrations = 2", "max_calls = 1",
                  "max_streams_per_call = 2"):
        assert "limit %s reached" % limit in log, limit


def _flood(ns, src, dst, rate=5000, seconds=60):
    """Start sending INVITE/OPTIONS from src:5097 at about `rate` per second
    for at most `seconds`; SIGINT ends it early. It prints how many it sent."""
    prog = r"""
import socket, sys, time
src, dst, rate, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 5097))
start = time.monotonic()
n = 0
try:
    while time.monotonic() - start < secs:
        m = "INVITE" if n % 2 else "OPTIONS"
        text = (m + " sip:%d@" + dst + " SIP/2.0\r\nVia: SIP/2.0/UDP " + src +
                ":5097;branch=z9hG4bK-f%d\r\nFrom: <sip:f@" + src + ">;tag=%d\r\n"
                "To: <sip:%d@" + dst + ">\r\nCall-ID: flood-%d\r\nCSeq: 1 " + m +
                "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n") % (n, n, n, n, n)
        s.sendto(text.encode(), (dst, 5060))
        n += 1
        ahead = n / rate - (time.monotonic() - start)
        if ahead > 0.01:
            time.sleep(ahead)
except KeyboardInterrupt:
    pass
print(n, time.monotonic() - start, flush=True)
"""
    return subprocess.Popen(netns.ns_argv(ns, ["python3", "-c", prog, src, dst, str(rate),
                                               str(seconds)]),
                            stdout=subprocess.PIPE, text=True)


FLOODER = "198.51.100.66"


def test_flood_from_one_address_does_not_stop_a_call(topology, kamailio, sipp, sipmasq,
                                                      counter):
    smq = sipmasq(debug_level=0)
    netns.run_in(topology.wan, ["ip", "addr", "add", FLOODER + "/24", "dev", "wan0"])
    assert flows.register(sipp, topology, ALICE).ok
    answered = counter(topology.wan, 5097, src=GW_PUBLIC)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_bob = flows.relay_counter(counter, topology, BOB)
    flood = _flood(topology.wan, FLOODER, GW_PUBLIC)
    try:
        netns.wait_for(lambda: "SIP flood" in smq.log(), 20, what="the flood to be noticed")
        uas = flows.start_callee(sipp, topology, BOB)
        uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
        flows.finished_ok(uac, uas)
        assert flood.poll() is None, "the flood ended before the call did"
    finally:
        flood.send_signal(signal.SIGINT)
        out, _ = flood.communicate(timeout=30)
    sent, seconds = out.split()
    sent, seconds = int(sent), float(seconds)
    flows.assert_relayed(at_alice, at_bob)
    # The bucket (sip_rate_burst 100, sip_rate_limit 50/s) let through
    # burst + rate * duration and each of those got its one answer (a 404:
    # no such user here); the rest were dropped unparsed.
    assert sent > 1000, sent
    admitted = 100 + 50 * seconds
    netns.wait_for(lambda: answered.packets() >= admitted - 50 * 0.5, 10,
                   what="the answers to the admitted requests")
    print("flood: %d requests sent in %.1f s, %d answered, %.0f admitted by the bucket"
          % (sent, seconds, answered.packets(), admitted))
    assert admitted - 50 * 0.5 <= answered.packets() <= admitted + 5, \
        (answered.packets(), admitted, sent, seconds)
    assert "SIP flood: requests from %s:5097 over sip_rate_limit = 50/s" % FLOODER in smq.log()


def _svwar(topology, method, dictionary, src):
    res = netns.run_in(topology.wan, ["svwar", "-v", "-m", method, "-d", dictionary, "--force",
                                      "-b", src, "-x", src,
                                      "-t", "0.05", "-p", "5060", GW_PUBLIC],
                       timeout=120, check=False)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    return res.stdout + res.stderr


def test_svwar_finds_no_extension(topology, kamailio, sipp, sipmasq, tmp_path):
    """svwar from the public side, with alice registered (through the
    provider) and answering, finds nothing: known and unknown users get the
    same answer. The scanner has an address of its own: the provider's
    (Kamailio's) may reach a phone by user@gateway, as with siproxd, since
    it is a peer that answered sipmasq's REGISTERs."""
    sipmasq(sip_rate_limit=0)    # svwar's pace must not hide the answers
    netns.run_in(topology.wan, ["ip", "addr", "add", SCANNER + "/24", "dev", "wan0"])
    assert flows.register(sipp, topology, ALICE).ok
    uas = flows.start_callee(sipp, topology, ALICE, timeout=60)
    w = lambda method, user, cid: request(method, "sip:%s@%s" % (user, GW_PUBLIC), cid,  # noqa
                                          SCANNER)
    got = by_call_id(exchange(topology.wan, SCANNER, GW_PUBLIC,
                              [w(m, u, "%s-%s" % (m, u)) for m in ("OPTIONS", "INVITE",
                                                                     "REGISTER")
                               for u in ("alice", "nosuchuser")], sport=5098))
    for m in ("OPTIONS", "INVITE", "REGISTER"):
        a = [(r.code, r.start) for r in got.get("%s-alice" % m, [])]
        n = [(r.code, r.start) for r in got.get("%s-nosuchuser" % m, [])]
        assert a == n and a, (m, a, n)
    for r in sum(got.values(), []):
        assert r.get("server") is None and r.get("user-agent") is None, r.text
    names = tmp_path / "extensions.txt"
    names.write_text("\n".join(["admin", "alice", "bob", "carol"] +
                               [str(i) for i in range(100, 121)]) + "\n")
    for method in ("REGISTER", "OPTIONS", "INVITE"):
        out = _svwar(topology, method, str(names), SCANNER)
        # It reached sipmasq, got answers and found no extension.
        assert "Ok SIP device found" in out and "found nothing" in out, out
        assert "alice" not in out.split("Ok SIP device found")[1], out
    uas.kill()
