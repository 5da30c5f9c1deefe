"""The conntrack tier (rtp_engine = conntrack), end to end, with real packets.

Latched streams are forwarded by netfilter conntrack entries with NAT that
sipmasq creates over ctnetlink: a packet from party A to relay port rA is
rewritten to party B from relay port rB before routing, so it never reaches
the relay's socket. The tests check:

  - what the kernel needs for such an entry to win over a listening socket
    and forward (shown with the conntrack tool, without sipmasq): NAT hooks
    and conntrack in use in the namespace, NAT bindings on the entry,
    forwarding on, accounting for counters;
  - calls both ways carried by the entries: audio counted at the far ends,
    the userspace relay forwarding only the latching packets, `conntrack
    -L` showing the marked entries and their counters moving, the entries
    gone at call end;
  - a spray from a third host is not forwarded;
  - auto picks conntrack when the eBPF tiers are disabled, and each
    missing piece is logged at start.

`conntrack -L` runs in the gateway's namespace (conntrack-tools).
"""

import os
import re
import shutil
import signal
import time

import pytest

from lib import flows, kernel, netns
from lib.flows import ALICE, BOB, ERIN, GW_PUBLIC, RELAY_PORTS

pytestmark = pytest.mark.skipif(shutil.which("conntrack") is None or
                                shutil.which("nft") is None,
                                reason="conntrack-tools and nftables needed (scripts/setup.sh)")

LAN_GW = "10.0.0.1"
THIRD = "198.51.100.3"       # an address of the wan namespace that is no call's peer
MARK = 0x534d0001            # rtp_conntrack_mark's default
# Packets the userspace relay may forward per direction before the entry
# takes over: the latching packet of each party (the entry needs both),
# the first party's packets until the second one latched, and one in
# flight while the entry is created. At 33 packets/s, and the far end
# answering the first packet it gets, a few.
PRELATCH = 4
SHORT_PKTS = 80              # 2.4 s of audio, BYE at 3 s
SHORT_CALL_MS = 3000


def ct_entries(ns, mark=MARK):
    """The UDP conntrack entries of ns with the given mark (None: all), as
    dicts: src, dst, sport, dport, packets, bytes (original direction),
    rsrc, rdst, rsport, rdport, rpackets, rbytes (reply), mark."""
    argv = ["conntrack", "-L", "-p", "udp"] + (["-m", str(mark)] if mark is not None else [])
    out = netns.run_in(ns, argv).stdout
    entries = []
    for line in out.splitlines():
        pairs = re.findall(r"(\w+)=(\S+)", line)
        keys = {}
        for k, v in pairs:
            if k in keys and "r" + k not in keys:
                k = "r" + k
            keys[k] = int(v) if v.isdigit() else v
        if "src" in keys:
            entries.append(keys)
    return entries


def acct_on(ns):
    netns.run_in(ns, ["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=1"])


def started(smq, mark=0, timeout=10):
    """Wait for the 'ready' line after log offset mark."""
    netns.wait_for(lambda: " ready: " in smq.log()[mark:] or not smq.alive(), timeout,
                   what="sipmasq's ready line")
    assert smq.alive(), smq.log()[mark:][-4000:]
    return smq


def start_ct(sipmasq, topology, **over):
    acct_on(topology.gw)
    cfg = dict(rtp_engine="conntrack")
    cfg.update(over)
    smq = started(sipmasq(**cfg))
    assert "rtp engine: conntrack (netfilter entries with NAT, mark 0x534d0001)" in \
        smq.log(), smq.log()[-3000:]
    return smq


