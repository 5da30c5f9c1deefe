"""Access lists, outbound proxies and SIP over TCP, each run with siproxd and
with sipmasq from the same siproxd.conf."""

import pytest

from compat import harness, steps
from lib import netns
from lib.flows import ALICE, BOB, CAROL, DOMAIN

# The provider's domain resolves (siproxd looks up every REGISTER's domain)
# to a host that is not there: only the configured next hop reaches Kamailio.
ETC = {"resolv.conf": "nameserver 127.0.0.1\n",   # nothing leaves for a DNS
       "hosts": "127.0.0.1 localhost\n198.51.100.9 provider.test\n"}


# --- access lists ----------------------------------------------------------

def acl_scenario(rig, acl):
    """ALICE (10.0.0.2) is always let in; CAROL (10.0.0.3) is kept out by
    the list: her REGISTER never reaches the registrar (hosts_allow_reg,
    hosts_deny_sip), or her INVITE never reaches the callee
    (hosts_allow_sip without her: siproxd still takes her REGISTER)."""
    conf = harness.base_conf()
    conf.update(acl)
    if not (rig.start_proxy(conf).started and steps.register(rig, uas=(ALICE,))):
        return
    codes = steps.probe_register(rig, user=CAROL.user, ua=CAROL, wait=1.0)
    carol_bound = rig.kam.active_contacts(CAROL.user)
    steps.wait_free(rig, ALICE)
    if "hosts_allow_sip" in acl:
        rig.outcome.add("carol_register", bool(carol_bound),
                        "answers %s, registrar %s" % (codes, carol_bound or "none"))
        uas = steps.start_callee(rig, BOB, timeout=4)
        uac = steps.start_caller(rig, CAROL, "sip:bob@%s:%d" % (BOB.ip, BOB.port), timeout=3)
        got = [m.code for m in uac.result().received() if m.code]
        reached = bool(uas.kill().received())
        rig.outcome.add("carol_invite_refused", not reached,
                        "callee %s, answers to carol %s" % (
                            "reached" if reached else "not reached", got or "none"))
    else:
        rig.outcome.add("carol_register_refused", not carol_bound,
                        "answers %s, registrar %s" % (codes, carol_bound or "none"))
    steps.wait_free(rig, BOB)
    steps.call_out(rig).check()


ACLS = {
    "hosts_allow_reg": {"hosts_allow_reg": "10.0.0.2/32"},
    "hosts_deny_sip": {"hosts_deny_sip": "10.0.0.3/32"},
    "hosts_allow_sip": {"hosts_allow_sip": "10.0.0.2/32,198.51.100.0/24"},
}


@pytest.mark.parametrize("acl", sorted(ACLS))
def test_access_list(compat, acl):
    compat.run(lambda rig: acl_scenario(rig, ACLS[acl]))


# --- outbound proxies --------------------------------------------------------

def via_outbound_proxy(rig, conf, domain):
    """Phones register at `domain`, whose address (the gateway's
    /etc/hosts, no DNS) has no registrar: REGISTERs must go to the
    configured next hop, Kamailio; a call goes out (through Kamailio when
    outbound_proxy_host says so) and one comes in."""
    if not rig.start_proxy(conf, etc_netns=rig.etc_netns(ETC)).started:
        return
    if steps.register(rig, domain=domain):
        for ua in (ALICE, CAROL):
            steps.wait_free(rig, ua)
        calls = [steps.call_out(rig), steps.call_in(rig)]
        for c in calls:
            c.check()
        relayed = "request INVITE sip:bob@" in rig.kam.output()
        if conf.get("outbound_proxy_host"):
            rig.outcome.add("call_out_via_outbound_proxy", relayed, "Kamailio %s the INVITE "
                            "to bob" % ("relayed" if relayed else "never saw"))


def test_outbound_proxy(compat):
    conf = harness.base_conf()
    conf.update({"outbound_proxy_host": "198.51.100.2", "outbound_proxy_port": "5060"})
    compat.run(lambda rig: via_outbound_proxy(rig, conf, "provider.test"))


def test_outbound_domain(compat):
    conf = harness.base_conf()
    conf.update({"outbound_domain_name": "provider.test",
                 "outbound_domain_host": "198.51.100.2", "outbound_domain_port": "5060"})
    compat.run(lambda rig: via_outbound_proxy(rig, conf, "provider.test"))


