"""Name resolution of next hops (RFC 3263) with a real DNS server, and the
SIP loop never waiting for it.

dnsmasq runs in the wan namespace (198.51.100.2:53) and sipmasq uses it
through dns_server. The phones send to sipmasq as their outbound proxy,
with Request-URIs naming hosts without a port, so sipmasq looks up
_sip._udp.<host> SRV records, then A records:

  _sip._udp.example.test  prio 5  -> registrar.example.test:5060 (Kamailio)
                          prio 10 -> dead.example.test:5099 (nobody there)
  example.test A 198.51.100.99 (nobody there: only SRV finds Kamailio)
  _sip._udp.bob.test      -> bobhost.example.test:5070 (bob's sipp UAS)
  proxy.example.test, pub.example.test: A records only
  self.example.test: no SRV record, A record = sipmasq's public address
  nowhere.test: NXDOMAIN; slow.test: forwarded to a server that never answers
"""

import re

import pytest

from lib import flows, netns
from lib.dnsmasq import Dnsmasq, SilentDns
from lib.dnsstub import DnsStub
from lib.flows import ALICE, BOB, CAROL, OUTBOUND_PROXY, REGISTRAR

DNS_IP = "198.51.100.2"
SILENT_PORT = 5399
NOBODY = "198.51.100.99"

HOSTS = {
    "registrar.example.test": "198.51.100.2",
    "dead.example.test": "198.51.100.2",
    "example.test": NOBODY,
    "bobhost.example.test": "198.51.100.2",
    "proxy.example.test": "198.51.100.2",
    "pub.example.test": "198.51.100.1",
    "self.example.test": "198.51.100.1",     # sipmasq's public address
}
SRV = [
    ("_sip._udp.example.test", "registrar.example.test", 5060, 5, 10),
    ("_sip._udp.example.test", "dead.example.test", 5099, 10, 10),
    ("_sip._udp.bob.test", "bobhost.example.test", 5070, 0, 0),
]


@pytest.fixture
def dns(topology, procs, tmp_path):
    silent = SilentDns(procs, topology.wan, tmp_path, DNS_IP, SILENT_PORT).start()
    server = Dnsmasq(procs, topology.wan, tmp_path, DNS_IP, HOSTS, SRV,
                     servers=[("slow.test", "%s#%d" % (DNS_IP, SILENT_PORT))]).start()
    server.silent = silent
    return server


def register_at(sipp, topology, ua, domain, timeout=10):
    """REGISTER sip:USER@DOMAIN, Request-URI sip:DOMAIN, through sipmasq."""
    return sipp.run(ua.ns(topology), "register", ua.ip, ua.port, REGISTRAR,
                    rsa=OUTBOUND_PROXY,
                    keys={"user": ua.user, "domain": domain, "expires": 600},
                    timeout=timeout)


def kamailio_saw(kamailio, text):
    with open(kamailio.log_path, "rb") as f:
        return text in f.read().decode("utf-8", "replace")


def test_srv_register_and_call(topology, kamailio, sipp, sipmasq, dns):
    smq = sipmasq(dns_server=DNS_IP)
    # SRV, lowest priority value first: Kamailio, not dead.example.test:5099
    # nor example.test's own A record.
    res = register_at(sipp, topology, ALICE, "example.test")
    assert res.ok, res.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert kamailio_saw(kamailio, "request REGISTER sip:example.test from 198.51.100.1")
    assert "U|example.test|0: 2 SRV target(s), first registrar.example.test:5060" in smq.log()
    assert "_sip._udp.example.test" in dns.output()

    # A call whose Request-URI host has an SRV record pointing at bob's port.
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, "sip:bob@bob.test")
    flows.finished_ok(uac, uas)
    assert re.search(r"DNS: U\|bob\.test\|0 is 198\.51\.100\.2:5070", smq.log()), \
        smq.log()[-4000:]


