"""Per-domain outbound proxies with two real registrars (seed scenario 5):
outbound_domain_name/host/port send the phones of one.test to the Kamailio
on 198.51.100.2 and those of two.test to a second Kamailio on 198.51.100.3;
each registrar then reaches its phone through sipmasq, with audio."""

from lib import flows, netns
from lib.flows import ALICE, CAROL, ERIN, OUTBOUND_PROXY
from lib.kamailio import Kamailio

SECOND = "198.51.100.3"
DOMAINS = {"one.test": "198.51.100.2", "two.test": SECOND}


def register_for(sipp, topology, ua, domain, registrar):
    return sipp.run(ua.ns(topology), "register", ua.ip, ua.port, "%s:5060" % registrar,
                    rsa=OUTBOUND_PROXY,
                    keys={"user": ua.user, "domain": domain, "expires": 600}, timeout=10)


def test_two_domains_two_registrars(topology, kamailio, procs, tmp_path, sipp, sipmasq,
                                    counter):
    netns.run_in(topology.wan, ["ip", "addr", "add", SECOND + "/24", "dev", "wan0"])
    second = Kamailio(procs, topology.wan, tmp_path, addr=SECOND, name="kamailio2").start()
    smq = sipmasq(outbound_domain_name=list(DOMAINS),
            outbound_domain_host=list(DOMAINS.values()),
            outbound_domain_port=["5060"] * len(DOMAINS))

    # The Request-URI names only the domain (which resolves nowhere): the
    # From host picks the registrar.
    for ua, domain in ((ALICE, "one.test"), (CAROL, "two.test")):
        res = register_for(sipp, topology, ua, domain, DOMAINS[domain])
        assert res.ok, res.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert kamailio.active_contacts("carol") == [], kamailio.location()
    assert second.active_contacts("carol"), second.location()
    assert second.active_contacts("alice") == [], second.location()
    for c in second.active_contacts("carol"):
        assert c.startswith("sip:carol@198.51.100.1:5060;") and "smqid=" in c, c

    # A call from outside through the second registrar reaches carol.
    at_carol = flows.relay_counter(counter, topology, CAROL)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = flows.start_callee(sipp, topology, CAROL)
    uac = flows.start_caller(sipp, topology, ERIN, "sip:carol@%s:5060" % SECOND)
    uac_res, _ = flows.finished_ok(uac, uas)
    # Erin's SDP address (198.51.100.2) is not where its INVITE came from
    # (the second registrar, 198.51.100.3): its leg latches in NAT mode,
    # where media from the exact SDP address and port latches at once
    # (kmod-free-fallback/latch.h): nothing is lost.
    flows.assert_relayed(at_carol, at_erin)   # carol echoes
    end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
    assert (end["p2p_dropped"], end["p2r_dropped"]) == (0, 0), end