class Meters:
    """iptables counters of the call's RTP (see tests/test_e2e_kernel.py):
    phone_sent/bob_sent what each party sent, bob_got/phone_got what
    reached it from the relay, relay_p2p/relay_p2r what reached the
    gateway's own stack on the relay ports (the userspace relay): packets
    the conntrack entry rewrites are forwarded, never delivered locally."""

    NAMES = ("phone_sent", "bob_got", "bob_sent", "phone_got", "relay_p2p", "relay_p2r")

    def __init__(self, counter, topo, far=BOB):
        ports = "%d:%d" % RELAY_PORTS
        self.phone_sent = counter(topo.lan, None, src=ALICE.ip, sport=ALICE.media,
                                  dst=LAN_GW, chain="OUTPUT")
        self.bob_sent = counter(topo.wan, None, src=far.ip, sport=far.media,
                                dst=GW_PUBLIC, chain="OUTPUT")
        self.bob_got = flows.relay_counter(counter, topo, far)
        self.phone_got = flows.relay_counter(counter, topo, ALICE)
        self.relay_p2p = counter(topo.gw, ports, src=ALICE.ip, sport=ALICE.media, dst=LAN_GW)
        self.relay_p2r = counter(topo.gw, ports, src=far.ip, sport=far.media, dst=GW_PUBLIC)

    def read(self):
        return {k: getattr(self, k).packets() for k in self.NAMES}


def wait_entry(smq, topology, far=BOB, min_packets=1, timeout=8):
    """Wait until the call's RTP entry is listed with min_packets each way;
    return it."""
    got = []

    def ready():
        got[:] = [e for e in ct_entries(topology.gw)
                  if (e["src"], e["sport"]) == (ALICE.ip, ALICE.media)]
        return (len(got) == 1 and got[0].get("packets", 0) >= min_packets and
                got[0].get("rpackets", 0) >= min_packets) or not smq.alive()
    try:
        netns.wait_for(ready, timeout, interval=0.1, what="the call's conntrack entry")
    except TimeoutError:
        raise AssertionError("no conntrack entry for the call: %s\n%s\nlog:\n%s"
                             % (got, ct_entries(topology.gw, None), smq.log()[-4000:]))
    assert smq.alive(), smq.log()[-4000:]
    return got[0]


def check_end(end, counts, audio_pkts, sprayed=(0, 0), player="phone"):
    """The call end line counts what the far ends got, the kernel carried
    all but the first few packets, and the userspace relay handled exactly
    those (what reached the gateway's stack): forwarded while no entry
    existed, dropped when they were still queued at its socket once the
    entry was there (a copy sent then would clash with the entry and leave
    from another port: media.h, no_relay_tx). sprayed: datagrams from
    strangers, per direction, that the relay dropped too. player: who
    plays the audio ("phone", the far end echoes; "far", the phone
    echoes), so that each echo is compared with what reached the echoer."""
    end = dict(end, p2p_dropped=end["p2p_dropped"] - sprayed[0],
               p2r_dropped=end["p2r_dropped"] - sprayed[1])
    assert end["reason"] == "bye" and end["engine"] == "conntrack", end
    if player == "phone":
        assert counts["phone_sent"] == audio_pkts, counts
        assert counts["bob_sent"] == counts["bob_got"], counts   # the far end echoes
    else:
        assert counts["bob_sent"] == audio_pkts, counts
        assert counts["phone_sent"] == counts["phone_got"], counts   # the phone echoes
    assert counts["bob_got"] == counts["phone_sent"] - end["p2p_dropped"], (end, counts)
    assert counts["phone_got"] == counts["bob_sent"] - end["p2r_dropped"], (end, counts)
    assert end["p2p_pkts"] == counts["bob_got"], (end, counts)
    assert end["p2r_pkts"] == counts["phone_got"], (end, counts)
    for d in ("p2p", "p2r"):
        assert end[d + "_kernel"] > 0, (d, end)
        assert counts["relay_" + d] == \
            end[d + "_pkts"] - end[d + "_kernel"] + end[d + "_dropped"], (d, end, counts)
        assert counts["relay_" + d] <= PRELATCH, (d, end, counts)
        assert end[d + "_dropped"] <= 1, (d, end)


# --- what the kernel needs (no sipmasq) ----------------------------------

