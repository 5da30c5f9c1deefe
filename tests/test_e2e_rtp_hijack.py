"""RTP injection ("RTP Bleed"): third hosts spray the relay's whole port
range during a live call, before and after the parties latch.

alice (lan) calls bob (wan, echoing RTP) through sipmasq; bob rings for
RING_MS first, so both relay legs are open and unlatched for a while. From
before the INVITE until after the BYE, a host on each side (198.51.100.3 in
the wan namespace, 10.0.0.3 in the lan namespace) sends RTP carrying a
marker to every port of rtp_port_low..rtp_port_high of the relay's address
on its side, with one steady SSRC (what would win a naive latch). The test
checks, per engine (userspace, tc):

  - the call's audio reaches both parties through the relay;
  - no sprayed datagram reaches alice or bob (iptables string match);
  - sipmasqctl shows the sprayers counted as foreign on both sides while
    ringing (before any latch) and more once both sides are latched, and
    the total in `stats`; on tc the kernel passed them up as misses.
"""

import os
import sys

import pytest

from lib import flows, kernel, netns, skips
from lib import sipmasq as smqlib
from lib.flows import ALICE, BOB, GW_PUBLIC, RELAY_PORTS

WAN_SPRAYER = "198.51.100.3"    # an extra address of the wan namespace
LAN_SPRAYER = "10.0.0.3"        # carol's address: no party of this call
LAN_GW = "10.0.0.1"
MARKER = "SMQSPRAY"
RING_MS = 3000
AUDIO_PKTS = 150                # 4.5 s of audio
CALL_MS = 5500                  # BYE after the audio

# Sends RTP (version 2, PCMA, SSRC 0x5eed5eed, payload starting with the
# marker) from SRC to every port LOW..HIGH of DST, a round every 20 ms,
# for SECONDS.
_SPRAY = r'''
import socket, struct, sys, time
src, dst, low, high, seconds, marker = sys.argv[1:7]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
end = time.monotonic() + float(seconds)
seq = 0
while time.monotonic() < end:
    for port in range(int(low), int(high) + 1):
        pkt = struct.pack("!BBHII", 0x80, 8, seq & 0xffff, (seq * 160) & 0xffffffff,
                          0x5eed5eed) + marker.encode().ljust(160, b".")
        try:
            s.sendto(pkt, (dst, port))
        except OSError:
            pass
    seq += 1
    time.sleep(0.02)
'''


def spray(procs, ns, src, dst, seconds, tmp_path, name):
    """Start a sprayer in ns; returns its Proc (it stops by itself)."""
    return procs.start(ns, [sys.executable, "-c", _SPRAY, src, dst, str(RELAY_PORTS[0]),
                            str(RELAY_PORTS[1]), str(seconds), MARKER],
                       os.path.join(str(tmp_path), name + ".log"), name=name)


def legs(smq):
    """(private leg, public leg) of the only stream of the only call in
    sipmasqctl calls, or None while there is none."""
    calls = smq.ctl("calls")["calls"]
    if len(calls) != 1 or not calls[0]["streams"]:
        return None
    s = calls[0]["streams"][0]
    return s["private"], s["public"]


