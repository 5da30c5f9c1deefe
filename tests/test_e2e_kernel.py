"""The in-kernel RTP fast path, end to end, with real packets.

A phone (alice, lan namespace) calls a far-end sipp (bob, wan namespace,
echoing RTP) through sipmasq, whose latched media streams are forwarded by
its XDP or tc program (rtp_engine = xdp | tc) or by the userspace relay
(rtp_engine = userspace). The tests check, with iptables packet counters,
tshark captures, bpftool dumps of the pinned stream map and the daemon's
'call end' line:

  - each engine carries a call both ways and says so in its log;
  - on a kernel engine the userspace relay forwards only the packets that
    came before the latch, and the kernel's counters match what the far end
    received;
  - packets to a relay port from anybody but the latched peer are dropped;
  - the map holds the call's streams during the call and nothing after;
  - rtp_engine falls back step by step when XDP is taken on an interface;
  - a restart (kill -9 or SIGUSR2, then start) keeps the audio flowing
    without a gap, and a clean stop (SIGTERM) detaches and unpins all.

Audio is tests/sipp/uac_call_pcap.xml playing a pcap written by the test
(lib/kernel.py write_audio_pcap): it ends before the BYE, so every packet is
forwarded and counted before the call ends and the counts must agree
exactly, except where a comment says why not.
"""

import os
import signal
import subprocess
import time

import pytest

from lib import flows, kernel, netns, skips
from lib import sipmasq as smqlib
from lib.flows import ALICE, BOB, GW_PUBLIC, RELAY_PORTS

pytestmark = skips.kernel_engine_marker(smqlib.binary())

LAN_GW = "10.0.0.1"
THIRD = "198.51.100.3"     # an address of the wan namespace that is no call's peer

# Packets the userspace relay may forward on a kernel engine, per
# direction: the first packet from a peer latches it in userspace (the
# kernel entry needs the peer's source address and port, which only that
# packet tells), and one more may be already queued on the relay socket
# while the entry is being installed (33 packets/s here: rarely).
PRELATCH = 2

# Short calls: 2.4 s of audio (80 packets of 30 ms) and the BYE 0.6 s
# after the last packet, so that nothing is in flight when the call ends.
SHORT_PKTS = 80
SHORT_CALL_MS = 3000

# The engine names of the 'call end' line per rtp_engine value.
ENGINE_NAME = {"xdp": "xdp-native", "tc": "tc", "userspace": "userspace"}


def engine_config(engine):
    """sipmasq overrides for rtp_engine = engine. The veths of these tests
    are prepared for native XDP (kernel.prepare_xdp_native), which the
    operator vouches for with rtp_xdp_veth; without it xdp is refused on a
    veth (test_forced_xdp_refused_on_plain_veth)."""
    cfg = {"rtp_engine": engine}
    if engine == "xdp":
        cfg["rtp_xdp_veth"] = 1
    return cfg


