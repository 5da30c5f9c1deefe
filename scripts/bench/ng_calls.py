#!/usr/bin/env python3
"""Sets up calls on rtpengine through its ng control protocol (bencode over
UDP), the offer/answer of the benchmark's SIP call flow
(scripts/bench/sipp/uac_hold.xml, uas_hold.xml): the phone's INVITE offers
PHONE:PORT (PCMA) from the private side, the far end's 200 answers
FAR:PORT from the public side. Run inside the gateway's namespace.

    ng_calls.py NG_HOST:NG_PORT N PHONE:PORT FAR:PORT

Prints one JSON line: [[private relay port, public relay port], ...] in
call order: the phone sends to the private one, the far end to the public
one. Exit status 1 on an error reply (printed)."""
import json
import re
import socket
import sys


def benc(v):
    """bencode of str, bytes, int, list or dict (keys sorted, as required)."""
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"


def bdec(b, i=0):
    """(value, next index) of the bencoded value at b[i]; strings as str."""
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while b[i:i + 1] != b"e":
            v, i = bdec(b, i)
            items.append(v)
        return (items if c == b"l" else dict(zip(items[::2], items[1::2]))), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n].decode(errors="replace"), j + 1 + n


def sdp(addr, port):
    return ("v=0\r\no=bench 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n" % (addr, addr, port))


def main():
    ng, n, phone, far = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    host, port = ng.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    seq = [0]

    def ask(msg):
        seq[0] += 1
        cookie = b"c%d" % seq[0]
        s.sendto(cookie + b" " + benc(msg), (host, int(port)))
        while True:
            data = s.recv(65536)
            if data.startswith(cookie + b" "):
                break
        rep, _ = bdec(data, len(cookie) + 1)
        if rep.get("result") != "ok":
            sys.exit("ng %s: %s" % (msg["command"], rep))
        return re.search(r"m=audio (\d+)", rep["sdp"]).group(1)

    pa, pp = phone.rsplit(":", 1)
    fa, fp = far.rsplit(":", 1)
    out = []
    for i in range(n):
        cid, ft, tt = "bench-%d" % i, "ft%d" % i, "tt%d" % i
        # The phone's offer (private side in, public side out): the SDP
        # for the far end carries the public relay port.
        pub = ask({"command": "offer", "call-id": cid, "from-tag": ft,
                   "sdp": sdp(pa, int(pp)), "direction": ["priv", "pub"],
                   "ICE": "remove", "replace": ["origin", "session-connection"]})
        # The far end's answer: the SDP for the phone carries the private one.
        priv = ask({"command": "answer", "call-id": cid, "from-tag": ft, "to-tag": tt,
                    "sdp": sdp(fa, int(fp)), "ICE": "remove",
                    "replace": ["origin", "session-connection"]})
        out.append([int(priv), int(pub)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
