"""Hand-made SIP datagrams sent from a test namespace, and the answers.

For the hostile-input tests: messages written by the test (modelled on the
classes of RFC 4475), sent as raw UDP by a short Python program that runs
inside the namespace (nsenter), which prints every datagram it got back.
"""

import json
import subprocess
import sys

from . import netns
from .sipmsg import SipMessage

_SENDER = r"""
import json, socket, sys, time
cfg = json.load(sys.stdin)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((cfg["src"], cfg["sport"]))
got = []
for m in cfg["msgs"]:
    s.sendto(m.encode("latin-1"), (cfg["dst"], cfg["dport"]))
deadline = time.monotonic() + cfg["wait"]
until = cfg["until"]
while time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        got.append(s.recv(70000).decode("latin-1"))
    except socket.timeout:
        break
    # The answer to the last datagram: the earlier ones were handled before.
    if until and any(l.lower().startswith(("call-id:", "i:")) and l.split(":", 1)[1].strip()
                     == until for l in got[-1].split("\r\n")):
        break
print(json.dumps(got))
"""


def request(method, ruri, call_id, src, sport=5099, headers=(), body="", cseq_method=None,
            version="SIP/2.0", vias=None, content_length=None, from_user="tester"):
    """A request as text: one Via for src:sport (or the list `vias`),
    From, To (the Request-URI), Call-ID, CSeq, Max-Forwards 70 (unless
    headers set one), the extra header lines, Content-Length (the body's,
    unless content_length says otherwise) and the body."""
    vias = vias or ["SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s;rport" % (src, sport, call_id)]
    lines = ["%s %s %s" % (method, ruri, version)]
    lines += ["Via: %s" % v for v in vias]
    to = ruri if ruri.startswith("sip") else "sip:someone@example.com"
    lines += ["From: <sip:%s@%s>;tag=t%s" % (from_user, src, call_id),
              "To: <%s>" % to,
              "Call-ID: %s" % call_id,
              "CSeq: 1 %s" % (cseq_method or method)]
    if not any(h.lower().startswith("max-forwards:") for h in headers):
        lines.append("Max-Forwards: 70")
    lines += list(headers)
    lines.append("Content-Length: %d" % (len(body) if content_length is None
                                          else content_length))
    return "\r\n".join(lines) + "\r\n\r\n" + body


def exchange(ns, src, dst, msgs, sport=5099, dport=5060, wait=2.0, until=None):
    """Send each datagram of msgs (str) from src:sport to dst:dport in
    namespace ns; return the SipMessages received within `wait` s, or, with
    until (a Call-ID), until the answer with that Call-ID came (then `wait`
    only bounds a hang).

    "No answer" is best proved with until: make the last datagram a request
    sipmasq answers itself (sentinel()); it handles one socket's datagrams
    in order, so once the sentinel's answer is in, an answer to any earlier
    one would be in too, however slow the daemon (ASan)."""
    cfg = json.dumps({"src": src, "sport": sport, "dst": dst, "dport": dport,
                      "msgs": list(msgs), "wait": wait, "until": until})
    res = subprocess.run(netns.ns_argv(ns, [sys.executable, "-c", _SENDER]), input=cfg,
                         capture_output=True, text=True, timeout=wait + 20)
    assert res.returncode == 0, res.stderr
    return [SipMessage(t) for t in json.loads(res.stdout)]


def sentinel(call_id, src, gateway, sport=5099):
    """An OPTIONS for sipmasq itself (Request-URI sip:gateway), which it
    answers 200: the last datagram of an exchange(until=call_id)."""
    return request("OPTIONS", "sip:%s" % gateway, call_id, src, sport=sport)


def by_call_id(responses):
    """{Call-ID: [responses]} of a list of SipMessages."""
    out = {}
    for r in responses:
        out.setdefault(r.get("call-id"), []).append(r)
    return out