@pytest.fixture(autouse=True)
def no_leftovers(request, tmp_path):
    """After every test of this file (passing or failing) and after all
    its fixtures' teardown: none of its namespaces, pins or processes
    remain. Processes are recognised by the test's tmp dir in their command
    line (every config, log and trace path of a test is under it)."""
    yield
    left = []
    topo = request.node.funcargs.get("topology")
    if topo is not None:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             timeout=10).stdout
        left += ["netns " + line.split()[0] for line in out.splitlines()
                 if line.startswith(topo.prefix + "-")]
        if os.path.isdir("/sys/fs/bpf"):
            left += ["pin /sys/fs/bpf/" + p for p in os.listdir("/sys/fs/bpf")
                     if p.startswith(topo.prefix + "-")]
    mine = str(tmp_path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if mine in cmd:
            left.append("process %s: %s" % (pid, cmd[:200]))
    assert not left, "left behind: %s" % left


# --- helpers -------------------------------------------------------------

class Meters:
    """iptables counters of the call's RTP:
    phone_sent  alice -> relay (lan OUTPUT)      bob_got    relay -> bob (wan INPUT)
    bob_sent    bob's echo -> relay (wan OUTPUT) phone_got  relay -> alice (lan INPUT)
    relay_p2p   alice -> relay ports, reaching the gateway's stack (gw INPUT)
    relay_p2r   bob -> relay ports, reaching the gateway's stack (gw INPUT)
    The fast path redirects the packets it forwards before netfilter sees
    them, so relay_* count exactly what reached the userspace relay.
    """

    NAMES = ("phone_sent", "bob_got", "bob_sent", "phone_got", "relay_p2p", "relay_p2r")

    def __init__(self, counter, topo):
        ports = "%d:%d" % RELAY_PORTS
        self.phone_sent = counter(topo.lan, None, src=ALICE.ip, sport=ALICE.media,
                                  dst=LAN_GW, chain="OUTPUT")
        self.bob_sent = counter(topo.wan, None, src=BOB.ip, sport=BOB.media,
                                dst=GW_PUBLIC, chain="OUTPUT")
        self.bob_got = flows.relay_counter(counter, topo, BOB)
        self.phone_got = flows.relay_counter(counter, topo, ALICE)
        self.relay_p2p = counter(topo.gw, ports, src=ALICE.ip, sport=ALICE.media, dst=LAN_GW)
        self.relay_p2r = counter(topo.gw, ports, src=BOB.ip, sport=BOB.media, dst=GW_PUBLIC)

    def read(self):
        return {k: getattr(self, k).packets() for k in self.NAMES}


def started(smq, mark=0, timeout=10):
    """Wait until the daemon's log, after offset mark, has its 'ready'
    line (the fixture may return earlier, as soon as SIP is bound: before
    the engine is attached and saved calls are adopted). Returns smq."""
    try:
        netns.wait_for(lambda: " ready: " in smq.log()[mark:] or not smq.alive(),
                       timeout, what="sipmasq's ready line")
    except TimeoutError:
        raise AssertionError("sipmasq not ready:\n" + smq.log()[mark:][-4000:])
    assert smq.alive(), smq.log()[mark:][-4000:]
    return smq


def register(sipp, topology):
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()


def start_call(sipp, topology, tmp_path, packets=SHORT_PKTS, call_ms=SHORT_CALL_MS,
               timeout=20):
    """alice calls bob through sipmasq with `packets` packets of audio
    (30 ms apart) and hangs up after call_ms; returns (uac, uas)."""
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), packets)
    uas = flows.start_callee(sipp, topology, BOB, timeout=timeout)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=call_ms,
                             timeout=timeout)
    return uac, uas


def finish_call(uac, uas):
    """Wait for both sipps; assert they succeeded; return (Call-ID, UAC
    result, UAS result)."""
    uac_res, uas_res = flows.finished_ok(uac, uas)
    return flows.first_sent(uac_res, "INVITE").call_id, uac_res, uas_res


def wait_streams(smq, pin_dir, timeout=8, min_packets=1):
    """Wait until the map holds both RTP directions of the call (alice's
    and bob's media sources) with min_packets forwarded each; return
    (entries, private->public entry, public->private entry)."""
    got = {}

    def ready():
        entries = kernel.dump_streams(pin_dir) or []
        p2p = [e for e in entries if (e["src"], e["src_port"]) == (ALICE.ip, ALICE.media)]
        p2r = [e for e in entries if (e["src"], e["src_port"]) == (BOB.ip, BOB.media)]
        got.update(entries=entries, p2p=p2p, p2r=p2r)
        return (len(p2p) == 1 and len(p2r) == 1 and p2p[0]["packets"] >= min_packets
                and p2r[0]["packets"] >= min_packets) or not smq.alive()
    try:
        netns.wait_for(ready, timeout, interval=0.1, what="kernel entries of the call")
    except TimeoutError:
        raise AssertionError("no kernel entries for the call after %ds: %s\nlog:\n%s"
                             % (timeout, got.get("entries"), smq.log()[-4000:]))
    assert smq.alive(), smq.log()[-4000:]
    return got["entries"], got["p2p"][0], got["p2r"][0]


def ifindex(ns, ifname):
    out = netns.run_in(ns, ["ip", "-o", "link", "show", ifname]).stdout
    return int(out.split(":", 1)[0])


def in_range(port):
    return RELAY_PORTS[0] <= port <= RELAY_PORTS[1]