class Probe:
    """An entry made with the conntrack tool for lan 10.0.0.2:6000 ->
    gw 10.0.0.1:7100, rewritten to 198.51.100.2:16000 from
    198.51.100.1:7102, and counters at both ends: where do packets go?"""

    def __init__(self, topo, counter):
        self.topo = topo
        self.at_gw = counter(topo.gw, 7100)            # delivered locally (the socket)
        self.at_far = counter(topo.wan, 16000, src=GW_PUBLIC, sport=7102)
        self.n = 0

    def entry(self, final_reply=False):
        """NAT bindings with the inverted original as the reply tuple (the
        conntrack tool's default, and sipmasq's), or with the final reply
        tuple given."""
        netns.run_in(self.topo.gw, ["conntrack", "-F"], check=False)
        argv = ["conntrack", "-I", "-p", "udp", "-s", "10.0.0.2", "-d", LAN_GW,
                "--sport", "6000", "--dport", "7100", "-t", "60",
                "-u", "SEEN_REPLY,ASSURED", "-m", str(MARK),
                "--dst-nat", "198.51.100.2:16000", "--src-nat", GW_PUBLIC + ":7102"]
        if final_reply:
            argv += ["-r", "198.51.100.2", "-q", GW_PUBLIC, "--reply-port-src", "16000",
                     "--reply-port-dst", "7102"]
        netns.run_in(self.topo.gw, argv)

    def send(self, count=5):
        """Send count datagrams; return (delivered to the gateway's stack,
        forwarded to the far end) for them."""
        gw0, far0 = self.at_gw.packets(), self.at_far.packets()
        kernel.inject(self.topo.lan, "10.0.0.2", 6000, LAN_GW, 7100, count, "PROBE%d" % self.n,
                      gap=0.005)
        self.n += 1
        time.sleep(0.2)
        return self.at_gw.packets() - gw0, self.at_far.packets() - far0


def test_kernel_needs(topology, counter):
    """An entry with NAT takes precedence over a listening socket only
    when NAT and conntrack are active in the namespace, and forwards only
    with forwarding on; created with its final reply tuple it rewrites
    nothing; its counters need nf_conntrack_acct. sipmasq's start-up probe checks the
    same things (test_missing_pieces_are_logged)."""
    gw = topology.gw
    p = Probe(topology, counter)
    acct_on(gw)
    # As the topology is built: a MASQUERADE rule (nat table, conntrack in
    # use) and ip_forward = 1: the entry forwards, the socket sees nothing.
    p.entry()
    assert p.send() == (0, 5)
    e = ct_entries(gw)[0]
    assert (e["packets"], e["rsrc"], e["rsport"], e["rdport"]) == (5, BOB.ip, 16000, 7102), e
    # The same entry created with its final reply tuple: the NAT bindings
    # change nothing, so the kernel sets no SRC_NAT/DST_NAT bit: the entry
    # matches (it counts) but rewrites nothing.
    p.entry(final_reply=True)
    assert p.send() == (5, 0)
    assert ct_entries(gw)[0]["packets"] == 5
    # No nat table at all (the counters' filter rules use no conntrack): no
    # NAT hooks, conntrack unused: as if there were no entry.
    netns.run_in(gw, ["nft", "delete", "table", "ip", "nat"])
    p.entry()
    assert p.send() == (5, 0)
    assert ct_entries(gw)[0]["packets"] == 0, "tracked without any rule using conntrack"
    # An empty nat chain registers the NAT hooks, but nothing uses
    # conntrack: still delivered to the socket.
    netns.run_in(gw, ["nft", "add", "table", "ip", "sipmasq"])
    netns.run_in(gw, ["nft", "add", "chain", "ip", "sipmasq", "postrouting",
                      "{ type nat hook postrouting priority srcnat; }"])
    p.entry()
    assert p.send() == (5, 0)
    # A rule that uses conntrack (docs/fast-path.md's recipe) completes it.
    netns.run_in(gw, ["nft", "add", "rule", "ip", "sipmasq", "postrouting",
                      "ct", "mark", "0x534d0001", "counter"])
    p.entry()
    assert p.send() == (0, 5)
    # A FORWARD policy of drop drops the media too, until the recipe's
    # rule accepts the entries by their mark.
    netns.run_in(gw, ["nft", "add", "table", "inet", "filter"])
    netns.run_in(gw, ["nft", "add", "chain", "inet", "filter", "forward",
                      "{ type filter hook forward priority 0; policy drop; }"])
    p.entry()
    assert p.send() == (0, 0)
    netns.run_in(gw, ["nft", "add", "rule", "inet", "filter", "forward",
                      "ct", "mark", "0x534d0001", "accept"])
    p.entry()
    assert p.send() == (0, 5)
    # Forwarding off: rewritten, then dropped by routing.
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])
    p.entry()
    assert p.send() == (0, 0)
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    # Accounting off when the entry is made: forwarded, but no counters.
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=0"])
    p.entry()
    assert p.send() == (0, 5)
    assert "packets" not in ct_entries(gw)[0]


