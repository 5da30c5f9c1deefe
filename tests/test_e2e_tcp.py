"""SIP over TCP (RFC 3261 section 18): a UDP phone behind sipmasq with the
provider leg over TCP (outbound_proxy_transport = tcp, or ;transport=tcp
from the phone), a TCP phone, a UDP request too large for UDP moved to TCP
(RFC 3261 18.1.1), CRLF keep-alives (RFC 5626 3.5.1), tcp_keepalive /
tcp_timeout / tcp_connect_timeout, and malformed streams refused without
harm to other connections."""

import json
import os
import re
import subprocess

from lib import flows, netns
from lib.capture import private_leaks
from lib.flows import ALICE, BOB, DOMAIN, ERIN, GW_PUBLIC, OUTBOUND_PROXY, REGISTRAR
from lib.sipmsg import SipMessage

SIPSTREAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "sipstream.py")
GW_LAN = "10.0.0.1"


def stream(ns, steps, host=GW_LAN, port=5060, timeout=60):
    """Run lib/sipstream.py steps in namespace ns; return its results."""
    res = subprocess.run(netns.ns_argv(ns, ["python3", SIPSTREAM, host, str(port)]),
                         input=json.dumps(steps), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def options(branch, ruri="sip:%s:5060" % GW_LAN, proto="TCP", length=True, pad=""):
    """An OPTIONS from the phone at 10.0.0.2 (Content-Length 0 unless
    length is False; pad: an extra header value to make it large)."""
    return ("OPTIONS %s SIP/2.0\r\n"
            "Via: SIP/2.0/%s 10.0.0.2:5099;branch=z9hG4bK%s;rport\r\n"
            "From: <sip:alice@%s>;tag=%s\r\nTo: <sip:alice@%s>\r\n"
            "Call-ID: %s@10.0.0.2\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n%s%s\r\n"
            % (ruri, proto, branch, DOMAIN, branch, DOMAIN, branch,
               "X-Pad: %s\r\n" % pad if pad else "",
               "Content-Length: 0\r\n" if length else ""))


def split_stream(data):
    """The SIP messages of one direction of a TCP connection (by
    Content-Length; CRLF keep-alives dropped)."""
    out = []
    while data:
        data = data.lstrip(b"\r\n")
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", data[:end + 2])
        size = end + 4 + (int(m.group(1)) if m else 0)
        out.append(SipMessage(data[:size]))
        data = data[size:]
    return out


def our_tcp_entry(value, ip):
    """True if a Record-Route value holds sipmasq's entry ip:5060 with
    ;transport=tcp."""
    return any(re.match(r"^sip:%s:5060;" % re.escape(ip), uri) and
               re.search(r";transport=tcp(;|$)", uri, re.I)
               for uri in re.findall(r"<([^>]*)>", value))


def provider_leg(cap):
    """(UDP SIP packets, TCP SIP messages) between sipmasq's public address
    and Kamailio in a capture on the wan side."""
    udp = [p for p, _ in cap.sip_messages()
           if {p.src, p.dst} == {GW_PUBLIC, flows.DOMAIN}]
    tcp = []
    for (src, _sport, dst, _dport), data in cap.tcp_streams().items():
        if {src, dst} == {GW_PUBLIC, flows.DOMAIN}:
            tcp += [(src, m) for m in split_stream(data)]
    return udp, tcp


def test_udp_phone_tcp_provider(topology, kamailio, sipp, sipmasq, capture):
    sipmasq(outbound_proxy_host=DOMAIN, outbound_proxy_transport="tcp")
    cap = capture(topology.wan, "wan0", "wan")

    reg = flows.register(sipp, topology, ALICE)
    assert reg.ok, reg.describe()
    contacts = kamailio.active_contacts("alice")
    # Kamailio reaches the binding over TCP too (incoming calls below).
    assert contacts and all(GW_PUBLIC in c and "transport=tcp" in c for c in contacts), contacts

    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1000)
    flows.finished_ok(uac, uas)
    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=1000)
    flows.finished_ok(uac, uas)

    udp, tcp = provider_leg(cap)
    assert not udp, "SIP over UDP on the provider leg: %s" % udp
    leaks = ["%s: %s" % (m.start, leak) for _, m in tcp for leak in private_leaks(m)]
    assert not leaks, "private addresses on the provider leg:\n" + "\n".join(leaks)
    seen = {(src, m.method or m.cseq_method, m.code) for src, m in tcp}
    for method in ("REGISTER", "INVITE", "ACK", "BYE"):
        assert (GW_PUBLIC, method, None) in seen, (method, sorted(seen, key=str))
    for method in ("INVITE", "BYE"):   # the incoming call's requests came over TCP
        assert (DOMAIN, method, None) in seen, (method, sorted(seen, key=str))
        assert (GW_PUBLIC, method, 200) in seen, (method, sorted(seen, key=str))
    from_gw = [m for src, m in tcp if src == GW_PUBLIC and m.is_request]
    assert all(m.all("via")[0].startswith("SIP/2.0/TCP %s:5060" % GW_PUBLIC)
               for m in from_gw), [m.all("via") for m in from_gw]
    invite = [m for m in from_gw if m.method == "INVITE"][0]
    assert our_tcp_entry(invite.all("record-route")[0], GW_PUBLIC), invite.all("record-route")