def check_entries(topology, entries, p2p, p2r):
    """The two RTP entries of the call describe it: relay ports of the
    range, the phone's address as the source of the private->public one,
    each rewriting to the other side's relay port and peer."""
    # sipp sends no RTCP, so no RTCP source is ever latched: 2 entries.
    assert len(entries) == 2, entries
    assert (p2p["dst"], p2p["src"]) == (LAN_GW, ALICE.ip), p2p
    assert in_range(p2p["dst_port"]) and in_range(p2p["new_src_port"]), p2p
    assert (p2p["new_src"], p2p["new_dst"], p2p["new_dst_port"]) == \
        (GW_PUBLIC, BOB.ip, BOB.media), p2p
    assert p2p["egress_ifindex"] == ifindex(topology.gw, "gwwan"), p2p
    assert (p2r["dst"], p2r["dst_port"]) == (GW_PUBLIC, p2p["new_src_port"]), (p2p, p2r)
    assert (p2r["new_src"], p2r["new_src_port"]) == (LAN_GW, p2p["dst_port"]), (p2p, p2r)
    assert (p2r["new_dst"], p2r["new_dst_port"]) == (ALICE.ip, ALICE.media), p2r
    assert p2r["egress_ifindex"] == ifindex(topology.gw, "gwlan"), p2r
    assert p2p["family"] == p2r["family"] == 2 and p2p["flags"] == p2r["flags"] == 0


def check_map_matches_far_ends(smq, pin_dir, meters):
    """Kernel counters read during the call agree with what the far ends
    received: map(t1) <= far end(t2) <= map(t3) + PRELATCH, with
    t1 < t2 < t3 (the far end also got the packets the userspace relay
    forwarded before the latch)."""
    before = kernel.dump_streams(pin_dir)
    bob_got, phone_got = meters.bob_got.packets(), meters.phone_got.packets()
    after = kernel.dump_streams(pin_dir)

    def pkts(entries, ua):
        return kernel.find_entry(entries, src=ua.ip, src_port=ua.media)["packets"]
    for what, ua, got in (("private->public", ALICE, bob_got),
                          ("public->private", BOB, phone_got)):
        lo, hi = pkts(before, ua), pkts(after, ua)
        assert lo > 0, "%s: the kernel forwarded nothing" % what
        assert lo <= got <= hi + PRELATCH, \
            "%s: kernel counted %d..%d, far end got %d" % (what, lo, hi, got)


def check_end_counts(end, counts, engine, audio_pkts, kernel_dirs=None):
    """The 'call end' counts equal the far ends' (the audio ended before the
    BYE: nothing in flight) and say who forwarded them: kernel_dirs (default
    both for a kernel engine, none for userspace) says, per direction
    (private->public, public->private), whether the kernel must have
    carried it (True), must not have (False) or may have (None)."""
    assert end["reason"] == "bye", end
    assert end["engine"] == ENGINE_NAME.get(engine, engine), end
    # What sipp played reached the other end, and was echoed back.
    assert counts["phone_sent"] == audio_pkts, counts
    assert counts["bob_got"] == counts["phone_sent"], counts
    assert counts["phone_got"] == counts["bob_sent"] == counts["bob_got"], counts
    assert end["p2p_pkts"] == counts["bob_got"], (end, counts)
    assert end["p2r_pkts"] == counts["phone_got"], (end, counts)
    if kernel_dirs is None:
        kernel_dirs = (False, False) if engine == "userspace" else (True, True)
    for d, on in zip(("p2p", "p2r"), kernel_dirs):
        assert 0 <= end[d + "_kernel"] <= end[d + "_pkts"], (d, end)
        # What the daemon says userspace forwarded is what reached it.
        assert counts["relay_" + d] == end[d + "_pkts"] - end[d + "_kernel"], \
            (d, end, counts)
        if on:
            assert end[d + "_kernel"] > 0, (d, end)
            assert end[d + "_pkts"] - end[d + "_kernel"] <= PRELATCH, (d, end)
        elif on is not None:
            assert end[d + "_kernel"] == 0, (d, end)


# --- every engine carries a call; the kernel does the work -------------