def test_missing_pieces_are_logged(topology, sipmasq):
    """Each missing piece gets one line at start; the engine then is
    userspace, and no entry of ours is left by the probe."""
    gw = topology.gw
    netns.run_in(gw, ["nft", "flush", "ruleset"])
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=0"])
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.ipv4.conf.gwwan.forwarding=0"])
    smq = started(sipmasq(rtp_engine="conntrack"))
    log = smq.log()
    assert "conntrack engine: IPv4 forwarding is off on gwwan" in log, log
    assert "conntrack engine: IPv4 forwarding is off on gwlan" not in log, log
    assert "conntrack engine: conntrack accounting is off " \
        "(net.netfilter.nf_conntrack_acct = 0)" in log, log
    assert "conntrack engine: conntrack does not track packets in this network " \
        "namespace" in log, log
    assert "rtp engine: userspace (conntrack engine unavailable: IPv4 forwarding is " \
        "off on gwwan)" in log, log
    assert ct_entries(gw) == []
    smq.stop()
    # With conntrack in use but no NAT hook, the probe tells that apart.
    netns.run_in(gw, ["sysctl", "-q", "-w", "net.ipv4.conf.gwwan.forwarding=1"])
    acct_on(gw)
    netns.run_in(gw, ["nft", "add", "table", "ip", "t"])
    netns.run_in(gw, ["nft", "add", "chain", "ip", "t", "inchain", "{ type filter hook input "
                      "priority 0; }"])
    netns.run_in(gw, ["nft", "add", "rule", "ip", "t", "inchain", "ct", "mark", "0x1", "counter"])
    mark = len(smq.log())
    started(smq.start(), mark)
    log = smq.log()[mark:]
    assert "conntrack engine: netfilter NAT is not active in this network namespace" in log, log
    assert "rtp engine: userspace (conntrack engine unavailable: netfilter NAT" in log, log
    assert ct_entries(gw) == []


# --- calls ---------------------------------------------------------------

def test_auto_without_bpf_picks_conntrack(topology, kamailio, sipp, sipmasq, counter,
                                          tmp_path):
    """rtp_engine = auto with rtp_engine_bpf = no skips XDP and tc, says
    so, and relays with conntrack entries: a call from the phone, audio
    both ways counted at the far ends, the entry listed with its counters
    moving while the relay forwards only the latching packets, and gone
    after the BYE."""
    acct_on(topology.gw)
    smq = started(sipmasq(rtp_engine="auto", rtp_engine_bpf="no"))
    log = smq.log()
    assert "rtp engine: skipping XDP and tc (rtp_engine_bpf = no)" in log, log
    assert "rtp engine: conntrack (netfilter entries with NAT, mark 0x534d0001)" in log, log
    assert "rtp engine on " not in log, "an eBPF tier was tried:\n" + log
    assert flows.register(sipp, topology, ALICE).ok
    meters = Meters(counter, topology)
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), SHORT_PKTS)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=SHORT_CALL_MS)
    e1 = wait_entry(smq, topology, min_packets=5)
    relay_port_lan = e1["dport"]
    assert e1["dst"] == LAN_GW and RELAY_PORTS[0] <= relay_port_lan <= RELAY_PORTS[1], e1
    assert (e1["rsrc"], e1["rsport"], e1["rdst"]) == (BOB.ip, BOB.media, GW_PUBLIC), e1
    assert e1["mark"] == MARK, e1
    time.sleep(0.5)
    e2 = wait_entry(smq, topology)
    assert e2["packets"] > e1["packets"] and e2["rpackets"] > e1["rpackets"], (e1, e2)
    relay_mid = meters.relay_p2p.packets(), meters.relay_p2r.packets()
    uac_res, uas_res = flows.finished_ok(uac, uas)
    callid = flows.first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    counts = meters.read()
    check_end(end, counts, SHORT_PKTS)
    # The relay saw nothing after the entry was there.
    assert (counts["relay_p2p"], counts["relay_p2r"]) == relay_mid, (relay_mid, counts)
    # The SDP's relay ports are the entry's.
    invite = flows.received_requests(uas_res, "INVITE")[0]
    answer = flows.received_responses(uac_res, 200, "INVITE")[0]
    assert e1["rdport"] == invite.sdp_audio_port(), invite.text
    assert relay_port_lan == answer.sdp_audio_port(), answer.text
    assert ct_entries(topology.gw) == [], "entries left after the call"


