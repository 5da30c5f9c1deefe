"""mask_host / masked_host (siproxd's mask feature), end to end.

A phone that registers at sipmasq itself with the gateway's inbound
address as its domain (sip:alice@10.0.0.1) is masqueraded as
alice@voip.example.test when the configuration says
    mask_host   = 10.0.0.1
    masked_host = voip.example.test
A far-end caller reaches it as sip:alice@voip.example.test, and the
phone's own requests show voip.example.test in their Contact. Without the
pair the same call is refused (404): the test is its own negative control.
"""

import pytest

from lib import flows
from lib.flows import ALICE, BOB, DOMAIN, ERIN, MIN_RTP

GW_PRIVATE = "10.0.0.1"
MASKED = "voip.example.test"


def register_at_gateway(sipp, topology):
    return sipp.run(topology.lan, "register", ALICE.ip, ALICE.port, "%s:5060" % GW_PRIVATE,
                    keys={"user": ALICE.user, "domain": GW_PRIVATE, "expires": 300})


def call_masked_aor(sipp, topology):
    """erin calls sip:alice@voip.example.test at sipmasq's public address."""
    return sipp.start(topology.wan, "uac_call", ERIN.ip, ERIN.port,
                      "%s:5060" % flows.GW_PUBLIC,
                      keys={"to": "sip:alice@%s" % MASKED, "from_user": ERIN.user,
                            "domain": DOMAIN},
                      media_port=ERIN.media, duration_ms=flows.CALL_MS, timeout=20)


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
def test_mask_host(topology, kamailio, sipp, sipmasq, counter, masked):
    smq = sipmasq(**({"mask_host": GW_PRIVATE, "masked_host": MASKED} if masked else {}))
    res = register_at_gateway(sipp, topology)
    assert res.ok, res.describe()
    aors = [r["aor"] for r in smq.ctl("registrations")["registrations"]]
    assert aors == ["sip:alice@%s" % (MASKED if masked else GW_PRIVATE)], aors

    at_alice = flows.relay_counter(counter, topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac_res = call_masked_aor(sipp, topology).result()
    if not masked:
        assert flows.received_responses(uac_res, 404, "INVITE"), uac_res.describe()
        assert not flows.received_requests(uas.kill(), "INVITE")
        return
    uas_res = uas.result()
    assert uac_res.ok, uac_res.describe()
    assert uas_res.ok, uas_res.describe()
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:alice@10.0.0.2:5060"), invite.ruri
    assert at_alice.packets() >= MIN_RTP

    # The phone's own call: bob sees the masked host in its Contact.
    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB))
    uac_res, uas_res = flows.finished_ok(uac, uas)
    contact = flows.received_requests(uas_res, "INVITE")[0].all("contact")[0]
    assert "sip:alice@%s:5060;smqid=" % MASKED in contact, contact


def test_mask_host_on_a_forwarded_register(topology, kamailio, sipp, sipmasq):
    """sipmasq as outbound proxy: a REGISTER whose To-host is a mask_host
    reaches the registrar with its Contact masqueraded as masked_host."""
    smq = sipmasq(mask_host=DOMAIN, masked_host=MASKED)
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    contacts = kamailio.active_contacts(ALICE.user)
    assert contacts and all("sip:alice@%s:5060;smqid=" % MASKED in c for c in contacts), \
        kamailio.location()
    aors = [r["aor"] for r in smq.ctl("registrations")["registrations"]]
    assert aors == ["sip:alice@%s" % MASKED], aors
