"""Helpers of the kernel fast path tests (tests/test_e2e_kernel.py).

- prepare_xdp_native(topo): make the veth topology carry native XDP the
  way a real NIC would (see below).
- block_xdp(topo, ifname): attach a foreign do-nothing XDP program to a
  gateway interface, so that sipmasq's XDP attach there is refused.
- dump_streams(pin_dir): the pinned smq_streams map as bpftool prints it,
  decoded into plain dicts (addresses dotted, ports in host order).
- write_audio_pcap(path, packets): RTP audio of any length for
  tests/sipp/uac_call_pcap.xml.
- inject(ns, ...): send marked datagrams from an arbitrary source.
- max_gap(times): the longest silence in a list of packet timestamps.
- attachments(ns, ifname): what XDP / tc programs hang on an interface.

Every command runs through ``nsenter --net`` (lib.netns), which keeps the
host's mounts: the daemon's pins under /sys/fs/bpf stay visible here.
"""

import ipaddress
import json
import os
import re
import socket
import struct
import subprocess

from . import netns

TOOL = os.path.join(netns.REPO, "tests", "unit", "smq_kern_tool")
PYTHON = "/usr/bin/python3"
AUDIO_SRC = "/usr/share/sip-tester/g711a.pcap"
AUDIO_NAME = "call_audio.pcap"     # what tests/sipp/uac_call_pcap.xml plays
AUDIO_INTERVAL = 0.03              # s between packets (g711a.pcap: 30 ms)

# "rtp engine on gwlan: tc", "rtp engine on gwlan: XDP native failed (...)..."
ENGINE_LINE = re.compile(r"rtp engine on (?P<ifname>\w+): (?P<what>.*)$", re.M)


def have_tool():
    return os.path.isfile(TOOL) and os.access(TOOL, os.X_OK)


