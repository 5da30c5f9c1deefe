"""Registrar mode: a REGISTER addressed to sipmasq itself is answered by
sipmasq (200 with the bindings), nothing reaches the external registrar,
and the phone is reachable at sipmasq's public address."""

from lib import flows
from lib.flows import ALICE, ERIN

GW_PRIVATE = "10.0.0.1"


def _register_at_gateway(sipp, topology, expires):
    return sipp.run(topology.lan, "register", ALICE.ip, ALICE.port, "%s:5060" % GW_PRIVATE,
                    keys={"user": ALICE.user, "domain": GW_PRIVATE, "expires": expires},
                    timeout=10)


def test_register_at_sipmasq_itself(topology, kamailio, sipp, sipmasq, counter):
    smq = sipmasq()
    res = _register_at_gateway(sipp, topology, 300)
    assert res.ok, res.describe()
    ok = flows.received_responses(res, 200, "REGISTER")
    assert ok, res.describe()
    # 200 from sipmasq lists the phone's own binding with its expiry.
    contacts = ok[0].all("contact")
    assert len(contacts) == 1 and "sip:alice@10.0.0.2:5060" in contacts[0], contacts
    assert "expires=300" in contacts[0] or "expires=299" in contacts[0], contacts

    regs = smq.ctl("registrations")["registrations"]
    assert [r["aor"] for r in regs] == ["sip:alice@10.0.0.1"], regs
    # The external registrar saw nothing.
    assert kamailio.active_contacts("alice") == []

    # A far-end caller reaches the phone at sipmasq's public address.
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, "sip:alice@%s:5060" % flows.GW_PUBLIC)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    invite = flows.received_requests(uas_res, "INVITE")[0]
    assert invite.ruri.startswith("sip:alice@10.0.0.2:5060"), invite.ruri
    flows.assert_relayed(at_alice, at_erin)

    # Unregister: the binding goes, and the public address no longer reaches it.
    res = _register_at_gateway(sipp, topology, 0)
    assert res.ok, res.describe()
    assert smq.ctl("registrations")["registrations"] == []