@pytest.mark.parametrize("engine", ["xdp", "tc", "userspace"])
def test_call_on_each_engine(topology, kamailio, sipp, sipmasq, counter, tmp_path, engine):
    if engine == "xdp":
        kernel.prepare_xdp_native(topology)
    smq = started(sipmasq(**engine_config(engine)))
    pin_dir = smq.config["bpf_pin_dir"]
    lines = kernel.engine_lines(smq.log())
    if engine == "userspace":
        assert "rtp engine: userspace (rtp_engine = userspace)" in smq.log()
        assert lines == {}, lines
        assert not os.path.exists(pin_dir), "userspace engine pinned %s" % pin_dir
    else:
        want = ENGINE_NAME[engine]
        assert lines == {"gwlan": [want], "gwwan": [want]}, lines

    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path)
    if engine != "userspace":
        # The map shows the call's streams while it runs ...
        entries, p2p, p2r = wait_streams(smq, pin_dir, min_packets=10)
        check_entries(topology, entries, p2p, p2r)
        # ... and what the kernel counted is what the far ends got.
        check_map_matches_far_ends(smq, pin_dir, meters)
    callid, uac_res, uas_res = finish_call(uac, uas)
    end = smq.call_end(callid)
    counts = meters.read()
    check_end_counts(end, counts, engine, SHORT_PKTS)
    assert (end["p2p_dropped"], end["p2r_dropped"]) == (0, 0), end

    # The relay ports of the map are the ones the SDP announced.
    invite = flows.received_requests(uas_res, "INVITE")[0]
    answer = flows.received_responses(uac_res, 200, "INVITE")[0]
    if engine != "userspace":
        assert p2p["new_src_port"] == invite.sdp_audio_port(), invite.text
        assert p2p["dst_port"] == answer.sdp_audio_port(), answer.text
        # The map holds nothing once the call has ended.
        assert kernel.dump_streams(pin_dir) == [], "entries left after the call"
    else:
        assert not os.path.exists(pin_dir)


# --- strangers are not forwarded ----------------------------------------

@pytest.mark.parametrize("engine", ["tc", "xdp"])
def test_packets_from_strangers_are_dropped(topology, kamailio, sipp, sipmasq, counter,
                                            tmp_path, engine):
    """During a call, datagrams to the public relay port from a third
    address, and from the far end's address but another port, miss the
    kernel entry (its key holds the latched source) and the userspace
    relay drops them (strict source): the phone gets none, the audio goes
    on, and the call end line counts them as drops on the public side."""
    if engine == "xdp":
        kernel.prepare_xdp_native(topology)
    netns.run_in(topology.wan, ["ip", "addr", "add", THIRD + "/24", "dev", "wan0"])
    smq = started(sipmasq(**engine_config(engine)))
    pin_dir = smq.config["bpf_pin_dir"]
    register(sipp, topology)
    meters = Meters(counter, topology)
    marker = "SMQSTRANGER"
    at_phone = counter(topology.lan, None, string=marker)
    audio_pkts = 120          # 3.6 s, BYE at 4.2 s
    uac, uas = start_call(sipp, topology, tmp_path, packets=audio_pkts, call_ms=4200)
    _, _, p2r = wait_streams(smq, pin_dir, min_packets=5)
    relay_pub = p2r["dst_port"]
    # Reaching the gateway's stack (INPUT) proves they were sent and not
    # forwarded by the fast path, which bypasses the stack.
    at_gw = counter(topology.gw, relay_pub, string=marker)
    stats0 = kernel.stats(pin_dir, topology.gw)
    got0 = meters.phone_got.packets()
    n = 20
    kernel.inject(topology.wan, THIRD, BOB.media, GW_PUBLIC, relay_pub, n, marker)
    kernel.inject(topology.wan, BOB.ip, BOB.media + 99, GW_PUBLIC, relay_pub, n, marker)
    # The gateway's stack sees a packet after the fast path passed it on,
    # and the phone would have got a forwarded one before: once all are in
    # at the gateway, the counts below are final.
    netns.wait_for(lambda: at_gw.packets() >= 2 * n, 5, what="the injected packets at the gateway")
    stats1 = kernel.stats(pin_dir, topology.gw)
    assert at_gw.packets() == 2 * n, "the injected packets did not reach the gateway"
    assert at_phone.packets() == 0, "the phone received injected packets"
    assert stats1["miss"] - stats0["miss"] >= 2 * n, (stats0, stats1)
    assert meters.phone_got.packets() > got0, "audio to the phone stopped"

    callid, _, _ = finish_call(uac, uas)
    end = smq.call_end(callid)
    assert at_phone.packets() == 0
    check_end_counts(end, meters.read(), engine, audio_pkts)
    # Every injected datagram, and nothing else, was dropped.
    assert (end["p2p_dropped"], end["p2r_dropped"]) == (0, 2 * n), end