def test_incoming_call(topology, kamailio, sipp, sipmasq, counter, tmp_path):
    """A call from the public side (erin -> alice) on rtp_engine =
    conntrack: the entry's original direction is still the phone's, the
    audio is carried both ways and sipmasqctl shows the kernel's share."""
    smq = start_ct(sipmasq, topology)
    assert flows.register(sipp, topology, ALICE).ok
    meters = Meters(counter, topology, far=ERIN)
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), SHORT_PKTS)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, scenario="uac_call_pcap",
                             duration_ms=SHORT_CALL_MS)
    e = wait_entry(smq, topology, far=ERIN, min_packets=5)
    assert (e["rsrc"], e["rsport"]) == (ERIN.ip, ERIN.media), e
    stream = smq.ctl("calls")["calls"][0]["streams"][0]
    assert stream["private"]["kernel_packets"] > 0 and stream["public"]["kernel_packets"] > 0, \
        stream
    assert smq.ctl("stats")["engine"] == "conntrack"
    uac_res, _ = flows.finished_ok(uac, uas)
    end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
    check_end(end, meters.read(), SHORT_PKTS, player="far")
    assert ct_entries(topology.gw) == []


def test_spray_from_third_host_not_forwarded(topology, kamailio, sipp, sipmasq, counter,
                                             tmp_path):
    """During a call, datagrams to the public relay port from a third
    address, and from the far end's address but another port, match no
    entry: they reach the relay, which drops them; the phone gets none and
    the audio goes on."""
    netns.run_in(topology.wan, ["ip", "addr", "add", THIRD + "/24", "dev", "wan0"])
    smq = start_ct(sipmasq, topology)
    assert flows.register(sipp, topology, ALICE).ok
    meters = Meters(counter, topology)
    marker = "SMQSTRANGER"
    at_phone = counter(topology.lan, None, string=marker)
    audio_pkts = 120
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), audio_pkts)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=4200)
    e = wait_entry(smq, topology, min_packets=5)
    relay_pub = e["rdport"]
    at_gw = counter(topology.gw, relay_pub, string=marker)
    got0 = meters.phone_got.packets()
    n = 20
    kernel.inject(topology.wan, THIRD, BOB.media, GW_PUBLIC, relay_pub, n, marker)
    kernel.inject(topology.wan, BOB.ip, BOB.media + 99, GW_PUBLIC, relay_pub, n, marker)
    time.sleep(0.3)
    assert at_gw.packets() == 2 * n, "the sprayed packets did not reach the relay"
    assert at_phone.packets() == 0, "the phone received sprayed packets"
    assert meters.phone_got.packets() > got0, "audio to the phone stopped"
    uac_res, _ = flows.finished_ok(uac, uas)
    end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
    assert at_phone.packets() == 0
    # Every sprayed datagram was dropped (check_end: and at most one of
    # the party's at the switch to the kernel).
    check_end(end, meters.read(), audio_pkts, sprayed=(0, 2 * n))


