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