# --- fallback when XDP is taken ------------------------------------------

def test_xdp_taken_falls_back(topology, kamailio, sipp, sipmasq, counter, tmp_path):
    """rtp_engine = xdp with a foreign XDP program on gwlan: native fails
    there and gwlan steps down to tc (never generic XDP, which is used only
    when asked), while gwwan gets native XDP: engine 'mixed', the foreign
    program stays, and the call still has audio both ways."""
    kernel.prepare_xdp_native(topology)
    kernel.block_xdp(topology, "gwlan")
    smq = started(sipmasq(**engine_config("xdp")))
    lines = kernel.engine_lines(smq.log())
    lan = lines.get("gwlan", [])
    assert len(lan) == 2, lines
    assert lan[0].startswith("XDP native failed (") and \
        lan[0].endswith(", trying tc"), lan
    assert lan[1] == "tc", lan
    assert lines.get("gwwan") == ["xdp-native"], lines
    foreign = kernel.attachments(topology.gw, "gwlan")["xdp"]
    assert foreign is not None, "the foreign XDP program is gone"

    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path)
    callid, _, _ = finish_call(uac, uas)
    end = smq.call_end(callid)
    counts = meters.read()
    assert end["engine"] == "mixed", end
    # gwlan's ingress is tc: alice's packets are forwarded in the kernel.
    # bob's hit the XDP program on gwwan, which may only redirect natively
    # into interfaces it is attached to natively: gwlan is not one, so it
    # passes them to the stack (no_tx_port) and the userspace relay
    # forwards them; counted as kernel-forwarded or not, they must arrive.
    check_end_counts(end, counts, "mixed", SHORT_PKTS, kernel_dirs=(True, None))
    assert kernel.attachments(topology.gw, "gwlan")["xdp"] == foreign


def test_forced_xdp_refused_on_plain_veth(topology, kamailio, sipp, sipmasq, counter,
                                          tmp_path):
    """rtp_engine = xdp on veths nobody prepared (partial checksums from
    local senders, no XDP on the peers) would lose the media while the
    counters said forwarded: sipmasq refuses it with an error naming
    rtp_xdp_veth, uses tc, and the call's audio all arrives."""
    smq = started(sipmasq(rtp_engine="xdp"))
    lines = kernel.engine_lines(smq.log())
    for ifname in ("gwlan", "gwwan"):
        assert ("rtp engine on %s: rtp_engine = xdp refused on a veth" % ifname) in smq.log()
        assert lines.get(ifname, [])[-1:] == ["tc"], lines
    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path)
    callid, _, _ = finish_call(uac, uas)
    check_end_counts(smq.call_end(callid), meters.read(), "tc", SHORT_PKTS)


def test_auto_with_xdp_taken_uses_tc(topology, kamailio, sipp, sipmasq, counter, tmp_path):
    """rtp_engine = auto on the same setup steps down to tc on both veths
    (auto never uses XDP on veth) and the call goes through the kernel."""
    kernel.block_xdp(topology, "gwlan")
    smq = started(sipmasq(rtp_engine="auto"))
    lines = kernel.engine_lines(smq.log())
    for ifname in ("gwlan", "gwwan"):
        got = lines.get(ifname, [])
        assert len(got) == 2 and got[0].startswith("skipping XDP: veth") and \
            got[1] == "tc", lines
    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path)
    callid, _, _ = finish_call(uac, uas)
    check_end_counts(smq.call_end(callid), meters.read(), "tc", SHORT_PKTS)


