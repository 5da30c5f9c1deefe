"""Where sipmasq sends requests from the private side (outbound_proxy_host,
outbound_domain_*) and who may talk to it at all (hosts_allow_reg,
hosts_allow_sip, hosts_deny_sip).

The phones REGISTER for a domain that resolves nowhere (example.test), so
the registration only reaches Kamailio when sipmasq picks an outbound proxy.
"""

import re
import subprocess

from lib import flows
from lib.flows import ALICE, BOB, CAROL, ERIN, OUTBOUND_PROXY, REGISTRAR
from lib.sipmasq import binary

FOREIGN = "example.test"       # resolves nowhere: only an outbound proxy helps
UNLISTED = "unlisted.test"     # not in any outbound_domain_name either

# sipmasq's public Contact for a phone: sip:USER@198.51.100.1:5060;smqid=TOKEN
PUBLIC_CONTACT = re.compile(r"^sip:(?P<user>[^@]+)@198\.51\.100\.1:5060;(?:[^;]*;)*?"
                            r"smqid=(?P<token>[^;>\s]+)")


def register_at(sipp, topology, ua, domain, timeout=10):
    """REGISTER sip:USER@DOMAIN (Request-URI sip:DOMAIN) through sipmasq."""
    return sipp.run(ua.ns(topology), "register", ua.ip, ua.port, REGISTRAR,
                    rsa=OUTBOUND_PROXY,
                    keys={"user": ua.user, "domain": domain, "expires": 600},
                    timeout=timeout)


def registered_publicly(kamailio, user):
    contacts = kamailio.active_contacts(user)
    return bool(contacts) and all(PUBLIC_CONTACT.match(c) for c in contacts)


def refused_unresolvable(res):
    """The REGISTER to FOREIGN got sipmasq's answer for a name it cannot
    resolve: 404 when a DNS server says the name does not exist, 503 when
    no DNS server answers (the gateway namespace reaches none)."""
    return (flows.received_responses(res, 404, "REGISTER") or
            flows.received_responses(res, 503, "REGISTER"))


def kamailio_saw(kamailio, text):
    with open(kamailio.log_path, "rb") as f:
        return text in f.read().decode("utf-8", "replace")


