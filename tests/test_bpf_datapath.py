"""Real traffic through the kernel fast path (bpf/smq_fwd.bpf.c), in XDP
native, XDP generic and tc mode.

Topology (one per test, unique prefix, always removed):

    PREFIX-a              PREFIX-gw                         PREFIX-b
    a0 10.1.0.2/24 <----> ga 10.1.0.1/24
                          gb 10.2.0.1/24  <---------------> b0 10.2.0.2/24

The gateway relays the stream 10.1.0.2:5004 -> 10.1.0.1:40000 as
10.2.0.1:40002 -> 10.2.0.2:6004 (and back). tests/unit/smq_kern_tool loads
the programs through the loader API (daemon/kernel/kernel_engine.h), attaches them
and installs the entries, one short-lived process per step, the way a
daemon restart would. A listener bound to the relay ports on the gateway
stands for the userspace relay: it must receive nothing the fast path
forwards. B receives with a UDP socket (the kernel validates checksums)
and also sniffs the frames to recompute both checksums from scratch.

The senders' veths have transmit checksum offload off, so that datagrams
arrive complete, as from a real NIC (CHECKSUM_PARTIAL is covered for tc by
test_tc_partial_checksum). Native XDP redirects into a veth only when the
peer runs XDP: the far ends get a do-nothing XDP program (xdp-pass).

Pins go to /sys/fs/bpf/smqtest-PREFIX (the tool mounts bpffs on
/sys/fs/bpf if nothing is mounted there), removed at the end."""

import json
import os
import random
import shutil
import signal
import string
import subprocess
import time

import pytest

from lib import skips
from lib.sipmasq import binary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tests", "unit", "smq_kern_tool")
PYTHON = "/usr/bin/python3"

A_IP, GA_IP, GB_IP, B_IP = "10.1.0.2", "10.1.0.1", "10.2.0.1", "10.2.0.2"
A_PORT, RELAY_A, RELAY_B, B_PORT = 5004, 40000, 40002, 6004
COUNT = 200
SIZE = 172          # RTP header + 20 ms of G.711

# A UDP sender / receiver run inside the namespaces.
#   send SRC SPORT DST DPORT COUNT SIZE GAP_S
#   recv IP PORT IFNAME EXPECT TIMEOUT_S: prints "ready", then, once EXPECT
#       datagrams came (0: until SIGTERM) or TIMEOUT_S passed, one JSON line.
PROBE = r'''
import json, select, signal, socket, struct, sys, time

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def frame_ok(ip, udp):
    if csum(ip[:10] + b"\0\0" + ip[12:20]) != struct.unpack("!H", ip[10:12])[0]:
        return False
    ulen = struct.unpack("!H", udp[4:6])[0]
    check = struct.unpack("!H", udp[6:8])[0]
    if check == 0:
        return True
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
    c = csum(pseudo + udp[:6] + b"\0\0" + udp[8:ulen])
    return (c or 0xffff) == check

cmd = sys.argv[1]
if cmd == "send":
    src, sport, dst, dport, count, size, gap = sys.argv[2:9]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, int(sport)))
    for i in range(int(count)):
        s.sendto((b"smq%08d" % i).ljust(int(size), b"."), (dst, int(dport)))
        if float(gap):
            time.sleep(float(gap))
    sys.exit(0)

ip, port, ifname, expect, timeout = sys.argv[2:7]
port, expect, timeout = int(port), int(expect), float(timeout)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((ip, port))
socks = [u]
raw = None
if ifname != "-":
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    raw.bind((ifname, 0))
    socks.append(raw)
res = {"received": 0, "sources": [], "seqs": 0, "frames": 0, "bad_csum": 0,
       "ttls": [], "macs": [], "sniffed": raw is not None}
seqs = set()
print("ready", flush=True)
deadline = time.monotonic() + timeout
draining = False
while True:
    if not draining and (stop or time.monotonic() >= deadline or
                         (expect and res["received"] >= expect)):
        # A frame is sniffed before its datagram reaches the socket: the
        # frames of what the socket got are queued already, read them.
        if raw is None:
            break
        draining, socks = True, [raw]
    try:
        r, _, _ = select.select(socks, [], [], 0.1)
    except InterruptedError:
        continue
    if draining and not r:
        break
    for s in r:
        if s is u:
            data, src = u.recvfrom(4096)
            res["received"] += 1
            if list(src) not in res["sources"]:
                res["sources"].append(list(src))
            seqs.add(data[:11])
        else:
            f, addr = raw.recvfrom(4096)
            if addr[2] == socket.PACKET_OUTGOING or len(f) < 42:
                continue
            iph = f[14:34]
            if iph[9] != 17 or socket.inet_ntoa(iph[16:20]) != ip:
                continue
            if struct.unpack("!H", f[36:38])[0] != port:
                continue
            res["frames"] += 1
            if not frame_ok(iph, f[34:]):
                res["bad_csum"] += 1
            if iph[8] not in res["ttls"]:
                res["ttls"].append(iph[8])
            macs = [f[6:12].hex(":"), f[0:6].hex(":")]
            if macs not in res["macs"]:
                res["macs"].append(macs)
res["seqs"] = len(seqs)
print(json.dumps(res), flush=True)
'''