@pytest.mark.parametrize("engine", ["userspace", "tc"])
def test_spray_during_call(topology, kamailio, sipp, sipmasq, counter, procs, tmp_path,
                           engine):
    missing = skips.kernel_engine_missing(smqlib.binary())
    if engine != "userspace" and missing:
        pytest.skip(missing)
    netns.run_in(topology.wan, ["ip", "addr", "add", WAN_SPRAYER + "/24", "dev", "wan0"])
    smq = sipmasq(rtp_engine=engine)
    assert smq.ctl("stats")["engine"] == engine
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    marked_wan = counter(topology.wan, None, string=MARKER)
    marked_lan = counter(topology.lan, None, string=MARKER)

    seconds = (RING_MS + CALL_MS) / 1000.0 + 4
    sprayers = [spray(procs, topology.wan, WAN_SPRAYER, GW_PUBLIC, seconds, tmp_path,
                      "spray_wan"),
                spray(procs, topology.lan, LAN_SPRAYER, LAN_GW, seconds, tmp_path,
                      "spray_lan")]
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), AUDIO_PKTS)
    uas = sipp.start_server(topology.wan, "uas_echo_ring", BOB.ip, BOB.port,
                            media_port=BOB.media, rtp_echo=True, duration_ms=RING_MS,
                            timeout=30)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=CALL_MS, timeout=30)

    # Ringing: both legs open, neither latched, both sprayed.
    ringing = {}

    def sprayed_unlatched():
        lg = legs(smq)
        if lg and not lg[0]["latched"] and not lg[1]["latched"]:
            ringing["legs"] = lg
            return lg[0]["foreign"] > 0 and lg[1]["foreign"] > 0
        return False
    netns.wait_for(sprayed_unlatched, RING_MS / 1000.0 + 2, interval=0.1,
                   what="foreign packets counted on both unlatched legs: %s" % ringing)
    # Talking: both latched, the sprayers still counted.
    before = ringing["legs"]
    talking = {}

    def sprayed_latched():
        lg = legs(smq)
        talking["legs"] = lg
        return bool(lg) and all(lg[i]["latched"] and lg[i]["foreign"] > before[i]["foreign"]
                                for i in (0, 1))
    netns.wait_for(sprayed_latched, RING_MS / 1000.0 + 8, interval=0.1,
                   what="foreign packets on both latched legs: %s" % talking)
    peers = (talking["legs"][0]["peer"], talking["legs"][1]["peer"])
    assert peers == ("%s:%d" % (ALICE.ip, ALICE.media), "%s:%d" % (BOB.ip, BOB.media)), peers

    uac_res, _ = flows.finished_ok(uac, uas)
    callid = flows.first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    for p in sprayers:
        p.wait(timeout=seconds + 10)

    # Audio went both ways (bob echoes alice), nothing sprayed got through.
    # Every packet of alice's (the audio ends before the BYE), and of bob's echo.
    assert at_alice.sent() == AUDIO_PKTS, at_alice.sent()
    flows.assert_relayed(at_alice, at_bob, min_sent=AUDIO_PKTS)
    assert marked_wan.packets() == 0, "bob's side received sprayed packets"
    assert marked_lan.packets() == 0, "alice's side received sprayed packets"
    assert end["p2p_dropped"] > 0 and end["p2r_dropped"] > 0, end
    stats = smq.ctl("stats")
    counted = talking["legs"][0]["foreign"] + talking["legs"][1]["foreign"]
    assert stats["rtp_foreign_dropped"] >= counted, (stats, talking)
    if engine == "tc":
        assert stats["kernel_reasons"]["miss"] > 0, stats
        assert end["p2p_kernel"] > 0 and end["p2r_kernel"] > 0, end


# The far party's media address differs from its SIP address (a provider SBC
# with separate media addresses): its leg latches in NAT mode.
BOB_MEDIA_IP = "198.51.100.4"

# A sprayer made to beat latching by SSRC alone: four source ports of SRC
# sending RTP with one SSRC to every port LOW..HIGH of DST, each port one
# packet in turn and then a burst of 3 from the first, a round every 20 ms.
_SPRAY_ROTATING = r'''
import socket, struct, sys, time
src, dst, low, high, seconds, marker = sys.argv[1:7]
socks = []
for _ in range(4):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    socks.append(s)
end = time.monotonic() + float(seconds)
seq = 0
while time.monotonic() < end:
    for port in range(int(low), int(high) + 1):
        for s in socks + [socks[0]] * 2:
            pkt = struct.pack("!BBHII", 0x80, 8, seq & 0xffff, (seq * 160) & 0xffffffff,
                              0x5eed5eed) + marker.encode().ljust(160, b".")
            seq += 1
            try:
                s.sendto(pkt, (dst, port))
            except OSError:
                pass
    time.sleep(0.02)
'''


@pytest.mark.parametrize("engine", ["userspace", "tc"])
def test_spray_nat_mode_media_address(topology, kamailio, sipp, sipmasq, counter, procs,
                                      tmp_path, engine):
    """Issue 13 item 1: bob's SDP names a second address of the far end (not
    the one his SIP comes from), so his leg latches in NAT mode; a third host
    sprays rotating source ports from before the INVITE until after the BYE.
    Bob's exact SDP address latches at once: his audio reaches alice, alice's
    reaches him, nothing sprayed reaches either, the sprayer gets nothing."""
    if engine != "userspace" and not kernel.have_tool():
        pytest.skip("sipmasq built without the kernel engine")
    for ip in (WAN_SPRAYER, BOB_MEDIA_IP):
        netns.run_in(topology.wan, ["ip", "addr", "add", ip + "/24", "dev", "wan0"])
    smq = sipmasq(rtp_engine=engine)
    assert smq.ctl("stats")["engine"] == engine
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    at_bob = counter(topology.wan, BOB.media, src=GW_PUBLIC, dst=BOB_MEDIA_IP,
                     sport="%d:%d" % RELAY_PORTS)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_sprayer = counter(topology.wan, None, src=GW_PUBLIC, dst=WAN_SPRAYER)
    marked_wan = counter(topology.wan, None, string=MARKER)
    marked_lan = counter(topology.lan, None, string=MARKER)

    seconds = (RING_MS + CALL_MS) / 1000.0 + 4
    sprayer = procs.start(topology.wan,
                          [sys.executable, "-c", _SPRAY_ROTATING, WAN_SPRAYER, GW_PUBLIC,
                           str(RELAY_PORTS[0]), str(RELAY_PORTS[1]), str(seconds), MARKER],
                          os.path.join(str(tmp_path), "spray_rotating.log"),
                          name="spray_rotating")
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), AUDIO_PKTS)
    uas = sipp.start_server(topology.wan, "uas_pcap_ring", BOB.ip, BOB.port,
                            media_ip=BOB_MEDIA_IP, media_port=BOB.media,
                            duration_ms=RING_MS, timeout=30)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=CALL_MS, timeout=30)
    talking = {}

    def both_latched():
        lg = legs(smq)
        talking["legs"] = lg
        return bool(lg) and lg[0]["latched"] and lg[1]["latched"] and lg[1]["foreign"] > 0
    netns.wait_for(both_latched, RING_MS / 1000.0 + 6, interval=0.1,
                   what="both legs latched, the sprayer counted: %s" % talking)
    lg = talking["legs"]
    uac_res, _ = flows.finished_ok(uac, uas)
    callid = flows.first_sent(uac_res, "INVITE").call_id
    end = smq.call_end(callid)
    sprayer.wait(timeout=seconds + 10)

    assert lg[1]["peer"] == "%s:%d" % (BOB_MEDIA_IP, BOB.media), lg
    assert lg[0]["peer"] == "%s:%d" % (ALICE.ip, ALICE.media), lg
    assert at_alice.packets() >= AUDIO_PKTS - 5, at_alice.packets()
    assert at_bob.packets() >= AUDIO_PKTS - 5, at_bob.packets()
    assert at_sprayer.packets() == 0, "the sprayer received the call's audio"
    assert marked_wan.packets() == 0, "bob's side received sprayed packets"
    assert marked_lan.packets() == 0, "alice's side received sprayed packets"
    if engine == "tc":
        assert end["p2p_kernel"] > 0 and end["p2r_kernel"] > 0, end