def test_outbound_proxy_host(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(outbound_proxy_host="198.51.100.2")
    res = register_at(sipp, topology, ALICE, FOREIGN)
    assert res.ok, res.describe()
    assert registered_publicly(kamailio, "alice"), kamailio.location()
    # Only the destination changed, not the Request-URI.
    assert kamailio_saw(kamailio, "request REGISTER sip:%s from 198.51.100.1" % FOREIGN), \
        kamailio.output()[-3000:]
    assert "to outbound proxy 198.51.100.2:5060" in smq.log()


def test_without_outbound_proxy_foreign_domain_fails(topology, kamailio, sipp, sipmasq):
    sipmasq()
    res = register_at(sipp, topology, ALICE, FOREIGN, timeout=5)
    assert not res.ok, res.describe()
    assert refused_unresolvable(res), res.describe()
    assert kamailio.active_contacts("alice") == [], kamailio.location()


def test_outbound_proxy_port(topology, kamailio, sipp, sipmasq):
    # Nobody listens on 198.51.100.2:5099: the REGISTER goes unanswered,
    # which shows the port is used (and the Request-URI host is not).
    sipmasq(outbound_proxy_host="198.51.100.2", outbound_proxy_port="5099")
    res = register_at(sipp, topology, ALICE, FOREIGN, timeout=3)
    assert not res.ok, res.describe()
    assert not flows.received_responses(res, None, "REGISTER"), res.describe()
    assert kamailio.active_contacts("alice") == [], kamailio.location()


def test_outbound_domain(topology, kamailio, sipp, sipmasq):
    # Matched case-insensitively on the From host; it wins over the outbound
    # proxy, which here points where nobody answers.
    smq = sipmasq(outbound_domain_name="Example.TEST", outbound_domain_host="198.51.100.2",
                  outbound_domain_port="5060", outbound_proxy_host="198.51.100.2",
                  outbound_proxy_port="5099")
    res = register_at(sipp, topology, ALICE, FOREIGN)
    assert res.ok, res.describe()
    assert registered_publicly(kamailio, "alice"), kamailio.location()
    assert kamailio_saw(kamailio, "request REGISTER sip:%s from 198.51.100.1" % FOREIGN)

    # A domain not listed goes to the outbound proxy (unanswered here).
    res = register_at(sipp, topology, CAROL, UNLISTED, timeout=3)
    assert not res.ok, res.describe()
    assert not flows.received_responses(res, None, "REGISTER"), res.describe()
    assert kamailio.active_contacts("carol") == [], kamailio.location()
    assert "to outbound proxy 198.51.100.2:5099" in smq.log()


def test_outbound_domain_unlisted_without_proxy(topology, kamailio, sipp, sipmasq):
    sipmasq(outbound_domain_name="other.test", outbound_domain_host="198.51.100.2",
            outbound_domain_port="5060")
    res = register_at(sipp, topology, ALICE, FOREIGN, timeout=5)
    assert refused_unresolvable(res), res.describe()
    assert kamailio.active_contacts("alice") == [], kamailio.location()
    res = register_at(sipp, topology, CAROL, "other.test")
    assert res.ok, res.describe()
    assert registered_publicly(kamailio, "carol"), kamailio.location()


def test_hosts_deny_sip(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(hosts_deny_sip="192.0.2.0/24, 10.0.0.3/32")
    res = flows.register(sipp, topology, CAROL, timeout=3)
    assert not res.ok, res.describe()
    assert not flows.received_responses(res), "a refused REGISTER got an answer:\n" + \
        res.describe()
    assert kamailio.active_contacts("carol") == [], kamailio.location()
    assert re.search(r"access denied: REGISTER from 10\.0\.0\.3:5060 refused by "
                     r"hosts_deny_sip", smq.log()), smq.log()[-4000:]

    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    assert registered_publicly(kamailio, "alice"), kamailio.location()


def test_hosts_allow_reg(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(hosts_allow_reg="10.0.0.2")
    res = flows.register(sipp, topology, CAROL, timeout=3)
    assert not res.ok, res.describe()
    assert not flows.received_responses(res), res.describe()
    assert kamailio.active_contacts("carol") == [], kamailio.location()
    assert re.search(r"access denied: REGISTER from 10\.0\.0\.3:5060 refused by "
                     r"hosts_allow_reg", smq.log()), smq.log()[-4000:]
    assert flows.register(sipp, topology, ALICE).ok

    # hosts_allow_sip is empty: carol may still call out.
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, CAROL, flows.uri_of(BOB))
    uac_res, uas_res = flows.finished_ok(uac, uas)


def test_hosts_allow_sip_refuses_public_side(topology, kamailio, sipp, sipmasq):
    # allow_sip = the LAN only: a call from the public side is dropped, and
    # an address allowed to register (allow_reg) may also send other requests.
    smq = sipmasq(hosts_allow_sip="10.0.0.3/32", hosts_allow_reg="10.0.0.2/32")
    assert flows.register(sipp, topology, ALICE).ok
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
    assert uac.result().ok
    assert uas.result().ok
    # Kamailio relays erin's INVITE to alice's public contact: dropped.
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, timeout=4)
    uac_res = uac.result()
    assert not uac_res.ok, uac_res.describe()
    assert not flows.received_responses(uac_res, 200, "INVITE"), uac_res.describe()
    assert re.search(r"access denied: INVITE from 198\.51\.100\.2:\d+ refused by "
                     r"hosts_allow_sip", smq.log()), smq.log()[-4000:]


def _conf(tmp_path, lines):
    path = tmp_path / "bad.conf"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_mismatched_outbound_domain_lists_exit_2(tmp_path):
    lines = [
        "if_inbound = lo",
        "if_outbound = lo",
        "sip_listen_port = 5999",
        "outbound_domain_name = a.test",
        "outbound_domain_host = 192.0.2.1",
        "outbound_domain_port = 5060",
        "outbound_domain_name = b.test",      # line 7: no host, no port
    ]
    path = _conf(tmp_path, lines)
    proc = subprocess.run([binary(), "--foreground", "-c", path], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2, proc
    assert "%s:7: outbound_domain_name 'b.test' (entry 2)" % path in proc.stderr, proc.stderr


def test_bad_acl_exit_2(tmp_path):
    lines = [
        "if_inbound = lo",
        "if_outbound = lo",
        "sip_listen_port = 5999",
        "hosts_allow_sip = 10.0.0.0/8, 10.1.0.0/40",
    ]
    path = _conf(tmp_path, lines)
    proc = subprocess.run([binary(), "--foreground", "-c", path], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2, proc
    assert "%s:4: " % path in proc.stderr and "10.1.0.0/40" in proc.stderr, proc.stderr