# --- rtp_timeout sees kernel-forwarded audio -----------------------------

def test_kernel_forwarded_audio_keeps_call_alive(topology, kamailio, sipp, sipmasq,
                                                 counter, tmp_path):
    """With rtp_timeout = 3 s, a call whose audio goes through the kernel
    (the relay sockets see nothing) lives as long as the audio flows and
    times out once it stops: the daemon sees the kernel's packets."""
    smq = started(sipmasq(rtp_engine="tc", rtp_timeout=3))
    register(sipp, topology)
    meters = Meters(counter, topology)
    audio_pkts = 150          # 4.5 s; the UAC would hang up only at 12 s
    uac, uas = start_call(sipp, topology, tmp_path, packets=audio_pkts, call_ms=12000)
    wait_streams(smq, smq.config["bpf_pin_dir"])
    try:
        netns.wait_for(lambda: smq.call_ends(), 12, interval=0.2, what="the call to end")
    except TimeoutError:
        raise AssertionError("the call did not time out:\n" + smq.log()[-3000:])
    end = smq.call_ends()[0]
    counts = meters.read()
    uac.kill()
    uas.kill()
    assert end["reason"] == "timeout", end
    # Ended 3-4 s (timeout + the 1 s fold of the kernel counters) after the
    # audio stopped, 4.5 s after it started; if the daemon missed the
    # kernel's packets it would be ended 3-4 s after the first ones.
    assert 7 <= end["duration"] <= 9, end
    assert counts["bob_got"] == counts["phone_sent"] == audio_pkts, counts
    assert end["p2p_pkts"] == counts["bob_got"], (end, counts)
    assert end["p2p_kernel"] >= audio_pkts - PRELATCH, end


# --- restarts ------------------------------------------------------------

LONG_PKTS = 400             # 12 s of audio
LONG_CALL_MS = 12600        # BYE 0.6 s after it (uas_echo waits 15 s for it)
DOWN_S = 1.5                # how long no daemon runs
# Packets a restart may leave out of the daemon's counts: when the new
# daemon takes over an entry it rewrites it, and the kernel's counter
# carries over by read-then-write (kernel_engine_stream_put): packets
# forwarded in between are forwarded but not counted. One per takeover at
# 33 packets/s, on top of PRELATCH.
TAKEOVER = 1


def rtp_times(capture, dst, dport):
    """Timestamps of the RTP packets in capture sent by sipmasq's relay to
    dst:dport."""
    return [p.ts for p in capture.rtp_packets()
            if p.dst == dst and p.dport == dport and in_range(p.sport)]


@pytest.mark.parametrize("engine,how", [("tc", "kill9"), ("tc", "sigusr2"),
                                        ("xdp", "kill9")])