def test_tcp_phone(topology, kamailio, sipp, sipmasq):
    smq = sipmasq()
    reg = sipp.run(topology.lan, "register", ALICE.ip, ALICE.port, REGISTRAR,
                   rsa=OUTBOUND_PROXY, transport="t1",
                   keys={"user": "alice", "domain": DOMAIN, "expires": 600})
    assert reg.ok, reg.describe()
    assert "TCP message received" in reg.trace, reg.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()

    # The callee hangs up: its BYE reaches the phone over the phone's connection.
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_echo_bye", duration_ms=1000)
    uac = sipp.start(topology.lan, "uac_call_wait_bye", ALICE.ip, ALICE.port,
                     BOB.hostport, rsa=OUTBOUND_PROXY, transport="t1",
                     keys={"to": flows.uri_of(BOB), "from_user": "alice", "domain": DOMAIN},
                     media_port=ALICE.media)
    uac_res, _ = flows.finished_ok(uac, uas)
    ok = flows.received_responses(uac_res, 200, "INVITE")
    assert ok and any(our_tcp_entry(rr, GW_LAN) for rr in ok[0].all("record-route")), \
        uac_res.describe()
    assert flows.received_requests(uac_res, "BYE"), uac_res.describe()
    assert smq.call_starts(), smq.log()[-3000:]


def test_large_udp_request_goes_over_tcp(topology, kamailio, sipmasq, capture):
    sipmasq()
    cap = capture(topology.wan, "wan0", "wan")
    big = options("big1", ruri="sip:nobody@%s" % DOMAIN, proto="UDP", pad="x" * 1500)
    small = options("small1", ruri="sip:nobody@%s" % DOMAIN, proto="UDP")
    res = stream(topology.lan, [["udp", big, 5], ["udp", small, 5]])
    # Kamailio answers both (404: no such user), back to the phone over UDP.
    assert all(r["data"].startswith("SIP/2.0 404") for r in res), res
    udp, tcp = provider_leg(cap)
    sent = [m for src, m in tcp if src == GW_PUBLIC and m.method == "OPTIONS"]
    assert [m.call_id for m in sent] == ["big1@10.0.0.2"], tcp
    assert sent[0].all("via")[0].startswith("SIP/2.0/TCP %s:5060;" % GW_PUBLIC), sent[0]
    udp_calls = [SipMessage(p.payload).call_id for p in udp if p.src == GW_PUBLIC]
    assert any("small1" in c for c in udp_calls) and not any("big1" in c for c in udp_calls), \
        udp_calls


def test_crlf_keepalive_and_timers(topology, sipmasq):
    smq = sipmasq(tcp_keepalive=1, tcp_timeout=3)
    res = stream(topology.lan, [
        ["open", "a"],
        ["send", "a", "\r\n\r\n"],                 # RFC 5626 ping
        ["recv", "a", "\r\n", 5],                  # pong
        ["send", "a", options("ka1")],             # the connection still carries SIP
        ["recv", "a", "\r\n\r\n", 5],
        ["recv", "a", "\r\n\r\n", 8],              # sipmasq's own ping when idle
        ["recv", "a", None, 15],                   # tcp_timeout: closed when idle
    ])
    assert res[2] == {"data": "\r\n", "eof": False}, res
    assert res[4]["data"].startswith("SIP/2.0 200"), res
    assert res[5] == {"data": "\r\n\r\n", "eof": False}, res
    assert res[6]["eof"], res
    assert smq.alive()


