"""siproxd's documented setups (its manual: on the firewall, in front of a NAT
router, transparent, a PBX behind), each run with siproxd and with sipmasq
from the same siproxd.conf."""

from compat import harness, steps
from lib import netns
from lib.flows import ALICE, CAROL, REGISTRAR, UA

# A PBX in the LAN with its trunk on port 5080 (not 5060).
PBX = UA("lan", "10.0.0.3", 5080, 6500, "pbx")


def test_standard(compat):
    """siproxd on the masquerading gateway: phones register through it at
    the provider, call out and in with audio; nothing private on the wire."""
    compat.run(steps.standard, conf=harness.base_conf())


def test_nat_router(compat):
    """In front of a NAT router: one interface (if_inbound = if_outbound),
    host_outbound = the router's public address, the router forwarding 5060
    and the relay ports to the proxy (scripts/topology.sh up-nat)."""
    compat.run(steps.standard, conf=harness.base_conf("nat"), layout="nat")


def transparent(rig):
    """The phones know nothing of the proxy: they send to the registrar, and
    an iptables REDIRECT on the gateway hands their SIP to the proxy."""
    netns.run_in(rig.topo.gw, ["iptables", "-w", "5", "-t", "nat", "-A", "PREROUTING",
                               "-i", "gwlan", "-p", "udp", "--dport", "5060",
                               "-j", "REDIRECT", "--to-ports", "5060"])
    cap = rig.capture()
    if steps.register(rig, via_proxy=False):
        for ua in (ALICE, CAROL):
            steps.wait_free(rig, ua)
        calls = [steps.call_out(rig, via_proxy=False, remote=REGISTRAR), steps.call_in(rig)]
        for c in calls:
            c.check()
    rig.leak_check(cap)


def test_transparent(compat):
    compat.run(transparent, conf=harness.base_conf())


def pbx(rig):
    """A PBX in the LAN (port 5080) registers its trunk through the proxy,
    then places a call out and takes a call in on that trunk."""
    cap = rig.capture()
    if steps.register(rig, uas=(PBX,)):
        steps.wait_free(rig, PBX)
        steps.call_out(rig, ua=PBX).check()
        steps.wait_free(rig, PBX)
        steps.call_in(rig, ua=PBX).check()
    rig.leak_check(cap)


def test_pbx_behind(compat):
    compat.run(pbx, conf=harness.base_conf())