@pytest.mark.parametrize("how", ["kill9", "sigusr2"])
def test_restart_keeps_audio_and_adopts(topology, kamailio, sipp, sipmasq, counter,
                                        capture, tmp_path, how):
    """kill -9 (or the handover stop, SIGUSR2) during a call: the entries
    keep forwarding without a daemon; the restarted one adopts the call
    and its entries (no new entry, counters go on) and the call end counts
    every packet."""
    smq = start_ct(sipmasq, topology)
    state_file = smq.config["registration_file"] + ".calls"
    assert flows.register(sipp, topology, ALICE).ok
    meters = Meters(counter, topology)
    cap = capture(topology.wan, "wan0", "far_end")
    pkts = 240            # 7.2 s: the stop comes at about 3 s, the restart at 4.5 s
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), pkts)
    uas = flows.start_callee(sipp, topology, BOB, timeout=30)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=7800, timeout=30)
    e1 = wait_entry(smq, topology, min_packets=20)
    netns.wait_for(lambda: os.path.exists(state_file)
                   and "stream " in open(state_file).read(), 3, what="call state file")
    time.sleep(1.0)
    if how == "kill9":
        smq.stop(sig=signal.SIGKILL)
    else:
        assert smq.stop(sig=signal.SIGUSR2) == 0
        assert "conntrack entries left in place for the next sipmasq" in smq.log()
    assert not smq.call_ends(), "the call ended at the stop"
    time.sleep(1.5)
    # Nobody runs the relay now: the kernel forwards on its own.
    e2 = [e for e in ct_entries(topology.gw) if (e["src"], e["sport"]) == (ALICE.ip, ALICE.media)]
    assert len(e2) == 1 and e2[0]["packets"] - e1["packets"] >= 20, (e1, e2)
    mark = len(smq.log())
    started(smq.start(), mark)
    uac_res, _ = flows.finished_ok(uac, uas)
    callid = flows.first_sent(uac_res, "INVITE").call_id
    log2 = smq.log()[mark:]
    assert "call adopted: Call-ID=%s " % callid in log2, log2[-4000:]
    assert "stale entries" not in log2, log2
    assert "was gone: created again" not in log2, log2
    end = smq.call_end(callid)
    counts = meters.read()
    check_end(end, counts, pkts)
    times = [p.ts for p in cap.rtp_packets() if p.dst == BOB.ip and p.dport == BOB.media]
    assert len(times) == counts["bob_got"], (len(times), counts)
    gap = kernel.max_gap(times)
    assert gap < 1.0, "%.2fs without audio: %s" % (gap, kernel.gap_report(times, min(times)))
    assert ct_entries(topology.gw) == []


@pytest.mark.parametrize("engine", ["userspace", "conntrack"])
def test_leftovers_are_removed(topology, sipmasq, engine):
    """Entries with sipmasq's mark that no call owns (a daemon on the
    conntrack engine died and its call state is lost) are removed at
    start, by a daemon on the conntrack engine as stale ones, by one on
    another engine all of them; entries of other marks stay."""
    gw = topology.gw
    acct_on(gw)
    for sport, mark in ((6000, MARK), (6002, 7)):
        netns.run_in(gw, ["conntrack", "-I", "-p", "udp", "-s", "10.0.0.2", "-d", LAN_GW,
                          "--sport", str(sport), "--dport", "7100", "-t", "60",
                          "--dst-nat", "198.51.100.2:16000",
                          "--src-nat", "%s:%d" % (GW_PUBLIC, sport + 1000),
                          "-m", str(mark)])
    smq = started(sipmasq(rtp_engine=engine))
    if engine == "userspace":
        want = "conntrack engine: 1 entries of an earlier sipmasq (mark 0x534d0001) removed"
    else:
        want = "conntrack engine: 1 stale entries of a previous daemon removed"
    assert want in smq.log(), smq.log()
    assert ct_entries(gw) == []
    assert len(ct_entries(gw, 7)) == 1