def test_malformed_streams_refused(topology, sipmasq):
    smq = sipmasq()
    res = stream(topology.lan, [
        ["open", "good"], ["open", "nolen"], ["open", "huge"], ["open", "hugelen"],
        ["send", "nolen", options("nolen1", length=False)],
        ["recv", "nolen", None, 10],
        ["send", "huge", "OPTIONS sip:%s SIP/2.0\r\nX-Pad: %s" % (GW_LAN, "x" * 70000)],
        ["recv", "huge", None, 10],
        ["send", "hugelen", options("hugelen1").replace("Content-Length: 0",
                                                         "Content-Length: 100000")],
        ["recv", "hugelen", None, 10],
        ["send", "good", options("good1")],
        ["recv", "good", "\r\n\r\n", 5],
    ])
    nolen, huge, hugelen, good = res[5], res[7], res[9], res[11]
    assert nolen["data"].startswith("SIP/2.0 400") and nolen["eof"], res
    assert huge["eof"] and not huge["data"], huge
    assert hugelen["eof"] and not hugelen["data"], hugelen
    assert good["data"].startswith("SIP/2.0 200") and not good["eof"], good
    log = smq.log()
    assert "no Content-Length (RFC 3261 18.3): 400, closed" in log, log[-3000:]
    assert "larger than 65535 bytes, closed" in log, log[-3000:]
    assert smq.alive()


def test_phone_asks_for_tcp(topology, kamailio, sipp, sipmasq, capture):
    """Without outbound_proxy_transport: ;transport=tcp on the phone's
    Request-URI makes the provider leg TCP."""
    sipmasq()
    cap = capture(topology.wan, "wan0", "wan")
    reg = sipp.run(topology.lan, "register", ALICE.ip, ALICE.port, REGISTRAR,
                   rsa=OUTBOUND_PROXY,
                   keys={"user": "alice", "domain": DOMAIN + ";transport=tcp", "expires": 600})
    assert reg.ok, reg.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()
    udp, tcp = provider_leg(cap)
    assert not udp, udp
    assert [m.method for src, m in tcp if src == GW_PUBLIC] == ["REGISTER"], tcp


CONNECT_TIMEOUT_MS = 3000


def test_connect_timeout_does_not_block(topology, sipmasq):
    """A provider that never answers the TCP connect (its SYNs dropped):
    the connect is given up after tcp_connect_timeout, and sipmasq keeps
    serving meanwhile: a request sent right after the one that started the
    connect is answered at once, long before the connect gives up (a
    blocking connect would hold it for the whole timeout)."""
    netns.run_in(topology.wan, ["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "5070",
                                "--syn", "-j", "DROP"])
    smq = sipmasq(outbound_proxy_host=DOMAIN, outbound_proxy_port=5070,
                  outbound_proxy_transport="tcp", tcp_connect_timeout=CONNECT_TIMEOUT_MS)
    res = stream(topology.lan, [
        ["udp", options("lost1", ruri="sip:nobody@%s" % DOMAIN, proto="UDP"), 0.05],
        ["udp", options("ours1", proto="UDP"), CONNECT_TIMEOUT_MS / 1000 * 2],
    ])
    assert res[1]["data"].startswith("SIP/2.0 200"), res
    # The first request's connect is still pending when the second is answered.
    assert res[1]["seconds"] < CONNECT_TIMEOUT_MS / 1000 / 3, res
    line = "connect to %s:5070 timed out after %d ms" % (DOMAIN, CONNECT_TIMEOUT_MS)
    assert line not in smq.log(), smq.log()[-3000:]
    netns.wait_for(lambda: line in smq.log(), 10, what="the connect timeout log line")
    assert smq.alive()


def test_refused_tcp_connect_answers_503(topology, kamailio, sipmasq, capture):
    """A provider whose TCP port refuses the connection: the phone's request
    is answered 503 at once instead of vanishing, and nothing of it reaches
    the public side over UDP instead."""
    sipmasq(outbound_proxy_host=flows.DOMAIN, outbound_proxy_port=5999,
            outbound_proxy_transport="tcp")
    cap = capture(topology.wan, "wan0", "wan")
    res = stream(topology.lan, [
        ["udp", options("refused1", ruri="sip:nobody@%s" % DOMAIN, proto="UDP"), 5],
    ])
    assert res[0]["data"].startswith("SIP/2.0 503"), res
    assert "branch=z9hG4bKrefused1" in res[0]["data"], res
    udp, _ = provider_leg(cap)
    assert not udp, udp