def test_restart_is_hitless(topology, kamailio, sipp, sipmasq, counter, capture,
                            tmp_path, engine, how):
    if engine == "xdp":
        kernel.prepare_xdp_native(topology)
    smq = started(sipmasq(**engine_config(engine)))
    pin_dir = smq.config["bpf_pin_dir"]
    state_file = smq.config["registration_file"] + ".calls"
    register(sipp, topology)
    meters = Meters(counter, topology)
    cap_bob = capture(topology.wan, "wan0", "far_end")
    cap_phone = capture(topology.lan, "lan0", "phone")
    uac, uas = start_call(sipp, topology, tmp_path, packets=LONG_PKTS,
                          call_ms=LONG_CALL_MS, timeout=40)
    wait_streams(smq, pin_dir, min_packets=30)
    # The call file is written at most once a second after a change.
    netns.wait_for(lambda: os.path.exists(state_file)
                   and "stream " in open(state_file).read(), 3, what="call state file")
    time.sleep(1.0)

    mark = len(smq.log())
    if how == "kill9":
        smq.stop(sig=signal.SIGKILL)
    else:
        rc = smq.stop(sig=signal.SIGUSR2, timeout=5)
        assert rc == 0, "SIGUSR2 stop rc=%s" % rc
        assert "left attached for the next sipmasq" in smq.log()[mark:]
    down_at = time.monotonic()
    assert not [e for e in smq.call_ends()], "the call ended at the stop:\n" + smq.log()[mark:]
    # Nobody runs the relay now: the kernel forwards on its own.
    before = kernel.dump_streams(pin_dir)
    assert before is not None and len(before) == 2, before
    time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
    after = kernel.dump_streams(pin_dir)
    for ua in (ALICE, BOB):
        a = kernel.find_entry(before, src=ua.ip, src_port=ua.media)["packets"]
        b = kernel.find_entry(after, src=ua.ip, src_port=ua.media)["packets"]
        assert b - a >= 20, "kernel forwarded %d packets of %s in %.1fs without daemon" \
            % (b - a, ua.user, DOWN_S)

    mark = len(smq.log())
    started(smq.start(), mark)
    callid, _, _ = finish_call(uac, uas)
    log2 = smq.log()[mark:]
    assert "call adopted: Call-ID=%s " % callid in log2, log2[-4000:]
    assert "1 call(s) adopted" in log2, log2[-4000:]

    ends = [e for e in smq.call_ends() if e["callid"] == callid]
    assert len(ends) == 1, smq.log()[-4000:]
    end = ends[0]
    counts = meters.read()
    # Wire: everything sipp played arrived, and was echoed back.
    assert counts["phone_sent"] == LONG_PKTS, counts
    assert counts["bob_got"] == counts["phone_sent"], counts
    assert counts["phone_got"] == counts["bob_sent"] == counts["bob_got"], counts
    # The daemon's count includes the packets forwarded while none ran.
    assert end["reason"] == "bye" and end["engine"] == ENGINE_NAME[engine], end
    for d, got in (("p2p", counts["bob_got"]), ("p2r", counts["phone_got"])):
        assert got - TAKEOVER <= end[d + "_pkts"] <= got, (d, end, counts)
        assert end[d + "_kernel"] >= got - PRELATCH - TAKEOVER, (d, end, counts)
        # The userspace relay saw only the packets before the latch: none
        # while no daemon ran, none during the takeover. (A counter lost in
        # the takeover is missing from both _pkts and _kernel.)
        assert counts["relay_" + d] <= PRELATCH, (d, counts)
        assert end[d + "_pkts"] - end[d + "_kernel"] == counts["relay_" + d], \
            (d, end, counts)

    # No silence: the longest gap between two packets reaching either end
    # stays far below the time the daemon was away (packets are 30 ms apart;
    # 1 s allows for a busy 2-core machine delaying sipp's sender).
    for what, cap, dst, dport in (("far end", cap_bob, BOB.ip, BOB.media),
                                  ("phone", cap_phone, ALICE.ip, ALICE.media)):
        times = rtp_times(cap, dst, dport)
        assert len(times) == counts["bob_got" if dst == BOB.ip else "phone_got"], \
            (what, len(times), counts)
        gap = kernel.max_gap(times)
        assert gap < 1.0, "%s: %.2fs without audio; per 0.5 s: %s" % (
            what, gap, kernel.gap_report(times, min(times)))
    assert kernel.dump_streams(pin_dir) == []
    # The adopting daemon's clean stop also removes what its predecessor
    # attached and pinned.
    assert smq.stop() == 0
    assert not os.path.exists(pin_dir), os.listdir(pin_dir)
    for ifname in ("gwlan", "gwwan"):
        assert kernel.attachments(topology.gw, ifname) == {"xdp": None, "tc": []}, ifname


def test_restart_keeps_call_duration(topology, kamailio, sipp, sipmasq, tmp_path):
    """The 'call end' line of a call that survived a restart gives the
    call's whole duration, not the time since the restart."""
    smq = started(sipmasq(rtp_engine="tc"))
    register(sipp, topology)
    uac, uas = start_call(sipp, topology, tmp_path, packets=180, call_ms=6000)
    wait_streams(smq, smq.config["bpf_pin_dir"], min_packets=30)
    time.sleep(1.2)        # the call file is written at most once a second
    assert smq.stop(sig=signal.SIGUSR2) == 0
    time.sleep(0.5)
    mark = len(smq.log())
    started(smq.start(), mark)
    callid, _, _ = finish_call(uac, uas)
    assert "call adopted: Call-ID=%s " % callid in smq.log()[mark:]
    end = smq.call_end(callid)
    assert end["reason"] == "bye", end
    # INVITE to BYE took 6.0x s; counted from the restart it would be about
    # 3. Whole seconds, rounded down, in the log and in the call file (the
    # call's age is saved in seconds): 5 or 6.
    assert 5 <= end["duration"] <= 7, end


