"""SDP-directed destinations (issue 13 item 3): whoever sends an SDP body
chooses where the relay sends the other party's audio. A far-end caller
(erin, in the wan namespace, through Kamailio) calls alice, who answers
and talks (tests/sipp/uas_pcap_ring.xml); erin's SDP names a victim instead
of herself (tests/sipp/uac_call_sdp_to.xml) and she never sends RTP. The
relay must send none of alice's audio to:

  - a LAN host (carol's address) from the public leg;
  - a WAN host that never proves itself by sending (the public leg is in
    NAT mode: its SDP address is not where its SIP came from), with the
    userspace and the tc engine (the kernel entry is not installed either);
  - the gateway's own public address at its SIP port.

Each victim's arrivals are counted with an iptables rule.
"""

import os

import pytest

from lib import flows, kernel, netns
from lib.flows import ALICE, ERIN, GW_PUBLIC, RELAY_PORTS

AUDIO_PKTS = 100     # 3 s of alice's audio
CALL_MS = 4000

# victim name -> (namespace attribute, address, port, chain)
VICTIMS = {
    "lan_host": ("lan", "10.0.0.3", 6100, "INPUT"),
    "wan_reflection": ("wan", "198.51.100.5", 6500, "INPUT"),
    "gateway_sip": ("gw", GW_PUBLIC, 5060, "OUTPUT"),
}


@pytest.mark.parametrize("victim,engine", [("lan_host", "userspace"),
                                           ("wan_reflection", "userspace"),
                                           ("wan_reflection", "tc"),
                                           ("gateway_sip", "userspace")])
def test_sdp_cannot_aim_audio(topology, kamailio, sipp, sipmasq, counter, tmp_path,
                              victim, engine):
    if engine != "userspace" and not kernel.have_tool():
        pytest.skip("sipmasq built without the kernel engine")
    side, ip, port, chain = VICTIMS[victim]
    ns = getattr(topology, side)
    if victim == "wan_reflection":
        netns.run_in(topology.wan, ["ip", "addr", "add", ip + "/24", "dev", "wan0"])
    smq = sipmasq(rtp_engine=engine)
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    at_victim = counter(ns, port, dst=ip, sport="%d:%d" % RELAY_PORTS, chain=chain)
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), AUDIO_PKTS)
    uas = sipp.start_server(topology.lan, "uas_pcap_ring", ALICE.ip, ALICE.port,
                            media_port=ALICE.media, duration_ms=200, timeout=30)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, scenario="uac_call_sdp_to",
                             duration_ms=CALL_MS, timeout=30,
                             extra=["-key", "sdp_ip", ip, "-key", "sdp_port", str(port)])
    latched = {}

    def alice_latched():
        calls = smq.ctl("calls")["calls"]
        if len(calls) == 1 and calls[0]["streams"]:
            latched["legs"] = calls[0]["streams"][0]
            return latched["legs"]["private"]["latched"]
        return False
    netns.wait_for(alice_latched, 8, interval=0.1, what="alice's leg latched: %s" % latched)
    flows.finished_ok(uac, uas)
    legs = latched["legs"]
    assert legs["public"]["sdp"] == "%s:%d" % (ip, port), legs
    assert not legs["public"]["latched"], legs
    assert legs["private"]["rx_packets"] > 0, legs
    assert at_victim.packets() == 0, "%s received alice's audio" % victim