def test_outbound_proxy_host_name(topology, kamailio, sipp, sipmasq, dns):
    smq = sipmasq(dns_server=DNS_IP, outbound_proxy_host="proxy.example.test")
    res = register_at(sipp, topology, ALICE, "elsewhere.test")
    assert res.ok, res.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert kamailio_saw(kamailio, "request REGISTER sip:elsewhere.test from 198.51.100.1")
    assert "to outbound proxy proxy.example.test:5060" in smq.log()
    assert "proxy.example.test" in dns.output()


def test_nxdomain_answered_404(topology, kamailio, sipp, sipmasq, dns):
    smq = sipmasq(dns_server=DNS_IP)
    res = register_at(sipp, topology, ALICE, "nowhere.test", timeout=5)
    assert not res.ok, res.describe()
    assert flows.received_responses(res, 404, "REGISTER"), res.describe()
    assert kamailio.active_contacts("alice") == [], kamailio.location()
    assert re.search(r"next hop nowhere\.test:0: no such host .*message not forwarded",
                     smq.log()), smq.log()[-4000:]


def test_slow_dns_does_not_block_other_calls(topology, kamailio, sipp, sipmasq, dns):
    """While a lookup hangs (the DNS server of slow.test never answers),
    another phone's call with numeric addresses goes through; the hanging
    REGISTER is answered 503 once c-ares gives up.

    The log shows the order in which the single-threaded loop did things:
    the INVITE and its 200 are handled after the lookup started and before
    it failed, which a blocking lookup would make impossible."""
    smq = sipmasq(dns_server=DNS_IP)
    slow = sipp.start(CAROL.ns(topology), "register", CAROL.ip, CAROL.port, REGISTRAR,
                      rsa=OUTBOUND_PROXY,
                      keys={"user": CAROL.user, "domain": "slow.test", "expires": 600},
                      timeout=25,
                      # c-ares gives up after 1 + 2 + 4 s, more on a loaded
                      # machine: wait well past sipp's default 8 s.
                      extra=("-recv_timeout", "20000"))
    netns.wait_for(lambda: dns.silent.queries() > 0, 10,
                         what="the SRV query of slow.test to reach the silent server")

    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
    flows.finished_ok(uac, uas)

    res = slow.result()
    assert flows.received_responses(res, 503, "REGISTER"), res.describe()
    log = smq.log()
    started = log.find("next hop slow.test:0: waiting for DNS")
    failed = log.find("next hop slow.test:0: DNS did not answer")
    invite = log.find("INVITE from 10.0.0.2:5060 (private side)")
    ok = log.find("SIP/2.0 200 OK", invite)
    assert 0 <= started < invite < ok < failed, (started, invite, ok, failed, log[-6000:])


def test_host_outbound_name_followed(topology, kamailio, sipp, sipmasq, dns):
    smq = sipmasq(dns_server=DNS_IP, host_outbound="pub.example.test",
                  host_outbound_refresh=1)
    assert "host_outbound pub.example.test: address 198.51.100.1" in smq.log()
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    assert all("@198.51.100.1:5060" in c for c in kamailio.active_contacts("alice"))

    dns.set_host("pub.example.test", "198.51.100.77")
    netns.wait_for(
        lambda: "host_outbound pub.example.test: address 198.51.100.77" in smq.log(),
        15, what="sipmasq to follow the new address of host_outbound")
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    assert any("@198.51.100.77:5060" in c for c in kamailio.active_contacts("alice")), \
        kamailio.location()


def test_name_of_sipmasq_itself(topology, kamailio, sipp, sipmasq, dns):
    """No SRV record: the A record (port 5060) names sipmasq itself, which
    is found once the name resolves and answered 404, never forwarded."""
    smq = sipmasq(dns_server=DNS_IP)
    res = register_at(sipp, topology, ALICE, "self.example.test", timeout=5)
    assert flows.received_responses(res, 404, "REGISTER"), res.describe()
    assert "_sip._udp.self.example.test" in dns.output()
    assert "next hop self.example.test:0: resolves to sipmasq itself" in smq.log(), \
        smq.log()[-4000:]
    assert not kamailio_saw(kamailio, "request REGISTER sip:self.example.test")


