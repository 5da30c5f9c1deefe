"""A DNS server that fails SRV queries the way real servers do and answers
A queries: for the resolver's fallback from SRV to A (RFC 3263 4.2 as
Kamailio and PJSIP apply it).

Every SRV query is answered with the rcode of the `srv` policy (REFUSED,
SERVFAIL, NXDOMAIN) or not at all ("timeout"); every A query is answered
with `a_ip` (TTL 0). dnsmasq alone cannot be told to do each of these (its
--address answers SRV REFUSED, --local NXDOMAIN), hence this stub.
"""

import os

from . import netns

STUB = r"""
import socket, struct, sys
ip, policy, a_ip = sys.argv[1], sys.argv[2], sys.argv[3]
RCODE = {"refused": 5, "servfail": 2, "nxdomain": 3}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 53))
print("listening", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags = struct.unpack("!HH", q[:4])
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels)
    print("query %s type %d" % (name, qtype), flush=True)
    rd = flags & 0x0100
    if qtype == 33:
        if policy == "timeout":
            continue
        s.sendto(struct.pack("!HHHHHH", qid, 0x8080 | rd | RCODE[policy], 1, 0, 0, 0)
                 + question, peer)
    elif qtype == 1:
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + socket.inet_aton(a_ip)
        s.sendto(struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 1, 0, 0) + question + rr, peer)
    else:
        s.sendto(struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 0, 0, 0) + question, peer)
"""


class DnsStub:
    """The stub on ip:53 in namespace ns: SRV answered per `srv` policy
    ("refused", "servfail", "nxdomain" or "timeout"), A with a_ip."""

    def __init__(self, procs, ns, tmpdir, ip, srv, a_ip):
        self.procs, self.ns, self.ip, self.srv, self.a_ip = procs, ns, ip, srv, a_ip
        self.log_path = os.path.join(str(tmpdir), "dnsstub-%s.log" % srv)
        self.proc = None

    def start(self, timeout=10):
        self.proc = self.procs.start(self.ns, ["python3", "-c", STUB, self.ip, self.srv,
                                               self.a_ip], self.log_path, name="dnsstub")
        netns.wait_for(lambda: not self.proc.alive() or "listening" in self.proc.output(),
                       timeout, what="the DNS stub")
        assert self.proc.alive(), self.proc.output()
        return self

    def queries(self, qtype):
        """Queries of qtype (1 = A, 33 = SRV) seen so far."""
        return self.proc.output().count("type %d\n" % qtype)
