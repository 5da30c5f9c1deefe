"""Capture packets with tshark inside a namespace and read them back.

The capture is written in classic pcap format (``-F pcap``) so that this
module can read it without any extra Python package: Ethernet, IPv4, UDP.
SIP messages are recognised by their start line, whatever the port.
"""

import ipaddress
import re
import os
import signal
import struct
import time

from . import netns
from .sipmsg import SipMessage, looks_like_sip


class Packet:
    """One captured IPv4/UDP datagram or TCP segment (addresses as dotted
    strings; proto "UDP" or "TCP")."""

    __slots__ = ("ts", "src", "sport", "dst", "dport", "payload", "proto", "dscp")

    def __init__(self, ts, src, sport, dst, dport, payload, proto="UDP", dscp=0):
        self.ts, self.src, self.sport = ts, src, sport
        self.dst, self.dport, self.payload = dst, dport, payload
        self.proto = proto
        self.dscp = dscp   # RFC 2474: the IPv4 TOS byte's upper six bits

    def __repr__(self):
        return "<%s %s:%d -> %s:%d %dB>" % (self.proto, self.src, self.sport, self.dst,
                                            self.dport, len(self.payload))


def read_pcap_udp(path):
    """Return the IPv4/UDP packets of a pcap file (Ethernet link type)."""
    return read_pcap(path, tcp=False)


def read_pcap(path, tcp=True):
    """Return the IPv4/UDP packets and, when tcp, the TCP segments (with
    their payload, possibly empty) of a pcap file (Ethernet link type)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, expected Ethernet" % (path, linktype))
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        ts = sec + frac / (1e9 if nano else 1e6)
        eth_type = struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
        ip = frame[14:]
        if eth_type != 0x0800 or len(ip) < 20 or ip[9] not in ((17, 6) if tcp else (17,)):
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        frag = struct.unpack("!H", ip[6:8])[0]
        if frag & 0x1FFF:
            continue  # non-first fragment: no UDP/TCP header
        if ip[9] == 6:
            seg = ip[ihl:total]
            if len(seg) < 20:
                continue
            sport, dport = struct.unpack("!HH", seg[:4])
            out.append(Packet(ts, str(ipaddress.IPv4Address(ip[12:16])), sport,
                              str(ipaddress.IPv4Address(ip[16:20])), dport,
                              bytes(seg[(seg[12] >> 4) * 4:]), "TCP", ip[1] >> 2))
            continue
        udp = ip[ihl:total]
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        out.append(Packet(ts, str(ipaddress.IPv4Address(ip[12:16])), sport,
                          str(ipaddress.IPv4Address(ip[16:20])), dport,
                          bytes(udp[8:ulen]), "UDP", ip[1] >> 2))
    return out


class Capture:
    """tshark running in a namespace, writing a pcap file."""

    def __init__(self, procs, ns, iface, path, log_path):
        self.path = path
        self.proc = procs.start(ns, ["tshark", "-n", "-i", iface, "-F", "pcap",
                                     "-w", path], log_path, name="tshark")
        # tshark says "Capturing on 'IFACE'" once the capture is open.
        netns.wait_for(lambda: "Capturing on" in self.proc.output()
                       or not self.proc.alive(), 15, what="tshark to start")
        if not self.proc.alive():
            raise AssertionError("tshark died:\n" + self.proc.output())
        # dumpcap may say so a moment before packets reach the file (seen
        # on a loaded machine: the first REGISTER missing): wait for the
        # pcap header, then a little longer.
        netns.wait_for(lambda: os.path.exists(path) and os.path.getsize(path) >= 24, 10,
                       what="tshark's pcap header")
        time.sleep(0.5)
        self._stopped = False

    def stop(self):
        """Stop the capture (SIGINT flushes the file) and return self."""
        if not self._stopped:
            time.sleep(0.3)  # let in-flight packets land in the file
            self.proc.stop(sig=signal.SIGINT, timeout=10)
            self._stopped = True
        return self

    def packets(self):
        self.stop()
        return read_pcap_udp(self.path)

    def sip_messages(self):
        """[(Packet, SipMessage)] for every UDP payload that is SIP."""
        return [(p, SipMessage(p.payload)) for p in self.packets()
                if looks_like_sip(p.payload)]

    def tcp_streams(self):
        """{(src, sport, dst, dport): bytes}: the payload of each direction
        of each TCP connection, in capture order (the test links lose and
        reorder nothing, so no reassembly is needed)."""
        self.stop()
        streams = {}
        for p in read_pcap(self.path):
            if p.proto == "TCP" and p.payload:
                key = (p.src, p.sport, p.dst, p.dport)
                streams[key] = streams.get(key, b"") + p.payload
        return streams

    def rtp_packets(self):
        """UDP packets that look like RTP version 2 and are not SIP."""
        return [p for p in self.packets()
                if len(p.payload) >= 12 and (p.payload[0] >> 6) == 2
                and not looks_like_sip(p.payload)]


# Header fields whose addresses route the dialog (RFC 3261) and that must
# never carry a private address on the public side.
ROUTING_HEADERS = ("via", "contact", "record-route", "route")
PRIVATE = re.compile(r"(?<![\d.])(10\.\d{1,3}\.\d{1,3}\.\d{1,3}|192\.168\.\d{1,3}\.\d{1,3}|"
                     r"172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3})(?![\d])")


def private_leaks(msg):
    """List of human-readable places where msg (SipMessage) shows a private
    IPv4 address: Request-URI, Via, Contact, Record-Route, Route and the
    SDP c=, o= and m= lines (m= has no address but is checked anyway)."""
    leaks = []
    if msg.ruri and PRIVATE.search(msg.ruri):
        leaks.append("Request-URI: " + msg.ruri)
    for name in ROUTING_HEADERS:
        for value in msg.all(name):
            if PRIVATE.search(value):
                leaks.append("%s: %s" % (name, value))
    for kind, value in msg.sdp_lines():
        if kind in ("c", "o", "m") and PRIVATE.search(value):
            leaks.append("sdp %s=%s" % (kind, value))
    return leaks


def private_anywhere(msg):
    """Every line of msg (SipMessage) that shows a private IPv4 address:
    the start line, any header (Call-ID, From, To, Warning, ... as well as
    the routing ones) and any body line (SDP a= lines too), as
    human-readable strings."""
    found = []
    if PRIVATE.search(msg.start):
        found.append(msg.start)
    found += ["%s: %s" % (name, value) for name, value in msg.headers
              if PRIVATE.search(name + value)]
    found += ["body: " + line.strip() for line in msg.body.split("\n")
              if PRIVATE.search(line)]
    return found