def test_reinvite_moves_the_entry(topology, kamailio, sipp, sipmasq, counter):
    """The far end re-INVITEs with a new m= port: the entry toward the old
    port goes, and once the relay has latched the new one a new entry
    carries the audio to it."""
    smq = start_ct(sipmasq, topology)
    assert flows.register(sipp, topology, ALICE).ok
    at_new_port = counter(topology.wan, BOB.media + 2, src=GW_PUBLIC,
                          sport="%d:%d" % RELAY_PORTS)
    uas = flows.start_callee(sipp, topology, BOB, scenario="uas_reinvite")
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_reinvite")
    old = wait_entry(smq, topology, min_packets=5)
    assert old["rsport"] == BOB.media, old
    got = []

    def moved():
        got[:] = [e for e in ct_entries(topology.gw)
                  if (e["src"], e["sport"]) == (ALICE.ip, ALICE.media)]
        return len(got) == 1 and got[0]["rsport"] == BOB.media + 2 and \
            got[0].get("packets", 0) >= 10 and got[0].get("rpackets", 0) >= 10
    netns.wait_for(moved, 10, interval=0.1, what="the entry toward the new port")
    new = got[0]
    # The same relay ports, the new far-end port.
    assert (new["dport"], new["rdport"]) == (old["dport"], old["rdport"]), (old, new)
    uac_res, _ = flows.finished_ok(uac, uas)
    end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
    assert end["reason"] == "bye" and end["engine"] == "conntrack", end
    assert at_new_port.packets() >= 10 + new["packets"] // 2, at_new_port.packets()
    assert end["p2p_kernel"] >= old["packets"] + new["packets"], (end, old, new)
    assert ct_entries(topology.gw) == []


def test_rtp_timeout_ends_idle_call(topology, kamailio, sipp, sipmasq, counter, tmp_path):
    """With rtp_timeout = 3 s a call whose audio goes through the entry
    (the relay's sockets see nothing) lives while the audio flows and
    times out once it stops: the daemon reads the entry's counters. The
    entries go with the call."""
    smq = start_ct(sipmasq, topology, rtp_timeout=3)
    assert flows.register(sipp, topology, ALICE).ok
    meters = Meters(counter, topology)
    audio_pkts = 150          # 4.5 s; the UAC would hang up only at 12 s
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), audio_pkts)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=12000)
    wait_entry(smq, topology)
    try:
        netns.wait_for(lambda: smq.call_ends(), 12, interval=0.2, what="the call to end")
    except TimeoutError:
        raise AssertionError("the call did not time out:\n" + smq.log()[-3000:])
    end = smq.call_ends()[0]
    counts = meters.read()
    uac.kill()
    uas.kill()
    assert end["reason"] == "timeout", end
    # Ended 3-4 s (timeout + the 1 s fold of the counters) after the audio
    # stopped, 4.5 s after it started; had the daemon missed the kernel's
    # packets it would have ended it 3-4 s after the first ones.
    assert 7 <= end["duration"] <= 9, end
    assert end["p2p_pkts"] == counts["bob_got"], (end, counts)
    assert end["p2p_kernel"] >= audio_pkts - PRELATCH, end
    assert ct_entries(topology.gw) == []


def test_auto_falls_to_conntrack_when_ebpf_cannot_load(topology, sipmasq, tmp_path):
    """rtp_engine = auto where the eBPF engine cannot load (here: its pin
    directory is not on bpffs) says why it skips XDP and tc and goes on to
    conntrack."""
    acct_on(topology.gw)
    smq = started(sipmasq(rtp_engine="auto", bpf_pin_dir=str(tmp_path / "not-bpffs" / "pins")))
    log = smq.log()
    assert re.search(r"rtp engine: skipping XDP and tc \(kernel engine unavailable: .+\)",
                     log), log
    assert "rtp engine: conntrack (netfilter entries with NAT, mark 0x534d0001)" in log, log