# --- SIP over TCP ----------------------------------------------------------

def tcp_listening(ns, ip, port):
    out = netns.run_in(ns, ["ss", "-H", "-ltn"], check=False).stdout
    return any(line.split()[3] == "%s:%d" % (ip, port) for line in out.splitlines()
               if len(line.split()) >= 4)


def start_tcp_callee(rig, ua):
    """A UAS listening on TCP ua.ip:ua.port with RTP echo. It rings 200 ms
    before it answers: siproxd loses the second of two SIP messages that
    arrive in one TCP read (180 and 200 sent back to back, seen on a loaded
    machine), which is not what these scenarios compare."""
    uas = rig.sipp.start(ua.ns(rig.topo), "uas_echo_ring", ua.ip, ua.port, None,
                         media_port=ua.media, rtp_echo=True, timeout=8, transport="t1",
                         duration_ms=200)
    netns.wait_for(lambda: tcp_listening(ua.ns(rig.topo), ua.ip, ua.port)
                   or not uas.proc.alive(), 5, what="sipp to listen on TCP")
    return uas


def tcp_call(rig, name, caller, callee, to, transport):
    """A call to a TCP callee (the caller on `transport`); records `name`."""
    at_caller = steps.relay_counter(rig, caller)
    at_callee = steps.relay_counter(rig, callee)
    uas = start_tcp_callee(rig, callee)
    uac = steps.start_caller(rig, caller, to, transport=transport)
    u, s = uac.result(), uas.result()
    a, b = at_caller.packets(), at_callee.packets()
    invites = [m for m in s.received() if m.method == "INVITE"]
    codes = [m.code for m in u.received() if m.code]
    rig.outcome.add(name + "_answered", invites and 200 in codes,
                    "callee got %d INVITE(s), caller got %s" % (len(invites), codes or "none"))
    rig.outcome.add(name, u.ok and s.ok and a >= steps.MIN_RTP and b >= steps.MIN_RTP,
                    "caller rc=%s answers=%s, callee (TCP) rc=%s, rtp at caller %d at callee %d"
                    % (u.rc, [m.code for m in u.received() if m.code] or "none", s.rc, a, b))


def register_tcp(rig, port):
    """ALICE registers over TCP from `port`, Contact :5060;transport=tcp."""
    res = steps.start_register(rig, ALICE, scenario="register_contact_port", transport="t1",
                               port=port,
                               keys={"contact_port": "%d;transport=tcp" % ALICE.port})
    return steps.check_registered(rig, {ALICE: res})


def tcp_phone_call_in(rig):
    """A phone on TCP registers (Contact :5060;transport=tcp) over a
    connection from another port, which then closes; an incoming call must
    reach it over a new connection to its Contact."""
    if register_tcp(rig, 5062):
        tcp_call(rig, "call_in", steps.ERIN, ALICE, "sip:alice@%s" % DOMAIN, "u1")


@pytest.mark.defect("11.1")
def test_tcp_phone_call_in(compat):
    compat.run(tcp_phone_call_in, conf=harness.base_conf(), siproxd_fails={
        "call_in": "siproxd's 200 OK toward the caller carries a Contact without "
                   ";transport=tcp, so ACK and BYE arrive over UDP and go on to the phone "
                   "over UDP, where it does not listen: the phone times out"})


def tcp_phone_call_out(rig):
    """A phone on TCP calls a far end that takes TCP only, with a
    Request-URI that names no transport: siproxd keeps the phone's
    transport for the next hop."""
    if register_tcp(rig, ALICE.port):
        steps.wait_free(rig, ALICE)
        tcp_call(rig, "call_out", ALICE, BOB, "sip:bob@%s:%d" % (BOB.ip, BOB.port), "t1")


@pytest.mark.defect("11.6")
def test_tcp_phone_call_out(compat):
    why = ("a Request-URI that names no transport means UDP (RFC 3263 4.1): sipmasq does "
           "not carry the phone's TCP over to the next hop, since siproxd's way leaves a "
           "TCP phone unable to reach a UDP-only peer; outbound_proxy_transport = tcp or "
           ";transport=tcp selects TCP (docs/siproxd-migration.md)")
    compat.run(tcp_phone_call_out, conf=harness.base_conf(),
               deliberate={"call_out_answered": why, "call_out": why})