# Sends N RTP datagrams carrying MARKER from a forged source SRC:SPORT to
# DST:DPORT through a raw socket (the kernel fills the IPv4 checksum; UDP
# checksum 0 = none), one every 20 ms.
_SPOOF = r'''
import socket, struct, sys, time
src, sport, dst, dport, n, marker = sys.argv[1:7]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for seq in range(int(n)):
    pay = struct.pack("!BBHII", 0x80, 8, seq, seq * 160, 0x5eed5eed) + marker.encode().ljust(160, b".")
    udp = struct.pack("!HHHH", int(sport), int(dport), 8 + len(pay), 0) + pay
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
    time.sleep(0.02)
'''


@pytest.mark.parametrize("engine", ["userspace", "tc"])
def test_spoofed_lan_source_from_wan(topology, kamailio, sipp, sipmasq, counter, procs,
                                     tmp_path, engine):
    """Issue 13 item 2: during a latched call, a host on the WAN sends to
    alice's private relay port with alice's own LAN address and port as the
    source (rp_filter off on the gateway, as on many routers). Neither the
    kernel entry (which matches the tuple) nor the userspace socket may relay
    it: it arrived on the wrong interface. Nothing marked reaches bob; the
    kernel counts it as wrong_ingress and the leg as foreign."""
    if engine != "userspace" and not kernel.have_tool():
        pytest.skip("sipmasq built without the kernel engine")
    for key in ("all", "default", "gwwan", "gwlan"):
        netns.run_in(topology.gw, ["sysctl", "-q", "-w", "net.ipv4.conf.%s.rp_filter=0" % key])
    netns.run_in(topology.wan, ["ip", "route", "add", "10.0.0.0/24", "via", GW_PUBLIC])
    smq = sipmasq(rtp_engine=engine)
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    marked_wan = counter(topology.wan, None, src=GW_PUBLIC, string=MARKER)
    marked_lan = counter(topology.lan, None, string=MARKER)
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), AUDIO_PKTS)
    uas = flows.start_callee(sipp, topology, BOB, timeout=30)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB),
                             scenario="uac_call_pcap", duration_ms=CALL_MS, timeout=30)
    latched = {}

    def both_latched():
        lg = legs(smq)
        latched["legs"] = lg
        return bool(lg) and lg[0]["latched"] and lg[1]["latched"]
    netns.wait_for(both_latched, 8, interval=0.1, what="both legs latched: %s" % latched)
    priv = latched["legs"][0]
    relay_port = int(priv["relay"].split(":")[1])
    assert priv["peer"] == "%s:%d" % (ALICE.ip, ALICE.media), priv
    spoof = procs.start(topology.wan,
                        [sys.executable, "-c", _SPOOF, ALICE.ip, str(ALICE.media), LAN_GW,
                         str(relay_port), "50", MARKER],
                        os.path.join(str(tmp_path), "spoof.log"), name="spoof")
    spoof.wait(timeout=15)
    lg = legs(smq)
    stats = smq.ctl("stats")
    uac_res, _ = flows.finished_ok(uac, uas)

    assert marked_wan.packets() == 0, "bob received the spoofed packets"
    assert marked_lan.packets() == 0
    assert at_bob.packets() >= AUDIO_PKTS - 5, at_bob.packets()
    assert lg and lg[0]["foreign"] >= 50, lg
    if engine == "tc":
        assert stats["kernel_reasons"]["wrong_ingress"] >= 50, stats