def test_rtcp_gets_its_own_entry(topology, kamailio, sipp, sipmasq, counter, tmp_path):
    """RTCP (relay port + 1) latches and gets an entry of its own once both
    parties sent some: then the kernel carries it both ways. (sipp sends
    no RTCP: the test sends it from the parties' RTP address, port + 1.)"""
    smq = start_ct(sipmasq, topology)
    assert flows.register(sipp, topology, ALICE).ok
    at_bob = counter(topology.wan, BOB.media + 1, src=GW_PUBLIC, sport="%d:%d" % RELAY_PORTS)
    at_alice = counter(topology.lan, ALICE.media + 1, src=LAN_GW, sport="%d:%d" % RELAY_PORTS)
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), 200)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=6600)
    rtp = wait_entry(smq, topology, min_packets=5)
    r1, r2 = rtp["dport"] + 1, rtp["rdport"] + 1
    n = 20
    kernel.inject(topology.lan, ALICE.ip, ALICE.media + 1, LAN_GW, r1, n, "RTCPA")
    kernel.inject(topology.wan, BOB.ip, BOB.media + 1, GW_PUBLIC, r2, n, "RTCPB")
    netns.wait_for(lambda: len(ct_entries(topology.gw)) == 2, 3, what="the RTCP entry")
    kernel.inject(topology.lan, ALICE.ip, ALICE.media + 1, LAN_GW, r1, n, "RTCPA2")
    time.sleep(0.3)
    rtcp = [e for e in ct_entries(topology.gw) if e["dport"] == r1]
    assert len(rtcp) == 1, ct_entries(topology.gw)
    e = rtcp[0]
    assert (e["src"], e["sport"], e["rsrc"], e["rsport"], e["rdport"]) == \
        (ALICE.ip, ALICE.media + 1, BOB.ip, BOB.media + 1, r2), e
    # Alice's second batch went through the kernel only; bob's first
    # latched his side in the relay (forwarded there) before the entry.
    assert e["packets"] == n, e
    assert at_bob.packets() == 2 * n, at_bob.packets()
    # Bob's after his latch went through the kernel; at most one queued at
    # the relay's socket when the entry was made is dropped (check_end).
    assert e["rpackets"] >= n - PRELATCH, e
    assert n - 1 <= at_alice.packets() <= n, at_alice.packets()
    flows.finished_ok(uac, uas)
    assert ct_entries(topology.gw) == []


# --- sipmasq "in front of" a NAT router: one interface ---------------------

from test_e2e_nat_router import (nat, nat_kamailio, nat_sipmasq,  # noqa: E402,F401
                                 register_phone, outgoing_call, incoming_call)


def test_behind_nat_router(nat, nat_kamailio, nat_sipmasq, sipp, counter):
    """sipmasq on a LAN host with one interface (siproxd's second setup):
    with forwarding and a nat chain there, the entries send each packet
    back out of the interface it came in on, toward the router, and the
    calls both ways are carried by the kernel (the helpers check the audio
    at the far ends against the call end counts)."""
    smq_ns = nat.smq
    netns.run_in(smq_ns, ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.forwarding=1"])
    acct_on(smq_ns)
    for argv in (["add", "table", "ip", "sipmasq"],
                 ["add", "chain", "ip", "sipmasq", "postrouting",
                  "{ type nat hook postrouting priority srcnat; }"],
                 ["add", "rule", "ip", "sipmasq", "postrouting", "ct", "mark", "0x534d0001",
                  "counter"]):
        netns.run_in(smq_ns, ["nft"] + argv)
    smq = nat_sipmasq(rtp_engine="conntrack")
    assert "rtp engine: conntrack" in smq.log(), smq.log()[-3000:]
    assert register_phone(sipp, nat).ok
    for what, end in (("outgoing", outgoing_call(nat, sipp, counter, smq)),
                      ("incoming", incoming_call(nat, sipp, counter, smq))):
        assert end["engine"] == "conntrack", (what, end)
        for d in ("p2p", "p2r"):
            assert end[d + "_kernel"] > 0, (what, end)
            assert end[d + "_pkts"] - end[d + "_kernel"] <= PRELATCH, (what, end)
    assert ct_entries(smq_ns) == []
