"""Where an incoming request for a registered phone goes (issue 11, section
2, items 1 and 4), end to end.

The rule (docs/how-it-works.md, "Incoming requests"): the phone's live
connection while the TCP connection its REGISTER came on is open (RFC 5626
flows); else its Contact; the address its REGISTER came from only where a
NAT sits between the phone and sipmasq (the source address is not the
Contact's host) or where the Contact asks for its flow (;ob). siproxd, the
oracle, sends to the Contact (measured: a REGISTER from port 5099 with a
Contact on 5060 rings the phone on 5060; over TCP it connects to the
Contact).

Without the smqid token of a masqueraded Contact (a registration file
inherited from siproxd, a provider that drops Contact parameters) the
request is matched by its To AOR, then its Request-URI AOR, against the
bindings' AORs; user@sipmasq's-address alone still finds nobody
(test_e2e_hostile's svwar test).

tests/data/siproxd_registrations is a registration_file written by siproxd
0.8.5dev itself (alice and carol registered through it at this topology's
Kamailio, then SIGTERM); the test moves its expiry times to now.
"""

import json
import os
import re
import subprocess
import time

import pytest

from lib import flows, netns
from lib.flows import ALICE, CAROL, DOMAIN, ERIN, GW_PUBLIC, OUTBOUND_PROXY, REGISTRAR
from lib.sipmasq import binary as smq_binary

SIPSTREAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "sipstream.py")
SIPROXD_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "siproxd_registrations")
SHORT_CALL_MS = 500


def register_contact(sipp, topology, ua, sport, contact, transport="u1", via_sipmasq=True):
    """REGISTER ua's AOR at Kamailio from ua.ip:sport with Contact `contact`."""
    ns = ua.ns(topology)
    return sipp.run(ns, "register_contact", ua.ip, sport, REGISTRAR,
                    rsa=OUTBOUND_PROXY if via_sipmasq else None, transport=transport,
                    keys={"user": ua.user, "domain": DOMAIN, "expires": 600,
                          "contact": contact})


def call_from_far_end(sipp, topology, callee):
    """erin calls callee's AOR through Kamailio; returns the SippRun."""
    return flows.start_caller(sipp, topology, ERIN, callee.aor, duration_ms=SHORT_CALL_MS,
                              timeout=10)


def tcp_listening(ns, ip, port):
    out = netns.run_in(ns, ["ss", "-H", "-ltn"], check=False).stdout
    return any(line.split()[3] in ("%s:%d" % (ip, port), "0.0.0.0:%d" % port, "*:%d" % port)
               for line in out.splitlines() if len(line.split()) >= 4)


@pytest.mark.parametrize("host", ["10.0.0.2", "alice-phone.lan"], ids=["address", "name"])
def test_phone_registering_from_another_port_rings(topology, kamailio, sipp, sipmasq, host):
    """A phone whose REGISTER leaves from port 5099 and whose Contact says
    5060 (the port it listens on) is rung on 5060, as siproxd does. A host
    name in the Contact (that no DNS knows here) stands for the address the
    REGISTER came from."""
    sipmasq()
    reg = register_contact(sipp, topology, ALICE, 5099, "sip:alice@%s:5060" % host)
    assert reg.ok, reg.describe()
    uas = flows.start_callee(sipp, topology, ALICE, timeout=10)
    uac = call_from_far_end(sipp, topology, ALICE)
    _, uas_res = flows.finished_ok(uac, uas)
    assert flows.received_requests(uas_res, "INVITE")[0].ruri == "sip:alice@%s:5060" % host


def test_phone_behind_its_own_nat_is_reached_at_the_source(topology, kamailio, sipp, sipmasq):
    """A phone behind a NAT of its own (its Contact names an address that
    is not where its REGISTER came from) is reached where the REGISTER came
    from: the Contact's address is unreachable from sipmasq."""
    sipmasq()
    reg = register_contact(sipp, topology, ALICE, 5099, "sip:alice@192.168.77.7:5060")
    assert reg.ok, reg.describe()
    uas = sipp.start_server(topology.lan, "uas_echo", ALICE.ip, 5099,
                            media_port=ALICE.media, rtp_echo=True, timeout=10)
    uac = call_from_far_end(sipp, topology, ALICE)
    flows.finished_ok(uac, uas)


