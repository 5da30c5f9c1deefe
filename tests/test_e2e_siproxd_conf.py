"""A siproxd.conf that siproxd loads must load and work: lines that
sipmasq once refused with exit status 2 (issue 11, 2.5) and siproxd's
defaults and small semantics (2.6), each checked end to end.

Measured on siproxd 0.8.5dev in the same topology: it starts with
`rtp_timeout = 0`, `registration_file =`, `hosts_allow_reg = NAME/32`
(NAME resolved at each check, a name that does not resolve matching
nothing), and without default_expires a REGISTER without expiry reaches
Kamailio with 3600 s."""

import os

from lib import flows
from lib.flows import ALICE, BOB, CAROL

# The gateway's own hosts file: the phone's name, no DNS server at all
# (nothing listens on 127.0.0.1:53 in the namespace).
HOSTS = "127.0.0.1 localhost\n10.0.0.2 alice-phone.lan.test\n"
RESOLV = "nameserver 127.0.0.1\n"


def test_siproxd_lines_load_and_work(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(etc_files={"hosts": HOSTS, "resolv.conf": RESOLV},
                  rtp_timeout=0,
                  registration_file="",
                  hosts_allow_reg="alice-phone.lan.test/32, nowhere.invalid/32",
                  default_expires=None,          # siproxd's default: 3600
                  log_calls=None,
                  load_plugin="plugin_logcall.la")
    log = smq.log()
    assert "ERROR" not in log, log[-3000:]
    assert "access list: alice-phone.lan.test is 10.0.0.2" in log, log[-3000:]
    assert "host name 'nowhere.invalid' not resolved yet" in log, log[-3000:]

    # alice's address is named in hosts_allow_reg: she may register, and a
    # REGISTER without expiry gets siproxd's default_expires, 3600.
    res = sipp.run(topology.lan, "register_noexpires", ALICE.ip, ALICE.port, flows.REGISTRAR,
                   rsa=flows.OUTBOUND_PROXY,
                   keys={"user": ALICE.user, "domain": flows.DOMAIN})
    assert res.ok, res.describe()
    sent = [c for aor, cs in kamailio.location().items() if aor.startswith("alice")
            for c in cs]
    assert sent and all(3500 < c["expires"] <= 3600 for c in sent), sent
    # carol's is not: refused, never registered.
    res = flows.register(sipp, topology, CAROL, timeout=5)
    assert not res.ok, res.describe()
    assert kamailio.active_contacts("carol") == [], kamailio.location()

    # load_plugin = plugin_logcall.la: call start and end are logged.
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1000)
    uac_res, _ = flows.finished_ok(uac, uas)
    cid = flows.first_sent(uac_res, "INVITE").call_id
    assert smq.call_end(cid)["reason"] == "bye"

    # registration_file = (empty): nothing saved.
    assert not [f for f in os.listdir(smq.dir) if f.startswith("registrations")], \
        os.listdir(smq.dir)