def ns_argv(ns, argv):
    # nsenter keeps the host's mount namespace: bpffs pins stay visible.
    return ["nsenter", "--net=/run/netns/%s" % ns, "--"] + list(argv)


def run_in(ns, argv, check=True, timeout=30):
    return subprocess.run(ns_argv(ns, argv), capture_output=True, text=True,
                          timeout=timeout, check=check)


class Net:
    """The three namespaces, the tool and the pin directory of one test."""

    def __init__(self):
        self.prefix = "smqb" + "".join(random.choice(string.ascii_lowercase)
                                       for _ in range(5))
        self.a, self.gw, self.b = (self.prefix + "-a", self.prefix + "-gw",
                                   self.prefix + "-b")
        self.pin_dir = "/sys/fs/bpf/smqtest-" + self.prefix
        self.procs = []

    def sh(self, ns, cmd):
        run_in(ns, ["sh", "-ec", cmd])

    def up(self):
        for ns in (self.a, self.gw, self.b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "link", "add", "a0", "netns", self.a, "type", "veth",
                        "peer", "name", "ga", "netns", self.gw], check=True)
        subprocess.run(["ip", "link", "add", "b0", "netns", self.b, "type", "veth",
                        "peer", "name", "gb", "netns", self.gw], check=True)
        self.sh(self.a, "ip link set lo up; ip addr add %s/24 dev a0; ip link set a0 up"
                % A_IP)
        self.sh(self.b, "ip link set lo up; ip addr add %s/24 dev b0; ip link set b0 up"
                % B_IP)
        self.sh(self.gw, "ip link set lo up; ip addr add %s/24 dev ga; "
                "ip addr add %s/24 dev gb; ip link set ga up; ip link set gb up; "
                "sysctl -qw net.ipv4.ip_forward=1" % (GA_IP, GB_IP))
        # Known next hops: bpf_fib_lookup() does not resolve neighbours.
        self.sh(self.gw, "ip neigh replace %s lladdr %s dev ga nud permanent; "
                "ip neigh replace %s lladdr %s dev gb nud permanent"
                % (A_IP, self.mac(self.a, "a0"), B_IP, self.mac(self.b, "b0")))
        self.tool(self.a, "tx-csum", "a0", "off")
        self.tool(self.b, "tx-csum", "b0", "off")

    def mac(self, ns, ifname):
        # Not /sys/class/net: under nsenter /sys is the host's namespace.
        link = json.loads(run_in(ns, ["ip", "-j", "link", "show", ifname]).stdout)
        return link[0]["address"]

    def tool(self, ns, *args, check=True):
        """Run smq_kern_tool in ns with this test's pin directory."""
        r = run_in(ns, [TOOL, "-p", self.pin_dir] + list(args), check=False)
        if check and r.returncode:
            raise AssertionError("smq_kern_tool %s: rc %d\n%s%s"
                                 % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def tool_json(self, ns, *args):
        return json.loads(self.tool(ns, *args).stdout)

    def recv(self, ns, ip, port, ifname="-", expect=0, timeout=20):
        p = subprocess.Popen(ns_argv(ns, [PYTHON, "-c", PROBE, "recv", ip, str(port),
                                          ifname, str(expect), str(timeout)]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        assert line.strip() == "ready", p.stderr.read()
        return p

    @staticmethod
    def result(p, stop=False, timeout=30):
        if stop:
            p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def send(self, ns, src, sport, dst, dport, count=COUNT, size=SIZE, gap=0.0005):
        run_in(ns, [PYTHON, "-c", PROBE, "send", src, str(sport), dst, str(dport),
                    str(count), str(size), str(gap)], timeout=120)

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.path.isdir(self.pin_dir):
            self.tool(self.gw, "stop", check=False)
        for ns in (self.a, self.gw, self.b):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        # Last resort; a clean stop leaves nothing to remove.
        shutil.rmtree(self.pin_dir, ignore_errors=True)


@pytest.fixture
def net():
    missing = skips.kernel_engine_missing(binary(), needs=(TOOL,))
    if missing:
        pytest.skip(missing)
    n = Net()
    try:
        n.up()
        yield n
    finally:
        n.down()
        assert not os.path.exists(n.pin_dir), "pins left behind"


def offload(net, mode, mode_b=None):
    """Attach the fast path in mode on both gateway interfaces (or mode on
    ga, mode_b on gb) and install the stream's two directions."""
    modes = {"ga": mode, "gb": mode_b or mode}
    if "xdp-native" in modes.values():
        # Natively redirected frames need XDP on the receiving veth end.
        net.tool(net.a, "xdp-pass", "a0")
        net.tool(net.b, "xdp-pass", "b0")
    for ifname in ("ga", "gb"):
        res = net.tool_json(net.gw, "attach", ifname, modes[ifname])
        assert res["mode"] == modes[ifname], res
    net.tool(net.gw, "put", "%s:%d" % (GA_IP, RELAY_A), "%s:%d" % (A_IP, A_PORT),
             "%s:%d" % (GB_IP, RELAY_B), "%s:%d" % (B_IP, B_PORT), "gb")
    net.tool(net.gw, "put", "%s:%d" % (GB_IP, RELAY_B), "%s:%d" % (B_IP, B_PORT),
             "%s:%d" % (GA_IP, RELAY_A), "%s:%d" % (A_IP, A_PORT), "ga")


def check_forwarded(net, rx, relay, src, sport, count, ttl=63):
    """rx (a receiver's result, sniffing its interface) got count datagrams
    from src:sport, as complete frames with valid checksums and the TTL
    one hop lowers, and the relay socket none."""
    assert rx["sniffed"], "a receiver without its sniffer checks no frame"
    assert rx["received"] == count, rx
    assert rx["seqs"] == count, rx
    assert rx["sources"] == [[src, sport]], rx
    # Each frame the socket got was seen, and checked, on the wire.
    assert rx["frames"] == count, rx
    assert rx["bad_csum"] == 0, rx
    assert rx["ttls"] == [ttl], rx
    assert relay["received"] == 0, relay


MODES = ["xdp-native", "xdp-generic", "tc"]


@pytest.mark.parametrize("mode", MODES)
def test_forward_both_ways(net, mode):
    offload(net, mode)
    relay_a = net.recv(net.gw, GA_IP, RELAY_A)
    relay_b = net.recv(net.gw, GB_IP, RELAY_B)

    rx_b = net.recv(net.b, B_IP, B_PORT, "b0", expect=COUNT)
    net.send(net.a, A_IP, A_PORT, GA_IP, RELAY_A)
    rx = net.result(rx_b)
    rx_a = net.recv(net.a, A_IP, A_PORT, "a0", expect=COUNT)
    net.send(net.b, B_IP, B_PORT, GB_IP, RELAY_B)
    back = net.result(rx_a)
    ra, rb = net.result(relay_a, stop=True), net.result(relay_b, stop=True)

    check_forwarded(net, rx, ra, GB_IP, RELAY_B, COUNT)
    assert rx["macs"] == [[net.mac(net.gw, "gb"), net.mac(net.b, "b0")]], rx
    check_forwarded(net, back, rb, GA_IP, RELAY_A, COUNT)

    c = net.tool_json(net.gw, "get", "%s:%d" % (GA_IP, RELAY_A), "%s:%d" % (A_IP, A_PORT))
    assert c["packets"] == COUNT and c["bytes"] == COUNT * SIZE, c
    assert c["last_seen_ns"] > 0
    c = net.tool_json(net.gw, "get", "%s:%d" % (GB_IP, RELAY_B), "%s:%d" % (B_IP, B_PORT))
    assert c["packets"] == COUNT, c
    stats = net.tool_json(net.gw, "stats")
    assert stats["forwarded"] == 2 * COUNT, stats


@pytest.mark.parametrize("mode", MODES)
def test_other_sources_go_to_userspace(net, mode):
    """A source that is not the latched peer is a miss: the relay socket
    gets it (and would drop it), B gets nothing."""
    offload(net, mode)
    relay_a = net.recv(net.gw, GA_IP, RELAY_A, expect=50)
    rx_b = net.recv(net.b, B_IP, B_PORT)
    net.send(net.a, A_IP, A_PORT + 2, GA_IP, RELAY_A, count=50)
    ra = net.result(relay_a)
    rb = net.result(rx_b, stop=True)
    assert ra["received"] == 50 and ra["sources"] == [[A_IP, A_PORT + 2]], ra
    assert rb["received"] == 0, rb
    assert net.tool_json(net.gw, "stats")["miss"] >= 50


@pytest.mark.parametrize("mode", MODES)
def test_restart_is_hitless(net, mode):
    """A new loader taking over the pinned maps and attachments (what a
    daemon restart does) while a stream flows loses no packet."""
    offload(net, mode)
    relay_a = net.recv(net.gw, GA_IP, RELAY_A)
    rx_b = net.recv(net.b, B_IP, B_PORT, "b0", expect=1000, timeout=60)
    sender = subprocess.Popen(ns_argv(net.a, [PYTHON, "-c", PROBE, "send", A_IP,
                                              str(A_PORT), GA_IP, str(RELAY_A), "1000",
                                              str(SIZE), "0.002"]))
    net.procs.append(sender)
    for _ in range(3):
        time.sleep(0.3)
        for ifname in ("ga", "gb"):
            assert net.tool_json(net.gw, "attach", ifname, mode)["mode"] == mode
    assert sender.wait(timeout=60) == 0
    rx = net.result(rx_b)
    ra = net.result(relay_a, stop=True)
    check_forwarded(net, rx, ra, GB_IP, RELAY_B, 1000)


def test_native_xdp_never_redirects_to_generic(net):
    """Native XDP hands frames only to interfaces attached natively (their
    drivers take XDP frames; a bridge, say, would drop them): toward a
    generic-mode interface the packets go to the stack, i.e. the userspace
    relay. Generic XDP reaches the native side directly."""
    offload(net, "xdp-native", "xdp-generic")
    relay_a = net.recv(net.gw, GA_IP, RELAY_A, expect=50)
    net.send(net.a, A_IP, A_PORT, GA_IP, RELAY_A, count=50)
    assert net.result(relay_a)["received"] == 50
    assert net.tool_json(net.gw, "stats")["no_tx_port"] == 50

    relay_b = net.recv(net.gw, GB_IP, RELAY_B)
    rx_a = net.recv(net.a, A_IP, A_PORT, "a0", expect=COUNT)
    net.send(net.b, B_IP, B_PORT, GB_IP, RELAY_B)
    check_forwarded(net, net.result(rx_a), net.result(relay_b, stop=True),
                    GA_IP, RELAY_A, COUNT)


def test_tc_partial_checksum(net):
    """tc keeps CHECKSUM_PARTIAL datagrams (a local sender with offload on)
    right: the gateway's egress has offload off, so the kernel finishes the
    checksum there from the seed the program updated; B checks it."""
    net.tool(net.a, "tx-csum", "a0", "on")
    net.tool(net.gw, "tx-csum", "gb", "off")
    offload(net, "tc")
    relay_a = net.recv(net.gw, GA_IP, RELAY_A)
    rx_b = net.recv(net.b, B_IP, B_PORT, "b0", expect=COUNT)
    net.send(net.a, A_IP, A_PORT, GA_IP, RELAY_A)
    check_forwarded(net, net.result(rx_b), net.result(relay_a, stop=True),
                    GB_IP, RELAY_B, COUNT)


def test_entries_and_pins_visible_to_bpftool(net):
    """bpftool prints entries with named fields; the dump matches the
    tool's view; a clean stop leaves no pin and no program."""
    offload(net, "xdp-generic")
    dump = json.loads(subprocess.run(
        ["bpftool", "-j", "map", "dump", "pinned", net.pin_dir + "/smq_streams"],
        capture_output=True, text=True, check=True).stdout)
    assert len(dump) == 2
    entry = dump[0]["formatted"]
    for field in ("dst_addr", "src_addr", "dst_port", "src_port", "family"):
        assert field in entry["key"], entry
    for field in ("counters", "cookie", "new_src_addr", "new_dst_port", "egress_ifindex"):
        assert field in entry["value"], entry
    assert set(entry["value"]["counters"]) == {"packets", "bytes", "last_seen_ns"}
    listed = net.tool_json(net.gw, "list")
    assert sorted(e["dst_port"] for e in listed) == [RELAY_A, RELAY_B]
    pins = sorted(os.listdir(net.pin_dir))
    assert pins == ["smq_stats", "smq_streams", "smq_tx_ports",
                    "xdp_link_ga", "xdp_link_gb"], pins

    net.tool(net.gw, "stop")
    assert not os.path.exists(net.pin_dir)
    links = json.loads(run_in(net.gw, ["ip", "-j", "link", "show", "ga"]).stdout)
    assert "xdp" not in links[0], links
