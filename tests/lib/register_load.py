"""REGISTER load: USERS bindings sent through an outbound proxy, refreshed
round robin for SECONDS (or until SIGTERM), each transaction retransmitted every 0.5 s (as
RFC 3261 17.1.2 would, but without backoff) for at most GIVEUP_S so that a
proxy restarting in the middle does not cost a registration.

Run inside a namespace:
  python3 register_load.py LOCAL_IP BASE_PORT USERS DOMAIN PROXY_IP:PORT SECONDS
User i is user%02d, Contact sip:user%02d@LOCAL_IP:(BASE_PORT+i). Prints one
JSON line at the end: {"sent": n, "ok": n, "failed": ["user03 cseq 4: ...", ...]}
and exits 0 when every transaction got its 200 OK, 1 otherwise.
"""

import json
import os
import signal
import socket
import sys
import time

RETRANS_S = 0.5
GIVEUP_S = 15.0


def request(user, ip, port, domain, cseq, branch, expires=600):
    return ("REGISTER sip:%(d)s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %(ip)s:%(p)d;branch=%(b)s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%(u)s@%(d)s>;tag=load%(p)d\r\n"
            "To: <sip:%(u)s@%(d)s>\r\n"
            "Call-ID: load-%(u)s@%(ip)s\r\n"
            "CSeq: %(c)d REGISTER\r\n"
            "Contact: <sip:%(u)s@%(ip)s:%(p)d>\r\n"
            "Expires: %(e)d\r\n"
            "Content-Length: 0\r\n\r\n"
            % {"d": domain, "ip": ip, "p": port, "b": branch, "u": user, "c": cseq,
               "e": expires}).encode()


def transaction(sock, msg, cseq, proxy):
    """Send msg until a final response with our CSeq arrives; returns the
    status code, or None after GIVEUP_S."""
    deadline = time.monotonic() + GIVEUP_S
    while time.monotonic() < deadline:
        sock.sendto(msg, proxy)
        resend_at = time.monotonic() + RETRANS_S
        while True:
            left = resend_at - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(65535).decode("latin-1")
            except socket.timeout:
                break
            code = int(data[8:11]) if data.startswith("SIP/2.0 ") else 0
            if code >= 200 and ("\nCSeq: %d REGISTER" % cseq) in data:
                return code
    return None


def main():
    ip, base, users, domain, proxy, seconds = sys.argv[1:7]
    base, users, seconds = int(base), int(users), float(seconds)
    phost, pport = proxy.rsplit(":", 1)
    proxy = (phost, int(pport))
    socks, cseq = [], [0] * users
    for i in range(users):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, base + i))
        socks.append(s)
    sent, ok, failed = 0, 0, []
    end = time.monotonic() + seconds

    def stop(_sig, _frame):
        nonlocal end
        end = 0.0   # finish the transaction under way and report
    signal.signal(signal.SIGTERM, stop)
    i = 0
    while i < users or time.monotonic() < end:
        u = i % users
        cseq[u] += 1
        user = "user%02d" % u
        branch = "z9hG4bK-load-%d-%d-%s" % (u, cseq[u], os.urandom(4).hex())
        code = transaction(socks[u], request(user, ip, base + u, domain, cseq[u], branch),
                           cseq[u], proxy)
        sent += 1
        if code == 200:
            ok += 1
        else:
            failed.append("%s cseq %d: %s" % (user, cseq[u], code or "no answer"))
        i += 1
        if i >= users:
            time.sleep(0.1)
    print(json.dumps({"sent": sent, "ok": ok, "failed": failed}), flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