def test_tcp_phone_rings_after_its_connection_closed(topology, kamailio, sipp, sipmasq):
    """A TCP phone registers over a connection that closes afterwards (sipp
    exits); an incoming call opens a new connection to its Contact (as
    siproxd does), not to the closed connection's ephemeral port."""
    smq = sipmasq()
    reg = register_contact(sipp, topology, ALICE, 5099,
                           "sip:alice@10.0.0.2:5060;transport=tcp", transport="t1")
    assert reg.ok, reg.describe()
    assert "TCP message received" in reg.trace, reg.describe()
    uas = sipp.start(topology.lan, "uas_echo", ALICE.ip, 5060, None, transport="t1",
                     media_port=ALICE.media, rtp_echo=True, timeout=10)
    netns.wait_for(lambda: tcp_listening(topology.lan, ALICE.ip, 5060), 5,
                   what="the TCP phone to listen")
    uac = call_from_far_end(sipp, topology, ALICE)
    _, uas_res = flows.finished_ok(uac, uas)
    assert "TCP message received" in uas_res.trace
    assert "Connection refused" not in smq.log()


def test_tcp_phone_rings_over_its_open_connection(topology, kamailio, sipp, sipmasq):
    """While the registering connection is open, the incoming INVITE comes
    over it (RFC 5626 flow), even though the Contact names a port where
    nothing listens."""
    sipmasq()
    register = ("REGISTER sip:%s SIP/2.0\r\n"
                "Via: SIP/2.0/TCP 10.0.0.2:5077;branch=z9hG4bK-flow1;rport\r\n"
                "From: <sip:alice@%s>;tag=flow1\r\nTo: <sip:alice@%s>\r\n"
                "Call-ID: flow1@10.0.0.2\r\nCSeq: 1 REGISTER\r\n"
                "Contact: <sip:alice@10.0.0.2:5077;transport=tcp>\r\nExpires: 600\r\n"
                "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % ((DOMAIN,) * 3))
    steps = [["open", "phone"], ["send", "phone", register],
             ["recv", "phone", "\r\n\r\n", 5], ["recv", "phone", "INVITE sip:", 10]]
    phone = subprocess.Popen(netns.ns_argv(topology.lan, ["python3", SIPSTREAM, "10.0.0.1",
                                                          "5060"]),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    phone.stdin.write(json.dumps(steps))
    phone.stdin.close()
    try:
        netns.wait_for(lambda: kamailio.active_contacts("alice"), 5,
                       what="alice's registration")
        uac = call_from_far_end(sipp, topology, ALICE)
        phone.wait(timeout=20)
        out = phone.stdout.read()
        uac.kill()
    finally:
        if phone.poll() is None:
            phone.kill()
    res = json.loads(out)
    assert res[2]["data"].startswith("SIP/2.0 200"), res
    assert res[3]["data"].startswith("INVITE sip:alice@10.0.0.2:5077"), res


@pytest.mark.parametrize("ruri, to", [
    ("sip:alice@%s:5060" % GW_PUBLIC, ALICE.aor),        # Contact parameters dropped
    ("sip:4930123@%s" % GW_PUBLIC, ALICE.aor),           # dialled number, To the AOR
    (ALICE.aor, "sip:4930123@%s" % DOMAIN),              # the AOR in the Request-URI
], ids=["params-dropped", "dialled-number", "aor-in-ruri"])
def test_request_without_token_found_by_aor(topology, kamailio, sipp, sipmasq, ruri, to):
    """Requests without the smqid token of sipmasq's Contact, as providers
    send them: found by the To AOR, else the Request-URI AOR (as siproxd
    does). The call rings alice."""
    sipmasq()
    assert flows.register(sipp, topology, ALICE).ok
    uas = flows.start_callee(sipp, topology, ALICE, timeout=10)
    uac = sipp.start(topology.wan, "uac_call_ruri", ERIN.ip, ERIN.port, "%s:5060" % GW_PUBLIC,
                     keys={"to": to, "from_user": ERIN.user, "domain": DOMAIN, "ruri": ruri},
                     media_port=ERIN.media, duration_ms=SHORT_CALL_MS, timeout=10)
    _, uas_res = flows.finished_ok(uac, uas)
    assert flows.received_requests(uas_res, "INVITE")[0].ruri == "sip:alice@10.0.0.2:5060"


def siproxd_file(path, expires_in=600):
    """tests/data/siproxd_registrations with its active slots' expiry moved
    to now + expires_in; written to path."""
    until = int(time.time()) + expires_in
    with open(SIPROXD_FILE) as f:
        text = re.sub(r"(?m)^\*\*\*\*:1:\d+$", "****:1:%d" % until, f.read())
    with open(path, "w") as f:
        f.write(text)


def test_siproxd_registration_file_imported(topology, kamailio, sipp, sipmasq, tmp_path):
    """sipmasq takes over siproxd's registration_file: both phones are
    known at start (one log line, no warnings), and a call that the
    provider sends to the Contact siproxd registered there rings each phone
    without it registering again. When alice does register again, siproxd's
    Contact goes from the provider."""
    path = str(tmp_path / "siproxd_registrations")
    siproxd_file(path)
    smq = sipmasq(registration_file=path)
    log = smq.log()
    assert "2 registration(s) restored" in log, log[-3000:]
    assert "unreadable registration line" not in log, log[-3000:]
    regs = smq.ctl("registrations")["registrations"]
    assert sorted((r["aor"], r["contact"]) for r in regs) == [
        ("sip:alice@198.51.100.2", "sip:alice@10.0.0.2:5060"),
        ("sip:carol@198.51.100.2", "sip:carol@10.0.0.3:5060")], regs

    # What siproxd left at the provider: its masqueraded Contact, no token.
    for ua in (ALICE, CAROL):
        res = sipp.run(topology.wan, "register_contact", ERIN.ip, 5095, REGISTRAR,
                       keys={"user": ua.user, "domain": DOMAIN, "expires": 600,
                             "contact": "sip:%s@%s" % (ua.user, GW_PUBLIC)})
        assert res.ok, res.describe()
    for ua in (ALICE, CAROL):
        uas = flows.start_callee(sipp, topology, ua, timeout=10)
        uac = call_from_far_end(sipp, topology, ua)
        _, uas_res = flows.finished_ok(uac, uas)
        assert flows.received_requests(uas_res, "INVITE")[0].ruri == \
            "sip:%s@%s:5060" % (ua.user, ua.ip)
        flows.wait_unbound(topology, ua)

    # alice registers through sipmasq: its REGISTER also removes siproxd's
    # Contact, so the provider does not fork each call to both.
    assert flows.register(sipp, topology, ALICE).ok
    contacts = kamailio.active_contacts("alice")
    assert len(contacts) == 1 and ";smqid=" in contacts[0], contacts
    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE, timeout=10)
    _, uas_res = flows.finished_ok(call_from_far_end(sipp, topology, ALICE), uas)
    assert len(flows.received_requests(uas_res, "INVITE")) == 1


def test_registrations_exported_for_siproxd(topology, kamailio, sipp, sipmasq, tmp_path):
    """Rollback: `sipmasq --export-registrations=siproxd` rewrites
    registration_file in siproxd's format (512 slots, '****:active:expires'
    then true, masqueraded and registered URL); sipmasq reads it back with
    the same smqid tokens, so the provider's Contacts still reach the
    phones."""
    smq = sipmasq()
    assert flows.register(sipp, topology, ALICE).ok
    token = smq.ctl("registrations")["registrations"][0]["smqid"]
    smq.stop()
    path = smq.config["registration_file"]
    res = netns.run_in(topology.gw, [smq_binary(), "-c", smq.conf_path,
                                     "--export-registrations=siproxd"], check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(path) as f:
        lines = f.read().splitlines()
    slots = [i for i, line in enumerate(lines) if line.startswith("****:")]
    assert len(slots) == 512, lines[:10]
    active = [i for i in slots if lines[i].startswith("****:1:")]
    assert len(active) == 1, lines[:10]
    i = active[0]
    assert int(lines[i].split(":")[2]) > time.time() + 500, lines[i]
    assert lines[i + 1:i + 4] == ["sip:alice@10.0.0.2:5060",
                                  "sip:alice@%s;smqid=%s" % (GW_PUBLIC, token),
                                  "sip:alice@%s" % DOMAIN], lines[i:i + 4]

    smq.start()
    regs = smq.ctl("registrations")["registrations"]
    assert [r["smqid"] for r in regs] == [token], regs
    uas = flows.start_callee(sipp, topology, ALICE, timeout=10)
    uac = call_from_far_end(sipp, topology, ALICE)
    flows.finished_ok(uac, uas)