def test_clean_stop_detaches_and_unpins(topology, kamailio, sipp, sipmasq, counter,
                                        tmp_path):
    """SIGTERM during a call on the tc engine: the call ends ('shutdown'),
    the programs leave both interfaces, the pin directory is removed and
    the kernel forwards nothing more."""
    smq = started(sipmasq(rtp_engine="tc"))
    pin_dir = smq.config["bpf_pin_dir"]
    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path, packets=200, call_ms=6600)
    wait_streams(smq, pin_dir, min_packets=10)
    for ifname in ("gwlan", "gwwan"):
        assert kernel.attachments(topology.gw, ifname)["tc"], ifname
    assert smq.stop() == 0
    ends = smq.call_ends()
    assert len(ends) == 1 and ends[0]["reason"] == "shutdown", smq.log()[-3000:]
    assert not os.path.exists(pin_dir), os.listdir(pin_dir)
    for ifname in ("gwlan", "gwwan"):
        assert kernel.attachments(topology.gw, ifname) == {"xdp": None, "tc": []}, ifname
    still = meters.bob_got.packets()
    sent = meters.phone_sent.packets()
    # Not a fixed wait: 10 more packets from the phone that nothing forwards.
    netns.wait_for(lambda: meters.phone_sent.packets() > sent + 10, 5,
                   what="the phone to send 10 more packets")
    assert meters.bob_got.packets() == still, "packets still forwarded after SIGTERM"
    uac.kill()
    uas.kill()


def test_userspace_after_kernel_removes_leftover(topology, kamailio, sipp, sipmasq, counter,
                                                 tmp_path):
    """Issue 13 item 5: a daemon that hands its fast path over (SIGUSR2)
    and is followed by one with rtp_engine = userspace: the new daemon
    detaches and unpins what the old one left (else the pinned program goes
    on forwarding old tuples ahead of it), and the adopted call's audio goes
    on through the userspace relay."""
    smq = started(sipmasq(rtp_engine="tc"))
    pin_dir = smq.config["bpf_pin_dir"]
    state_file = smq.config["registration_file"] + ".calls"
    register(sipp, topology)
    meters = Meters(counter, topology)
    uac, uas = start_call(sipp, topology, tmp_path, packets=200, call_ms=6600, timeout=30)
    wait_streams(smq, pin_dir, min_packets=20)
    netns.wait_for(lambda: os.path.exists(state_file)
                   and "stream " in open(state_file).read(), 3, what="call state file")
    time.sleep(1.0)
    assert smq.stop(sig=signal.SIGUSR2, timeout=5) == 0
    for ifname in ("gwlan", "gwwan"):
        assert kernel.attachments(topology.gw, ifname)["tc"], ifname
    relay_before = meters.read()

    smq.config["rtp_engine"] = "userspace"
    mark = len(smq.log())
    started(smq.start(), mark)
    log2 = smq.log()[mark:]
    assert "removed the fast path an earlier sipmasq left" in log2, log2[-3000:]
    assert not os.path.exists(pin_dir), os.listdir(pin_dir)
    for ifname in ("gwlan", "gwwan"):
        assert kernel.attachments(topology.gw, ifname) == {"xdp": None, "tc": []}, ifname
    callid, _, _ = finish_call(uac, uas)
    assert "call adopted: Call-ID=%s " % callid in smq.log()[mark:]
    end = [e for e in smq.call_ends() if e["callid"] == callid][-1]
    counts = meters.read()
    assert end["engine"] == "userspace", end
    # After the purge, the userspace relay carried the rest of the call.
    assert counts["relay_p2p"] - relay_before["relay_p2p"] >= 50, (relay_before, counts)
    assert counts["relay_p2r"] - relay_before["relay_p2r"] >= 50, (relay_before, counts)
    assert counts["bob_got"] >= counts["phone_sent"] - 5, counts
    assert smq.stop() == 0