def tool(ns, *args, pin_dir=None, check=True, timeout=10):
    """Run tests/unit/smq_kern_tool in ns; raise with its output on failure."""
    argv = [TOOL] + (["-p", pin_dir] if pin_dir else []) + list(args)
    r = netns.run_in(ns, argv, timeout=timeout, check=False)
    if check and r.returncode:
        raise AssertionError("smq_kern_tool %s: rc %d\n%s%s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def prepare_xdp_native(topo):
    """Make native XDP on the gateway's veths behave as on real NICs.

    - The senders' veths (lan0, wan0) get transmit checksum offload off:
      their datagrams then reach the gateway with complete checksums, as
      from a wire, instead of CHECKSUM_PARTIAL, which XDP cannot complete.
    - lan0 and wan0 get a do-nothing native XDP program: a veth accepts
      frames that native XDP redirects into its peer (gwlan, gwwan) only
      when that peer runs an XDP program.
    Everything disappears with the namespaces."""
    for ns, ifname in ((topo.lan, "lan0"), (topo.wan, "wan0")):
        tool(ns, "tx-csum", ifname, "off")
        tool(ns, "xdp-pass", ifname)


def block_xdp(topo, ifname="gwlan"):
    """Attach a foreign XDP program (native mode) to the gateway's ifname:
    sipmasq's native attach there then fails (another program owns the
    hook), and so does its generic attach (the kernel refuses native and
    generic XDP on one device at the same time)."""
    tool(topo.gw, "xdp-pass", ifname)


def attachments(ns, ifname):
    """{'xdp': program id or None, 'tc': [ingress filter lines]} of ifname."""
    link = json.loads(netns.run_in(ns, ["ip", "-j", "-d", "link", "show", ifname]).stdout)[0]
    xdp = link.get("xdp") or {}
    prog = xdp.get("prog") or {}
    if not prog and xdp.get("attached"):
        prog = (xdp["attached"][0] or {}).get("prog") or {}
    out = netns.run_in(ns, ["tc", "filter", "show", "dev", ifname, "ingress"],
                       check=False).stdout
    return {"xdp": prog.get("id") if xdp else None,
            "tc": [line for line in out.splitlines() if line.strip()]}


def engine_lines(log):
    """{ifname: [what, ...]} of every 'rtp engine on IF: what' log line."""
    out = {}
    for m in ENGINE_LINE.finditer(log):
        out.setdefault(m.group("ifname"), []).append(m.group("what").strip())
    return out


# --- the pinned stream map ----------------------------------------------

def _addr(v):
    """A 16-byte IPv4-mapped address field (bpftool: a list of 16 ints)."""
    b = bytes(int(x) for x in v)
    assert len(b) == 16, v
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return str(ipaddress.IPv4Address(b[12:]))
    return str(ipaddress.IPv6Address(b))


def _port(v):
    """A __be16 printed by bpftool as the integer it reads in host order."""
    return socket.ntohs(int(v))


def _decode_formatted(f):
    k, v = f["key"], f["value"]
    c = v["counters"]
    return {
        "dst": _addr(k["dst_addr"]), "dst_port": _port(k["dst_port"]),
        "src": _addr(k["src_addr"]), "src_port": _port(k["src_port"]),
        "family": int(k["family"]),
        "new_src": _addr(v["new_src_addr"]), "new_src_port": _port(v["new_src_port"]),
        "new_dst": _addr(v["new_dst_addr"]), "new_dst_port": _port(v["new_dst_port"]),
        "egress_ifindex": int(v["egress_ifindex"]), "flags": int(v["flags"]),
        "ingress_ifindex": int(v["ingress_ifindex"]),
        "idle_timeout_s": int(v["idle_timeout_s"]),
        "cookie": int(v["cookie"]),
        "packets": int(c["packets"]), "bytes": int(c["bytes"]),
    }


def dump_streams(pin_dir, timeout=5):
    """Entries of <pin_dir>/smq_streams read with ``bpftool -j map dump
    pinned``: a list of dicts (dst, dst_port, src, src_port, new_src,
    new_src_port, new_dst, new_dst_port, egress_ifindex, ingress_ifindex, idle_timeout_s, flags, cookie,
    packets, bytes; addresses dotted, ports host order). None when the map
    is not pinned."""
    path = os.path.join(pin_dir, "smq_streams")
    if not os.path.exists(path):
        return None
    r = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        if not os.path.exists(path):
            return None     # removed meanwhile (clean stop)
        raise AssertionError("bpftool map dump %s: rc %d\n%s%s"
                             % (path, r.returncode, r.stdout, r.stderr))
    out = []
    for e in json.loads(r.stdout):
        # The map carries BTF (the programs are built with it): bpftool
        # prints the fields by name.
        assert "formatted" in e, "bpftool printed no BTF-formatted entry: %s" % e
        out.append(_decode_formatted(e["formatted"]))
    return out


def find_entry(entries, **match):
    """The one entry whose fields equal match (AssertionError otherwise)."""
    found = [e for e in entries if all(e[k] == v for k, v in match.items())]
    assert len(found) == 1, "want one entry with %s, map has:\n%s" % (
        match, "\n".join(map(str, entries)))
    return found[0]


def stats(pin_dir, ns):
    """Per-reason packet counts of the fast path ({'forwarded': n, 'miss': n,
    ...}), read through smq_kern_tool (maps only, nothing loaded)."""
    return json.loads(tool(ns, "stats", pin_dir=pin_dir).stdout)


# --- traffic ------------------------------------------------------------

def write_audio_pcap(path, packets, interval=AUDIO_INTERVAL):
    """Write `packets` RTP packets of g711a.pcap (looped as needed) to path,
    evenly spaced by interval seconds: audio of packets * interval s that
    tests/sipp/uac_call_pcap.xml plays (sipp replays the pcap's timing and
    rewrites addresses and ports). Returns the audio duration in s."""
    with open(AUDIO_SRC, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    frames = []
    off = 24
    while off + 16 <= len(data):
        incl, orig = struct.unpack(endian + "II", data[off + 8:off + 16])
        frames.append((data[off + 16:off + 16 + incl], orig))
        off += 16 + incl
    assert frames, AUDIO_SRC
    scale = 1e9 if nano else 1e6
    with open(path, "wb") as f:
        f.write(data[:24])
        for i in range(packets):
            frame, orig = frames[i % len(frames)]
            t = i * interval
            sec = int(t)
            frac = int(round((t - sec) * scale))
            f.write(struct.pack(endian + "IIII", sec, frac, len(frame), orig))
            f.write(frame)
    return packets * interval


# Sends COUNT datagrams "MARKER-i" padded to SIZE bytes from SRC:SPORT to
# DST:DPORT, GAP s apart.
_INJECT = r'''
import socket, sys, time
src, sport, dst, dport, count, size, gap, marker = sys.argv[1:9]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, int(sport)))
for i in range(int(count)):
    s.sendto(("%s-%d" % (marker, i)).encode().ljust(int(size), b"."), (dst, int(dport)))
    time.sleep(float(gap))
'''


def inject(ns, src, sport, dst, dport, count, marker, size=172, gap=0.01, timeout=20):
    """Send count marked UDP datagrams from src:sport (an address of ns)
    to dst:dport, from namespace ns; returns when all are sent."""
    netns.run_in(ns, [PYTHON, "-c", _INJECT, src, str(sport), dst, str(dport),
                      str(count), str(size), str(gap), marker], timeout=timeout)


def max_gap(times):
    """Longest interval (s) between consecutive timestamps (sorted first);
    0 for fewer than two."""
    ts = sorted(times)
    return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)


def gap_report(times, start, width=0.5):
    """Packets per width-s window from start (for assertion messages)."""
    if not times:
        return "(no packets)"
    n = int((max(times) - start) / width) + 1
    bins = [0] * max(n, 1)
    for t in times:
        i = int((t - start) / width)
        if 0 <= i < len(bins):
            bins[i] += 1
    return " ".join("%.1f:%d" % (i * width, c) for i, c in enumerate(bins))
