"""Count UDP packets arriving in a namespace with an iptables rule.

A rule without a target in the INPUT chain only counts; it matches the
destination port and optionally the source address and source port range,
so a test can tell "RTP that came through the relay" (source 198.51.100.1,
ports 7070-7089) from "RTP that went around it".  The rules disappear with
the namespace.
"""

import itertools
import re

from . import netns

_ids = itertools.count(1)


class UdpCounter:
    """Packets/bytes of UDP to dport arriving in ns (bytes = IP length).

    Optional narrowing: src (address), sport (port or "low:high"), dst
    (address), string (payload must contain it: -m string, algo bm).
    chain "OUTPUT" counts what ns sends instead of what it receives.
    """

    def __init__(self, ns, dport, src=None, sport=None, chain="INPUT", dst=None,
                 string=None):
        self.ns = ns
        self.dport = dport
        self.chain = chain
        self.tag = "smqcnt-%s-%d" % (dport, next(_ids))
        argv = ["iptables", "-w", "5", "-I", chain, "-p", "udp"]
        if src:
            argv += ["-s", src]
        if dst:
            argv += ["-d", dst]
        if sport:
            argv += ["--sport", str(sport)]
        if dport is not None:
            argv += ["--dport", str(dport)]
        if string:
            argv += ["-m", "string", "--string", string, "--algo", "bm"]
        argv += ["-m", "comment", "--comment", self.tag]
        netns.run_in(ns, argv)

    def read(self):
        """Return (packets, bytes) counted so far."""
        out = netns.run_in(self.ns, ["iptables", "-w", "5", "-nvx", "-L", self.chain]).stdout
        for line in out.splitlines():
            if "/* %s */" % self.tag in line:
                fields = line.split()
                return int(fields[0]), int(fields[1])
        raise AssertionError("counter rule %s vanished:\n%s" % (self.tag, out))

    def packets(self):
        return self.read()[0]


_RANGE = re.compile(r"^\d+(:\d+)?$")


def port_range(low, high):
    """iptables syntax for an inclusive port range."""
    s = "%d:%d" % (low, high)
    assert _RANGE.match(s)
    return s