def test_dead_dns_server_answered_503(topology, kamailio, sipp, sipmasq):
    """Nobody listens at the DNS address: the request is answered 503 with
    Retry-After (RFC 3261 16.9), and numeric next hops still work."""
    smq = sipmasq(dns_server="%s:5398" % DNS_IP)
    res = register_at(sipp, topology, ALICE, "example.test", timeout=5)
    answers = flows.received_responses(res, 503, "REGISTER")
    assert answers and answers[0].get("Retry-After"), res.describe()
    assert "next hop example.test:0: DNS did not answer in time or failed" in smq.log()
    assert flows.register(sipp, topology, CAROL).ok


def test_hosts_file_without_dns(topology, kamailio, sipp, sipmasq, procs, tmp_path):
    """The registrar is named only in the gateway's hosts file and the DNS
    server of resolv.conf never answers (a small gateway, set up the way
    siproxd, which resolves with the C library, works): files come before
    DNS, so the REGISTER reaches Kamailio at once and no query is sent."""
    silent = SilentDns(procs, topology.wan, tmp_path, DNS_IP, 53).start()
    smq = sipmasq(etc_files={
        "hosts": "127.0.0.1 localhost\n%s registrar.example.test\n" % DNS_IP,
        "resolv.conf": "nameserver %s\n" % DNS_IP})
    res = register_at(sipp, topology, ALICE, "registrar.example.test", timeout=5)
    assert res.ok, res.describe() + smq.log()[-3000:]
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert kamailio_saw(kamailio, "request REGISTER sip:registrar.example.test from 198.51.100.1")
    assert "U|registrar.example.test|0 found in the hosts file" in smq.log()
    assert silent.queries() == 0, silent.proc.output()


@pytest.mark.parametrize("srv", ["refused", "servfail", "timeout"])
def test_srv_failure_falls_back_to_a(topology, kamailio, sipp, sipmasq, procs, tmp_path, srv):
    """The DNS server fails the SRV query (REFUSED, SERVFAIL, or no answer
    at all) but answers A: the lookup goes on with the A record, port 5060
    (RFC 3263 4.2 as Kamailio and PJSIP apply it), it does not end."""
    stub = DnsStub(procs, topology.wan, tmp_path, DNS_IP, srv, DNS_IP).start()
    smq = sipmasq(dns_server=DNS_IP)
    # No answer: c-ares gives up on SRV after 1 + 2 + 4 s, then asks for A.
    res = sipp.run(ALICE.ns(topology), "register", ALICE.ip, ALICE.port, REGISTRAR,
                   rsa=OUTBOUND_PROXY,
                   keys={"user": ALICE.user, "domain": "fallback.test", "expires": 600},
                   timeout=25, extra=("-recv_timeout", "20000"))
    assert res.ok, res.describe() + smq.log()[-3000:]
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert kamailio_saw(kamailio, "request REGISTER sip:fallback.test from 198.51.100.1")
    assert stub.queries(33) >= 1 and stub.queries(1) >= 1, stub.proc.output()
    assert "DNS: U|fallback.test|0 is 198.51.100.2:5060" in smq.log()


def test_dnsmasq_address_refuses_srv_a_still_found(topology, kamailio, sipp, sipmasq, procs,
                                                   tmp_path):
    """A common dnsmasq setup, `address=/domain/IP`, answers the SRV query
    REFUSED (/work/shared/TESTING.md) and the A query with IP: the
    registrar is found by its A record."""
    server = Dnsmasq(procs, topology.wan, tmp_path, DNS_IP, {},
                     extra=["--address=/gw-provider.example/%s" % DNS_IP]).start()
    smq = sipmasq(dns_server=DNS_IP)
    res = register_at(sipp, topology, ALICE, "gw-provider.example")
    assert res.ok, res.describe() + smq.log()[-3000:]
    assert kamailio.active_contacts("alice"), kamailio.location()
    assert "_sip._udp.gw-provider.example" in server.output()
    # c-ares reports a REFUSED answer as "Could not contact DNS servers".
    assert "gw-provider.example|0: SRV query failed (Could not contact DNS servers)" in smq.log()
