"""if_outbound = ppp0 before pppd is up, and a PPP reconnect: sipmasq
starts, answers 408 while the interface is missing or has no address,
carries on when it appears, and after a reconnect (a new interface: new ifindex, new
address) follows it, the kernel engine included.

Measured on siproxd 0.8.5dev in this topology: it starts with a missing
if_outbound, answers a REGISTER 408 ("can't find interface ppp0"), and
registers once the interface exists; without an address on it, 408 too
(once its 5 s address cache notices), 200 when the address is back; after
an address change it shows the new address in the Contact. (SIGUSR1 kills it; sipmasq ignores it.)

The topology's public veth (gwwan) stands in for ppp0: renamed away before
the start, renamed to ppp0 when "pppd" comes up; the reconnect deletes it
and makes a new veth pair ppp0 <-> wan0, with a new gateway address."""

import subprocess

from lib import flows, netns
from lib.flows import ALICE, BOB, MIN_RTP, RELAY_PORTS

NEW_PUBLIC = "198.51.100.7"


def ip(ns, *args):
    subprocess.run(["ip", "-n", ns] + list(args), check=True, capture_output=True, timeout=10)


def ifindex(ns, name):
    out = subprocess.run(["ip", "-n", ns, "-o", "link", "show", name], check=True,
                         capture_output=True, text=True, timeout=10).stdout
    return int(out.split(":")[0])


def register(sipp, topology):
    return sipp.run(ALICE.ns(topology), "register", ALICE.ip, ALICE.port, flows.REGISTRAR,
                    rsa=flows.OUTBOUND_PROXY,
                    keys={"user": ALICE.user, "domain": flows.DOMAIN, "expires": 600},
                    timeout=6)


def test_ppp0_missing_then_up_then_reconnected(topology, kamailio, sipp, sipmasq, counter):
    gw, wan = topology.gw, topology.wan
    ip(gw, "link", "set", "gwwan", "down")
    ip(gw, "link", "set", "gwwan", "name", "pppwait")
    smq = sipmasq(if_outbound="ppp0")
    assert "interface 'ppp0' (if_outbound) does not exist yet" in smq.log()

    # Down: every request answered 408, nothing forwarded.
    res = register(sipp, topology)
    assert flows.received_responses(res, 408, "REGISTER"), res.describe()
    assert kamailio.active_contacts("alice") == []

    # pppd is up: the interface appears, service resumes.
    ip(gw, "link", "set", "pppwait", "name", "ppp0")
    ip(gw, "link", "set", "ppp0", "up")
    netns.wait_for(lambda: "public interface ppp0: address 198.51.100.1" in smq.log(), 5,
                   what="sipmasq to see ppp0")
    res = register(sipp, topology)
    assert res.ok, res.describe()
    assert any("@198.51.100.1:" in c for c in kamailio.active_contacts("alice")), \
        kamailio.location()

    # The link loses its address (siproxd, measured: 408 once its 5 s
    # address cache notices, 200 again when the address is back).
    mark = len(smq.log())
    ip(gw, "addr", "flush", "dev", "ppp0")
    netns.wait_for(lambda: "WARNING: public interface ppp0 has no IPv4 address"
                   in smq.log()[mark:], 8,
                   what="sipmasq to notice the lost address")
    res = register(sipp, topology)
    assert flows.received_responses(res, 408, "REGISTER"), res.describe()
    mark = len(smq.log())
    ip(gw, "addr", "add", "198.51.100.1/24", "dev", "ppp0")
    netns.wait_for(lambda: "public interface ppp0: address 198.51.100.1" in smq.log()[mark:], 5,
                   what="sipmasq to see the address again")
    res = register(sipp, topology)
    assert res.ok, res.describe()

    # Reconnect: a new ppp0 (new ifindex) with a new address.
    old = ifindex(gw, "ppp0")
    ip(gw, "link", "del", "ppp0")
    ip(gw, "link", "add", "ppp0", "type", "veth", "peer", "name", "wan0", "netns", wan)
    ip(wan, "addr", "add", "198.51.100.2/24", "dev", "wan0")
    ip(wan, "link", "set", "wan0", "up")
    ip(gw, "addr", "add", NEW_PUBLIC + "/24", "dev", "ppp0")
    ip(gw, "link", "set", "ppp0", "up")
    netns.wait_for(lambda: "public interface ppp0: address %s" % NEW_PUBLIC in smq.log(), 8,
                   what="sipmasq to follow the new ppp0")
    new = ifindex(gw, "ppp0")
    assert new != old
    assert "public interface ppp0: index %d" % new in smq.log(), smq.log()[-3000:]
    res = register(sipp, topology)
    assert res.ok, res.describe()
    assert any("@%s:" % NEW_PUBLIC in c for c in kamailio.active_contacts("alice")), \
        kamailio.location()

    # A call after the reconnect: media both ways, forwarded by the kernel
    # engine on the new interface (an entry still naming the old ifindex
    # would lose every packet toward the public side).
    bob_got = counter(wan, BOB.media, src=NEW_PUBLIC, sport="%d:%d" % RELAY_PORTS)
    alice_got = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
    uac_res, _ = flows.finished_ok(uac, uas)
    end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
    assert bob_got.packets() >= MIN_RTP, (bob_got.packets(), end)
    assert alice_got.packets() >= MIN_RTP, (alice_got.packets(), end)
    if end["engine"] != "userspace":
        assert end["p2p_kernel"] > 0 and end["p2r_kernel"] > 0, end
